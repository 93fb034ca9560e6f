/**
 * `[model] pad_token` defaults from a GGUF file's metadata: its padding token when it names one
 * (`tokenizer.ggml.padding_token_id`, what llama.cpp's converter writes from the original tokenizer's pad token),
 * else EOS (as WordLlama's configs pad Llama-2 with "</s>"). extract checks it against the tokenizer and records it
 * in extract.json; train and save read it through `padTokenFor`. Only configs whose every source is GGUF may leave
 * the key out. The files carry the real Llama-2 vocabulary (test/helpers/gguf-llama2.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/schema.ts';
import { padTokenFor, readExtractRecord } from '../../src/layout/extract-record.ts';
import { extractIsCurrent, trainStamp } from '../../src/layout/stage-freshness.ts';
import { extractFactsPath } from '../../src/layout/weights-dir.ts';
import { extract } from '../../src/sources/extract.ts';
import { readGgufHeader } from '../../src/sources/gguf/header.ts';
import { ggufPadToken } from '../../src/sources/gguf/tokenizer.ts';
import { GGUF_VALUE_TYPE as T } from '../../src/sources/gguf/header.ts';
import { LLAMA2_VOCAB, llama2Gguf } from '../helpers/gguf-llama2.ts';
import { testGguf } from '../helpers/gguf-models.ts';
import { memorySource } from '../helpers/gguf-writer.ts';
import { tinyTokenizerJson } from '../helpers/hub-server.ts';

const DIM = 32;
let tmp: string;
let withEos: Uint8Array;
let withPad: Uint8Array;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gguf-pad-'));
  withEos = llama2Gguf({ dim: DIM });
  withPad = llama2Gguf({ dim: DIM, padToken: '<unk>' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** model.gguf in a fresh folder and a config for it (`model` adds or overrides [model] keys). */
function setup(bytes: Uint8Array, model: Record<string, unknown> = {}, besides: Record<string, string> = {}) {
  const dir = join(tmp, `m${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.gguf'), bytes);
  for (const [name, text] of Object.entries(besides)) writeFileSync(join(dir, name), text);
  const config = parseConfig({ model: { gguf: 'model.gguf', dim: DIM, n_vocab: LLAMA2_VOCAB, ...model } }, join(dir, 'cfg.toml'));
  return { config, outDir: join(dir, 'out') };
}

describe('ggufPadToken: the default a GGUF file implies', () => {
  it('is the padding token when the file names one, else EOS', async () => {
    const pad = ggufPadToken((await readGgufHeader(memorySource(withPad))).metadata, 'p.gguf');
    expect(pad).toEqual({ token: '<unk>', from: 'p.gguf: tokenizer.ggml.padding_token_id 0' });
    const eos = ggufPadToken((await readGgufHeader(memorySource(withEos))).metadata, 'e.gguf');
    expect(eos).toEqual({ token: '</s>', from: 'e.gguf: tokenizer.ggml.eos_token_id 2' });
  });

  it("sentencepiece files without an EOS key get llama.cpp's default id 2; byte-level files with neither get none", async () => {
    const tokens = { key: 'tokenizer.ggml.tokens', type: T.ARRAY, itemType: T.STRING, value: ['<unk>', '<s>', '</s>', 'a'] };
    const spm = new Map([
      ['tokenizer.ggml.model', { type: T.STRING, value: 'llama' }],
      [tokens.key, { type: T.ARRAY, itemType: T.STRING, value: tokens.value }],
    ]) as never;
    expect(ggufPadToken(spm, 's.gguf')).toEqual({ token: '</s>', from: "s.gguf: llama.cpp's default EOS id 2" });
    const bytes = testGguf({ type: 'F32', vocab: 8, dim: 4 });
    expect(ggufPadToken((await readGgufHeader(memorySource(bytes))).metadata, 'b.gguf')).toBeUndefined();
  });
});

describe('extract without [model] pad_token', () => {
  it('a file without a PAD id: EOS "</s>" (id 2), checked against the tokenizer and recorded in extract.json', async () => {
    const { config, outDir } = setup(withEos);
    expect(config.pad_token).toBeUndefined();
    const s = await extract({ config, outDir, quiet: true, dtype: 'F32' });
    expect(s.tokenizer?.padId).toBe(2);
    expect(readExtractRecord(outDir)?.pad_token_default).toEqual({ token: '</s>', from: `${join(outDir, '..', 'model.gguf')}: tokenizer.ggml.eos_token_id 2` });
    expect(padTokenFor(config, outDir)).toBe('</s>');
    expect(await extractIsCurrent(config, outDir)).toBe(true);
  });

  it('a file with a PAD id: PAD "<unk>" (id 0)', async () => {
    const { config, outDir } = setup(withPad);
    const s = await extract({ config, outDir, quiet: true, dtype: 'F32' });
    expect(s.tokenizer?.padId).toBe(0);
    expect(padTokenFor(config, outDir)).toBe('<unk>');
  });

  it('an explicit pad_token overrides the default (the default is still recorded for a config without the key)', async () => {
    const { config, outDir } = setup(withPad, { pad_token: '<s>' });
    const s = await extract({ config, outDir, quiet: true, dtype: 'F32' });
    expect(s.tokenizer?.padId).toBe(1);
    expect(padTokenFor(config, outDir)).toBe('<s>');
    expect(readExtractRecord(outDir)?.pad_token_default?.token).toBe('<unk>');
    expect(padTokenFor({ ...config, pad_token: undefined }, outDir)).toBe('<unk>');
  });

  it('an explicit pad_token is still checked against the tokenizer', async () => {
    const { config, outDir } = setup(withPad, { pad_token: '<pad>' });
    await expect(extract({ config, outDir, quiet: true })).rejects.toThrow(
      new ConfigError(
        config.file,
        '[model] pad_token',
        `"<pad>" is not a token of ${join(outDir, '..', 'model.gguf')} (tokenizer.ggml.* metadata, llama/default) (its special tokens: <unk>, <s>, </s>)`,
      ),
    );
  });

  it('a file naming neither PAD nor EOS is one line and no output', async () => {
    const { config, outDir } = setup(testGguf({ type: 'F32', vocab: 300, dim: DIM }), { n_vocab: 300 }, { 'tokenizer.json': tinyTokenizerJson(300) });
    const err = await extract({ config, outDir, quiet: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `${config.file}: [model] pad_token: missing: only a GGUF source's metadata gives a default (its padding token, else EOS), and ${join(outDir, '..')}/tokenizer.json names neither; set a special token of the tokenizer, e.g. "<eos>"`,
    );
    expect(existsSync(join(outDir, 'cfg.safetensors'))).toBe(false);
    expect(existsSync(extractFactsPath(outDir))).toBe(false);
  });
});

