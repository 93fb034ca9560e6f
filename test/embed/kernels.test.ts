/**
 * The WebAssembly SIMD kernels against their JS references on seeded random data: cosine matrices within 1e-6,
 * Hamming similarity bit for bit, over shapes that exercise every remainder path of the kernels (rows not a
 * multiple of the 4 × 2 block, odd code word counts, padding bits, more than one block per call), and the
 * committed wasm.generated.ts and pool-wasm.generated.ts rebuilt from kernels.as and pool.as byte for byte.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { binarize, hammingSimilarity, hammingSimilarityJs } from '../../src/embed/binary.ts';
import { assign, assignJs, kmeans } from '../../src/embed/kmeans.ts';
import { disableKernels, kernelsAvailable } from '../../src/embed/kernels/index.ts';
import { cosineMatrix, cosineMatrixJs } from '../../src/embed/similarity.ts';
import { deduplicateRows } from '../../src/embed/dedupe.ts';
import type { Embeddings } from '../../src/embed/types.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { KERNELS_MODULE, kernelsModuleText, POOL_MODULE, poolModuleText, WORKER_MODULE, workerModuleText } from '../../scripts/build-kernels.ts';

function randomEmbeddings(rows: number, dim: number, seed: number): Embeddings {
  const r = mulberry32(seed);
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, rows, dim };
}

function maxAbsDiff(x: Float32Array, y: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

afterEach(() => disableKernels(false));

describe('WebAssembly kernels', () => {
  it('load in Node (WebAssembly SIMD is there)', () => {
    expect(kernelsAvailable()).toBe(true);
    disableKernels(true);
    expect(kernelsAvailable()).toBe(false);
  });

  it('cosine matrix is within 1e-6 of the JS reference, zero rows give 0', () => {
    // [a rows, b rows, dim]: remainders of the 4-row and 2-column blocks, tiny dims, the real 256.
    const shapes: [number, number, number][] = [
      [1, 1, 4],
      [3, 5, 8],
      [4, 2, 4],
      [7, 9, 12],
      [37, 41, 256],
      [64, 63, 64],
    ];
    for (const [na, nb, dim] of shapes) {
      const a = randomEmbeddings(na, dim, na * 31 + dim);
      const b = randomEmbeddings(nb, dim, nb * 17 + dim);
      a.data.fill(0, 0, dim); // row 0 of a is zero
      const ref = cosineMatrixJs(a, b);
      const got = cosineMatrix(a, b);
      expect([got.rows, got.cols]).toEqual([na, nb]);
      expect(maxAbsDiff(got.data, ref.data)).toBeLessThan(1e-6);
      expect(Array.from(got.data.subarray(0, nb))).toEqual(new Array<number>(nb).fill(0));
      // The kernel computes in f32 lanes: it is not the JS path in disguise (equal would hide a fallback).
      if (dim === 256) expect(maxAbsDiff(got.data, ref.data)).toBeGreaterThan(0);
    }
  });

  it('scales in f64 like the reference: exact dot products give the reference cosines exactly', () => {
    const a = { data: new Float32Array([1, 0, 0, 0, 1, 1, 0, 0, 3, 4, 0, 0]), rows: 3, dim: 4 };
    expect(cosineMatrix(a, a).data).toEqual(cosineMatrixJs(a, a).data);
    expect(cosineMatrix(a, a).data[4]).toBe(1);
  });

  it('cosine matrix over more than one kernel call per matrix (16 MB output blocks)', () => {
    const a = randomEmbeddings(4203, 4, 5);
    const b = randomEmbeddings(1001, 4, 6);
    expect(maxAbsDiff(cosineMatrix(a, b).data, cosineMatrixJs(a, b).data)).toBeLessThan(1e-6);
  });

  it('a dim that is not a multiple of 4 takes the JS path, exactly', () => {
    const a = randomEmbeddings(9, 6, 1);
    const b = randomEmbeddings(5, 6, 2);
    expect(cosineMatrix(a, b).data).toEqual(cosineMatrixJs(a, b).data);
  });

  it('Hamming similarity is bit-identical to the JS reference', () => {
    // bits: 256 (8 words), 96 (3 words: an odd last word), 33 (2 words, 31 padding bits), 32 (1 word).
    for (const [na, nb, bits] of [
      [37, 41, 256],
      [9, 7, 96],
      [5, 11, 33],
      [4, 4, 32],
    ] as const) {
      const a = binarize(randomEmbeddings(na, bits, bits + 1));
      const b = binarize(randomEmbeddings(nb, bits, bits + 2));
      const got = hammingSimilarity(a, b);
      const ref = hammingSimilarityJs(a, b);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(ref.data.buffer))).toBe(true);
      expect([got.rows, got.cols]).toEqual([na, nb]);
    }
    const self = binarize(randomEmbeddings(3, 256, 9));
    expect(Array.from(hammingSimilarity(self, self).data.filter((_, i) => i % 4 === 0))).toEqual([1, 1, 1]);
  });

  it('Hamming similarity over more than one kernel call per matrix', () => {
    const a = binarize(randomEmbeddings(4203, 64, 7));
    const b = binarize(randomEmbeddings(1001, 64, 8));
    const got = hammingSimilarity(a, b).data;
    expect(Buffer.from(got.buffer).equals(Buffer.from(hammingSimilarityJs(a, b).data.buffer))).toBe(true);
  });

  it('cosine matrix streamed in column blocks of 2048 (several tiles per row chunk) is within 1e-6', () => {
    const a = randomEmbeddings(37, 8, 11);
    const b = randomEmbeddings(4500, 8, 12);
    expect(maxAbsDiff(cosineMatrix(a, b).data, cosineMatrixJs(a, b).data)).toBeLessThan(1e-6);
  });

  it('deduplicate over the kernel tiles keeps what the JS block path keeps, across block sizes', () => {
    // 2500 rows around 60 centres: many pairs above 0.92, across blocks and inside the diagonal ones.
    const centres = randomEmbeddings(60, 64, 13);
    const r = mulberry32(14);
    const n = 2500;
    const data = new Float32Array(n * 64);
    for (let i = 0; i < n; i++) {
      const c = Math.floor(r() * 60);
      for (let j = 0; j < 64; j++) data[i * 64 + j] = centres.data[c * 64 + j]! + (r() - 0.5) * 0.6;
    }
    // Row 2050 repeats row 2000, a direction of its own: a duplicate only the same diagonal block can find.
    for (let j = 0; j < 64; j++) data[2000 * 64 + j] = j % 2 ? 10 : -10;
    data.copyWithin(2050 * 64, 2000 * 64, 2001 * 64);
    const x = { data, rows: n, dim: 64 };
    disableKernels(true);
    const ref = deduplicateRows(x, 0.92, 512);
    disableKernels(false);
    expect(ref.kept.length).toBeGreaterThan(60);
    expect(ref.duplicates.length).toBeGreaterThan(500);
    expect([ref.kept.includes(2000), ref.duplicates.includes(2050)]).toEqual([true, true]);
    // 2100: a column block wider than the 16 MB tile budget allows rows for (the diagonal must stay in one tile).
    for (const block of [7, 100, 1024, 2100, 4096]) expect(deduplicateRows(x, 0.92, block)).toEqual(ref);
  });

  it('disabled, cosineMatrix is the JS reference exactly', () => {
    const a = randomEmbeddings(7, 256, 3);
    disableKernels(true);
    expect(cosineMatrix(a, a).data).toEqual(cosineMatrixJs(a, a).data);
  });

  it('wasm.generated.ts is what scripts/build-kernels.ts builds from kernels.as now', async () => {
    expect(await kernelsModuleText(), 'stale: run `npx tsx scripts/build-kernels.ts`').toBe(readFileSync(KERNELS_MODULE, 'utf8'));
  });

  it('pool-wasm.generated.ts is pool.as compiled now', async () => {
    expect(await poolModuleText(), 'stale: run `npx tsx scripts/build-kernels.ts`').toBe(readFileSync(POOL_MODULE, 'utf8'));
  });

  it('worker.generated.ts is the bundle of worker-entry.ts and what it imports now', async () => {
    expect(await workerModuleText(), 'stale: run `npx tsx scripts/build-kernels.ts`').toBe(readFileSync(WORKER_MODULE, 'utf8'));
  });
});

describe('k-means assignment kernel', () => {
  it('gives the JS reference labels and inertia within 1e-6 (relative), centers in odd and even counts', () => {
    for (const [n, k, dim] of [
      [500, 20, 256],
      [97, 7, 8],
      [10, 1, 4],
    ] as const) {
      const x = randomEmbeddings(n, dim, n + k);
      const centers = randomEmbeddings(k, dim, k + 3).data;
      const want = new Int32Array(n);
      const got = new Int32Array(n);
      const refInertia = assignJs(x, centers, k, want);
      const inertia = assign(x, centers, k, got);
      expect(Array.from(got)).toEqual(Array.from(want));
      expect(Math.abs(inertia - refInertia) / refInertia).toBeLessThan(1e-6);
      if (dim === 256) expect(inertia).not.toBe(refInertia); // f32 lanes: proves the kernel ran
    }
  });

  it('ties go to the lower center, as in the JS reference', () => {
    const x = { data: new Float32Array([0, 0, 0, 0]), rows: 1, dim: 4 };
    const centers = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    const labels = new Int32Array(1);
    expect(assign(x, centers, 3, labels)).toBe(1);
    expect(labels[0]).toBe(0);
  });

  it('kmeans with the kernel finds the JS reference clustering', () => {
    const x = randomEmbeddings(400, 16, 11);
    const fast = kmeans(x, 6, { seed: 3, nInit: 2 });
    disableKernels(true);
    const ref = kmeans(x, 6, { seed: 3, nInit: 2 });
    expect(fast.labels).toEqual(ref.labels);
    expect(Math.abs(fast.inertia - ref.inertia) / ref.inertia).toBeLessThan(1e-6);
  });
});
