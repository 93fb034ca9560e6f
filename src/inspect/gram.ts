/**
 * The dim × dim Gram matrix XᵀX (float64) and the column sums of a RowMatrix, streamed over row blocks: the
 * matrix is never held whole, only one block of rows (f32 from the reader) plus the Gram itself, 8·dim² bytes
 * (42 MB at 2304 wide, 0.88 GB at 10496). The products go through the WebAssembly SIMD kernel (f32 sums over
 * 128-row blocks added into the f64 total: see wasmGramAccumulator for why that keeps 1e-6) when it loads; the
 * plain-JS f64 loop below is the reference it is tested against and the fallback.
 */
import { wasmGramAccumulator } from '../embed/kernels/index.ts';
import type { RowMatrix } from '../matrix/row-matrix.ts';

export interface GramResult {
  rows: number;
  dim: number;
  /** XᵀX, full symmetric, row-major. */
  gram: Float64Array;
  /** Σ over rows of each column. */
  colSums: Float64Array;
}

/** Rows per block so that one f32 block is about `bytes` (at least 1 row). */
export function blockRowsFor(dim: number, bytes = 8 * 1024 * 1024): number {
  return Math.max(1, Math.floor(bytes / (4 * dim)));
}

/**
 * Accumulate the Gram over rows `[0, m.rows)`. Each block is transposed to column-major f64 so that every
 * upper-triangle entry is one contiguous dot product; the lower triangle is mirrored at the end.
 */
export async function streamGram(m: RowMatrix, opts: { blockRows?: number; onBlock?: (rowsDone: number) => void } = {}): Promise<GramResult> {
  const { rows, dim } = m;
  const block = Math.min(opts.blockRows ?? blockRowsFor(dim), Math.max(1, rows));
  const buf = new Float32Array(block * dim);
  const wasm = wasmGramAccumulator(dim);
  if (wasm) {
    const colSums = new Float64Array(dim);
    for (let start = 0; start < rows; start += block) {
      const count = Math.min(block, rows - start);
      const x = await m.readRows(start, count, buf);
      wasm.add(x, count);
      for (let r = 0; r < count; r++) {
        const row = r * dim;
        for (let j = 0; j < dim; j++) colSums[j] = colSums[j]! + x[row + j]!;
      }
      opts.onBlock?.(start + count);
    }
    return { rows, dim, gram: wasm.gram(), colSums };
  }
  const gram = new Float64Array(dim * dim);
  const colSums = new Float64Array(dim);
  const cols = new Float64Array(block * dim);
  for (let start = 0; start < rows; start += block) {
    const count = Math.min(block, rows - start);
    const x = await m.readRows(start, count, buf);
    for (let r = 0; r < count; r++) {
      const row = r * dim;
      for (let j = 0; j < dim; j++) cols[j * count + r] = x[row + j]!;
    }
    for (let i = 0; i < dim; i++) {
      const ci = i * count;
      let s = 0;
      for (let r = 0; r < count; r++) s += cols[ci + r]!;
      colSums[i] = colSums[i]! + s;
      for (let j = i; j < dim; j++) {
        const cj = j * count;
        let s0 = 0;
        let s1 = 0;
        let r = 0;
        for (; r + 1 < count; r += 2) {
          s0 += cols[ci + r]! * cols[cj + r]!;
          s1 += cols[ci + r + 1]! * cols[cj + r + 1]!;
        }
        if (r < count) s0 += cols[ci + r]! * cols[cj + r]!;
        gram[i * dim + j] = gram[i * dim + j]! + s0 + s1;
      }
    }
    opts.onBlock?.(start + count);
  }
  for (let i = 0; i < dim; i++) for (let j = 0; j < i; j++) gram[i * dim + j] = gram[j * dim + i]!;
  return { rows, dim, gram, colSums };
}

/** The centred Gram (X − 1μᵀ)ᵀ(X − 1μᵀ) = XᵀX − n·μμᵀ, μ the column means. */
export function centredGram(g: GramResult): Float64Array {
  const { dim, rows, gram, colSums } = g;
  const out = new Float64Array(dim * dim);
  const inv = rows > 0 ? 1 / rows : 0;
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < dim; j++) out[i * dim + j] = gram[i * dim + j]! - colSums[i]! * colSums[j]! * inv;
  }
  return out;
}