describe('padTokenFor and the stages after extract', () => {
  it('without the key and without a recorded default: one line saying to extract or set it; extract is not current', async () => {
    const { config, outDir } = setup(withEos);
    expect(() => padTokenFor(config, outDir)).toThrow(
      new ConfigError(
        config.file,
        '[model] pad_token',
        `not set, and ${extractFactsPath(outDir)} records no default from the GGUF metadata; run: pipeline extract --config cfg (GGUF sources), or set [model] pad_token`,
      ),
    );
    await extract({ config, outDir, quiet: true, dtype: 'F32' });
    const record = JSON.parse(readFileSync(extractFactsPath(outDir), 'utf8')) as Record<string, unknown>;
    delete record.pad_token_default;
    writeFileSync(extractFactsPath(outDir), JSON.stringify(record));
    expect(await extractIsCurrent(config, outDir)).toBe(false);
  });

  it('a change of the recorded default makes training stale', async () => {
    const { config, outDir } = setup(withEos);
    await extract({ config, outDir, quiet: true, dtype: 'F32' });
    const before = trainStamp(config, outDir, [], {});
    const record = JSON.parse(readFileSync(extractFactsPath(outDir), 'utf8')) as { pad_token_default: { token: string } };
    record.pad_token_default.token = '<unk>';
    writeFileSync(extractFactsPath(outDir), JSON.stringify(record));
    expect(trainStamp(config, outDir, [], {})).not.toBe(before);
    expect(trainStamp({ ...config, pad_token: '</s>' }, outDir, [], {})).toBe(before);
  });
});

describe('config load', () => {
  const file = '/x/cfg.toml';
  it('a safetensors config without pad_token fails at load with the same line as before', () => {
    expect(() => parseConfig({ model: { hf_model_id: 'org/m', dim: 8, n_vocab: 10 } }, file)).toThrow(
      new ConfigError(file, '[model] pad_token', 'missing (a special token of the tokenizer, e.g. "<eos>")'),
    );
  });
  it('so does a config mixing a GGUF source with a safetensors one', () => {
    const sources = [
      { gguf: 'a.gguf', dim: 8 },
      { hf_model_id: 'org/b', dim: 8 },
    ];
    expect(() => parseConfig({ model: { n_vocab: 10 }, sources }, file)).toThrow(/\[model\] pad_token: missing \(a special token/);
  });
  it('GGUF-only configs (local or hub) load without it', () => {
    expect(parseConfig({ model: { gguf: 'a.gguf', dim: 8, n_vocab: 10 } }, file).pad_token).toBeUndefined();
    expect(parseConfig({ model: { hf_model_id: 'org/m-GGUF', gguf_file: 'm.gguf', dim: 8, n_vocab: 10 } }, file).pad_token).toBeUndefined();
  });
});
