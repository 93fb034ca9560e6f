/** Dense similarity math over row-major Float32Array matrices. Pure, browser-safe. */
import { UserError } from '../util/errors.ts';
import type { Embeddings, SimilarityMatrix } from './types.ts';
import { wasmCosineInto } from './kernels/index.ts';

/** L2-normalise every row in place (float64 norm); zero rows stay zero (never NaN). */
export function normalizeRows(e: Embeddings): Embeddings {
  const { data, rows, dim } = e;
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[o + j]! * data[o + j]!;
    if (s > 0) {
      const norm = Math.sqrt(s);
      for (let j = 0; j < dim; j++) data[o + j] = data[o + j]! / norm;
    }
  }
  return e;
}

/** Cosine similarity of two vectors (0 when either is zero, like WordLlama's zero-norm guard). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new UserError(`cosine: vectors have different lengths (${a.length} vs ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

/** Row `i` of a matrix as a subarray view (no copy). */
export function row(e: Embeddings, i: number): Float32Array {
  if (i < 0 || i >= e.rows) throw new UserError(`row ${i} is outside 0..${e.rows - 1}`);
  return e.data.subarray(i * e.dim, (i + 1) * e.dim);
}

/** 1 / ‖row‖ for every row (float64), 0 for a zero row: the scaling every cosine path applies. */
export function inverseNorms(e: Embeddings): Float64Array {
  const inv = new Float64Array(e.rows);
  for (let r = 0; r < e.rows; r++) {
    let s = 0;
    const o = r * e.dim;
    for (let j = 0; j < e.dim; j++) s += e.data[o + j]! * e.data[o + j]!;
    inv[r] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  return inv;
}

/**
 * All-pairs cosine similarity `a.rows × b.rows` (inputs need not be normalised): the WebAssembly SIMD kernel
 * when it can run, else the JS reference.
 */
export function cosineMatrix(a: Embeddings, b: Embeddings): SimilarityMatrix {
  const out = new Float32Array(a.rows * b.rows);
  cosineRowsInto(a, b, out, 0);
  return { data: out, rows: a.rows, cols: b.rows };
}

/**
 * `cosineMatrix(a, b)` written into out[offset …] (row-major, b.rows per row): what a worker thread does for its
 * rows of a into a shared output, identical to the whole matrix's rows.
 */
export function cosineRowsInto(a: Embeddings, b: Embeddings, out: Float32Array, offset: number): void {
  if (a.dim !== b.dim) throw new UserError(`cosineMatrix: dims differ (${a.dim} vs ${b.dim})`);
  const ia = inverseNorms(a);
  const ib = inverseNorms(b);
  if (!wasmCosineInto(a, b, ia, ib, out, offset)) cosineReferenceInto(a, b, ia, ib, out, offset);
}

/** The JS reference of `cosineMatrix` (float64 dot products), which the kernel is tested against. */
export function cosineMatrixJs(a: Embeddings, b: Embeddings): SimilarityMatrix {
  if (a.dim !== b.dim) throw new UserError(`cosineMatrix: dims differ (${a.dim} vs ${b.dim})`);
  const out = new Float32Array(a.rows * b.rows);
  cosineReferenceInto(a, b, inverseNorms(a), inverseNorms(b), out, 0);
  return { data: out, rows: a.rows, cols: b.rows };
}

function cosineReferenceInto(a: Embeddings, b: Embeddings, ia: Float64Array, ib: Float64Array, out: Float32Array, offset: number): void {
  const dim = a.dim;
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < a.rows; i++) {
    const oa = i * dim;
    const sa = ia[i]!;
    const o = offset + i * b.rows;
    for (let k = 0; k < b.rows; k++) {
      const ob = k * dim;
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += ad[oa + j]! * bd[ob + j]!;
      out[o + k] = dot * sa * ib[k]!;
    }
  }
}
