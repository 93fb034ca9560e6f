import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { formatSimilarityTable, stage } from '../../pipelines/run.ts';
import { extractIsCurrent } from '../../src/layout/stage-freshness.ts';
import { loadConfig } from '../../src/config/load.ts';
import { extract } from '../../src/sources/extract.ts';
import { testGguf } from '../helpers/gguf-models.ts';
import { llama2Gguf } from '../helpers/gguf-llama2.ts';

const LLAMA2 = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');
let root: string;
let toml: string;
let out: string;
let dataFile: string;

const pairs = (n: number, salt: string) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ anchor: `sentence ${i} about topic ${i % 7} ${salt}`, positive: `a text on topic ${i % 7} number ${i}` }),
  ).join('\n') + '\n';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'run-test-'));
  mkdirSync(join(root, 'src'));
  let s = 3;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const E = new Float32Array(32000 * 16).map(() => rnd());
  await writeSafetensors(join(root, 'src', 'tiny.safetensors'), [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [32000, 16], data: E }]);
  copyFileSync(LLAMA2, join(root, 'src', 'tokenizer.json'));
  dataFile = join(root, 'pairs.jsonl');
  writeFileSync(dataFile, pairs(48, 'a'));
  toml = join(root, 'tinyrun.toml');
  writeFileSync(
    toml,
    [
      '[model]',
      'path = "src/tiny.safetensors"',
      'dim = 16',
      'n_vocab = 32000',
      'pad_token = "<unk>"',
      '[tokenizer]',
      'max_length = 16',
      '[training]',
      'batch_size = 8',
      'eval_steps = 0',
      '[matryoshka]',
      'dims = [8, 4]',
    ].join('\n'),
  );
  out = join(root, 'weights');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Run the stage with --json and return its parsed summary. */
