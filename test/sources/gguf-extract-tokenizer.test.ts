/**
 * Where extract takes a GGUF source's tokenizer from (src/sources/gguf/source-tokenizer.ts): the original
 * tokenizer.json when one is beside the file, checked against the file's own tokenizer.ggml.* metadata (a
 * difference is a note, the original is used), else the tokenizer rebuilt from that metadata. The GGUF files are
 * written with the real Mistral tokenizer's vocabulary in the form llama.cpp's converter writes
 * (test/helpers/gguf-tokenizer-metadata.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { extract } from '../../src/sources/extract.ts';
import { GGML_TYPE } from '../../src/sources/gguf/dequantize.ts';
import { GGUF_VALUE_TYPE as T } from '../../src/sources/gguf/header.ts';
import { createTokenizer, parseTokenizerJson, type TokenizerJson } from '../../src/tokenize/tokenizer.ts';
import { ggufTokenizerMetadata } from '../helpers/gguf-tokenizer-metadata.ts';
import { writeGguf } from '../helpers/gguf-writer.ts';

const REPO = join(import.meta.dirname, '..', '..');
const MISTRAL = join(REPO, 'node_modules', '@lenml', 'tokenizer-llama2', 'models');
const DIM = 8;
const TEXTS = ['Hello world', ' The year 2024 had 365 days.', 'naïve café — “quotes”', '日本語のテキスト', 'emoji 🙂 and </s> text', ''];

let tmp: string;
let original: TokenizerJson;
let gguf: Uint8Array;
let vocab: number;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gguf-tok-extract-'));
  original = parseTokenizerJson(readFileSync(join(MISTRAL, 'tokenizer.json'), 'utf8'), 'tokenizer.json');
  const tokenizerConfig = JSON.parse(readFileSync(join(MISTRAL, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const meta = ggufTokenizerMetadata(original, { tokenizerConfig });
  vocab = (meta.find((m) => m.key === 'tokenizer.ggml.tokens')!.value as string[]).length;
  const rows = new Float32Array(vocab * DIM).map((_, i) => (i % 7) / 4);
  gguf = writeGguf(
    [
      { key: 'general.architecture', type: T.STRING, value: 'llama' },
      { key: 'general.alignment', type: T.UINT32, value: 32 },
      { key: 'llama.embedding_length', type: T.UINT32, value: DIM },
      ...meta,
    ],
    [{ name: 'token_embd.weight', dims: [DIM, vocab], type: GGML_TYPE.F32, data: new Uint8Array(rows.buffer) }],
  );
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A folder with model.gguf and, when given, a tokenizer.json beside it; extracts it and returns the output folder. */
async function extractWith(tokenizerJson?: unknown) {
  const dir = join(tmp, `m${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.gguf'), gguf);
  if (tokenizerJson) writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  const config = parseConfig({ model: { dim: DIM, n_vocab: vocab, pad_token: '</s>', gguf: 'model.gguf' } }, join(dir, 'cfg.toml'));
  const outDir = join(tmp, `out${n}`);
  const summary = await extract({ config, outDir, quiet: true });
  const written = parseTokenizerJson(readFileSync(join(outDir, 'tokenizer.json'), 'utf8'), 'tokenizer.json');
  return { summary, written };
}

const encodings = (json: TokenizerJson) => {
  const tok = createTokenizer(json);
  return TEXTS.map((t) => tok.encode(t));
};

describe('a GGUF source without a tokenizer.json', () => {
  it('gets the tokenizer rebuilt from its metadata, encoding like the original', async () => {
    const { summary, written } = await extractWith();
    expect(summary.sources[0]).toMatchObject({ rows: vocab, dim: DIM });
    expect(encodings(written)).toEqual(encodings(original));
    expect(summary.notes).toEqual([]);
  });
});

describe('a GGUF source with the original tokenizer.json beside it', () => {
  it('uses the original, with no note when the metadata agrees', async () => {
    const { summary, written } = await extractWith(original);
    expect(written).toEqual(original);
    expect(summary.notes).toEqual([]);
  });

  it('uses the original and notes where the metadata encodes differently', async () => {
    // the same vocabulary without its first merges: ids of words built by those merges differ
    const altered = { ...original, model: { ...(original.model as object), merges: (original.model as { merges: unknown[] }).merges.slice(200) } };
    const { summary, written } = await extractWith(altered);
    expect(written).toEqual(altered);
    expect(summary.notes).toHaveLength(1);
    expect(summary.notes[0]).toMatch(
      /^cfg: using .*tokenizer\.json; the GGUF file's tokenizer metadata encodes " leading space and {2}double {2}spaces" differently \(\[[\d, ]+\] vs \[[\d, ]+\]\)$/,
    );
  });
});