async function run(...extra: string[]) {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  try {
    const code = await stage.run(['--config', toml, '--out-dir', out, '--data', dataFile, '--quiet', '--json', ...extra]);
    expect(code).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return JSON.parse(chunks.join('')) as {
    stages: { stage: string; ran: boolean }[];
    files: string[];
    similarity: { dim: number; kind: string; table: number[][] };
  };
}

const ran = (r: { stages: { stage: string; ran: boolean }[] }) => Object.fromEntries(r.stages.map((s) => [s.stage, s.ran]));

describe('pipeline run', () => {
  it('runs every stage, then skips the current ones, and re-runs only what changed', async () => {
    const first = await run();
    expect(ran(first)).toEqual({ extract: true, train: true, save: true });
    expect(first.files.map((f) => f.replace(out + '/', ''))).toEqual(['tinyrun_8.safetensors', 'tinyrun_4.safetensors', 'config.json', 'README.md']);
    expect(first.similarity.dim).toBe(8);
    expect(first.similarity.table).toHaveLength(5);
    first.similarity.table.forEach((row, i) => expect(row[i]).toBeCloseTo(1, 5));
    const ckpt = join(out, 'checkpoints', 'best', 'model.safetensors');
    const ckptTime = statSync(ckpt).mtimeMs;

    const second = await run();
    expect(ran(second)).toEqual({ extract: false, train: false, save: false });
    expect(statSync(ckpt).mtimeMs).toBe(ckptTime);
    expect(second.similarity).toEqual(first.similarity);

    // Only save depends on --dims.
    const third = await run('--dims', '4');
    expect(ran(third)).toEqual({ extract: false, train: false, save: true });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).dims).toEqual([4]);
    expect(existsSync(join(out, 'tinyrun_8.safetensors'))).toBe(false);
    expect(existsSync(join(out, 'tinyrun.safetensors'))).toBe(true);

    // New data: train and save again, extract stays.
    writeFileSync(dataFile, pairs(40, 'b'));
    const fourth = await run('--dims', '4');
    expect(ran(fourth)).toEqual({ extract: false, train: true, save: true });
    expect(statSync(ckpt).mtimeMs).not.toBe(ckptTime);

    // A changed train flag retrains; --force redoes everything.
    expect(ran(await run('--dims', '4', '--lr', '0.02'))).toEqual({ extract: false, train: true, save: true });
    expect(ran(await run('--dims', '4', '--lr', '0.02', '--force'))).toEqual({ extract: true, train: true, save: true });

    // A binarized model: saved as such, and the table uses hamming similarity.
    const bin = await run('--dims', '4', '--binarize', 'ste');
    expect(ran(bin)).toEqual({ extract: false, train: true, save: true });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ binarized: true, binarize: 'ste' });
    expect(bin.similarity.kind).toBe('hamming');
  }, 120_000);

  it('concatenates several sources on the way, and skips concat when current', async () => {
    const two = join(root, 'two.toml');
    let s = 11;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    mkdirSync(join(root, 'src2'), { recursive: true });
    await writeSafetensors(join(root, 'src2', 'b.safetensors'), [
      { name: 'embed_tokens.weight', dtype: 'F32', shape: [32000, 8], data: new Float32Array(32000 * 8).map(() => rnd()) },
    ]);
    copyFileSync(LLAMA2, join(root, 'src2', 'tokenizer.json'));
    writeFileSync(
      two,
      [
        'name = "two"',
        '[model]',
        'n_vocab = 32000',
        'pad_token = "<unk>"',
        '[[sources]]',
        'name = "a"',
        'path = "src/tiny.safetensors"',
        'dim = 16',
        '[[sources]]',
        'name = "b"',
        'path = "src2/b.safetensors"',
        'dim = 8',
        'scale_mode = "mean_norm"',
        '[training]',
        'batch_size = 8',
        'eval_steps = 0',
        '[matryoshka]',
        'dims = [8]',
      ].join('\n'),
    );
    const twoOut = join(root, 'weights-two');
    const go = async () => {
      const chunks: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (chunks.push(String(c)), true));
      try {
        expect(await stage.run(['--config', two, '--out-dir', twoOut, '--data', dataFile, '--quiet', '--json'])).toBe(0);
      } finally {
        spy.mockRestore();
      }
      return JSON.parse(chunks.join('')) as { stages: { stage: string; ran: boolean }[] };
    };
    expect(ran(await go())).toEqual({ extract: true, concat: true, train: true, save: true });
    const d = JSON.parse(readFileSync(join(twoOut, 'concat.json'), 'utf8'));
    expect(d).toMatchObject({ rows: 32000, dim: 24 });
    expect(d.sources.map((x: { scale_mode: string }) => x.scale_mode)).toEqual(['none', 'mean_norm']);
    expect(JSON.parse(readFileSync(join(twoOut, 'config.json'), 'utf8')).source).toMatchObject({ dim_in: 24, concat: 'concat.json' });
    expect(ran(await go())).toEqual({ extract: false, concat: false, train: false, save: false });
  }, 120_000);

  it('runs extract → train → save on a GGUF source: Q8_0 rows dequantized, the real Llama-2 tokenizer beside the file', async () => {
    mkdirSync(join(root, 'gguf'), { recursive: true });
    // 32000 rows (the tokenizer's vocabulary) × 32 columns, one Q8_0 block per row (test/helpers/gguf-models.ts).
    writeFileSync(join(root, 'gguf', 'model.gguf'), testGguf({ type: 'Q8_0', vocab: 32000, dim: 32 }));
    copyFileSync(LLAMA2, join(root, 'gguf', 'tokenizer.json'));
    const ggufToml = join(root, 'ggufrun.toml');
    writeFileSync(
      ggufToml,
      [
        '[model]',
        'gguf = "gguf/model.gguf"',
        'dim = 32',
        'n_vocab = 32000',
        'pad_token = "<unk>"',
        '[tokenizer]',
        'max_length = 16',
        '[training]',
        'batch_size = 8',
        'eval_steps = 0',
        '[matryoshka]',
        'dims = [8, 4]',
      ].join('\n'),
    );
    const ggufOut = join(root, 'weights-gguf');
    const go = async () => {
      const chunks: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (chunks.push(String(c)), true));
      try {
        expect(await stage.run(['--config', ggufToml, '--out-dir', ggufOut, '--data', dataFile, '--steps', '6', '--quiet', '--json'])).toBe(0);
      } finally {
        spy.mockRestore();
      }
      return JSON.parse(chunks.join('')) as { stages: { stage: string; ran: boolean }[]; similarity: { dim: number; table: number[][] } };
    };
    const first = await go();
    expect(ran(first)).toEqual({ extract: true, train: true, save: true });
    expect(first.similarity.dim).toBe(8);
    first.similarity.table.forEach((row, i) => expect(row[i]).toBeCloseTo(1, 5));
    const facts = JSON.parse(readFileSync(join(ggufOut, 'extract.json'), 'utf8')).sources[0];
    expect(facts).toMatchObject({ source_format: 'gguf', source_dtype: 'Q8_0', dequantized: true, rows: 32000, dim: 32 });
    expect(readFileSync(join(ggufOut, 'README.md'), 'utf8')).toContain(`${join(root, 'gguf', 'model.gguf')} (32 columns) (GGUF Q8_0 rows, dequantized)`);
    expect(ran(await go())).toEqual({ extract: false, train: false, save: false });
    // The GGUF source goes through the same freshness test: another file is not current.
    const config = loadConfig(ggufToml);
    expect(await extractIsCurrent(config, ggufOut)).toBe(true);
    expect(await extractIsCurrent({ ...config, sources: [{ ...config.sources[0]!, gguf: join(root, 'other.gguf') }] }, ggufOut)).toBe(false);
  }, 180_000);

  it("runs a GGUF config without pad_token end to end: the saved config.json has the metadata's pad token and id", async () => {
    // The real Llama-2 vocabulary as GGUF metadata, no tokenizer.json beside it (rebuilt from the metadata); the
    // file names no PAD id, so the default is EOS "</s>" (id 2).
    mkdirSync(join(root, 'gguf-nopad'), { recursive: true });
    writeFileSync(join(root, 'gguf-nopad', 'model.gguf'), llama2Gguf({ dim: 32 }));
    const nopadToml = join(root, 'ggufnopad.toml');
    const lines = ['[model]', 'gguf = "gguf-nopad/model.gguf"', 'dim = 32', 'n_vocab = 32000', '[tokenizer]', 'max_length = 16', '[training]'];
    writeFileSync(nopadToml, [...lines, 'batch_size = 8', 'eval_steps = 0', '[matryoshka]', 'dims = [8, 4]'].join('\n'));
    const nopadOut = join(root, 'weights-gguf-nopad');
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await stage.run(['--config', nopadToml, '--out-dir', nopadOut, '--data', dataFile, '--steps', '4', '--quiet', '--json'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(JSON.parse(readFileSync(join(nopadOut, 'config.json'), 'utf8'))).toMatchObject({ pad_token: '</s>', pad_token_id: 2 });
    expect(readFileSync(join(nopadOut, 'README.md'), 'utf8')).toContain('pad token `</s>` ignored');
  }, 180_000);

  it('recognizes a current extract of the npm-shipped use_lite source (npm: provenance)', async () => {
    const config = loadConfig('use_lite');
    const dir = join(root, 'ul');
    expect(await extractIsCurrent(config, dir)).toBe(false);
    await extract({ config, outDir: dir, quiet: true });
    expect(await extractIsCurrent(config, dir)).toBe(true);
    expect(await extractIsCurrent({ ...config, n_vocab: 8000 }, dir)).toBe(false);
    expect(await extractIsCurrent({ ...config, sources: [{ ...config.sources[0]!, tfjs_model: '/elsewhere/model.json' }] }, dir)).toBe(false);
  });

  it('rejects bad flags with one-line errors', async () => {
    await expect(stage.run(['--out-dir', out])).rejects.toThrow(/run: --config NAME is required/);
    await expect(stage.run(['--config', toml, '--binarize', 'x'])).rejects.toThrow(/--binarize expects none, ste, tanh or reste/);
    await expect(stage.run(['--config', toml, '--examples', 'only one'])).rejects.toThrow(/--examples needs at least two sentences/);
    await expect(stage.run(['--config', toml, '--bogus'])).rejects.toThrow(/run: Unknown option '--bogus'/);
  });

  it('formats the similarity table', () => {
    expect(
      formatSimilarityTable(
        ['a b', 'c'],
        [
          [1, 0.5],
          [0.5, 1],
        ],
        64,
      ).split('\n'),
    ).toEqual(['cosine similarity (dim 64):', '            [1]    [2]', '[1]  a b  1.000  0.500', '[2]  c    0.500  1.000']);
  });
});
