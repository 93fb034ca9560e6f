/**
 * Mean pooling of token rows: the inner loop of inference. Tight loops over typed arrays; f16 rows decode
 * through a 65 536-entry table (256 kB, stays in cache). Pure, browser-safe.
 */
import { f16ToF32Table } from '../safetensors/dtype.ts';
import type { TokenMatrix } from './formats.ts';

/**
 * Average the first `d` values of the rows of `ids[0..n)` into `out[offset..offset+d)`; no ids give a zero vector.
 * Every id counts: the caller has kept only the ones that do (`keepPoolingIds`), which also keeps them inside
 * the matrix.
 *
 * The sum is accumulated in float64 and rounded once: long texts keep full float32 precision (model2vec-rs sums
 * in float32 row after row, which drifts by ~1e-6 relative over a few hundred tokens; its fixtures still match
 * to 1e-5).
 */
export function poolIds(m: TokenMatrix, ids: Int32Array, n: number, d: number, out: Float32Array, offset: number, acc: Float64Array): void {
  acc.fill(0, 0, d);
  const dim = m.dim;
  const { mapping, scale, f32 } = m;
  const f16 = m.f16;
  const tab = f16 ? f16ToF32Table() : undefined;
  for (let t = 0; t < n; t++) {
    const id = ids[t]!;
    const base = (mapping ? mapping[id]! : id) * dim;
    const s = scale ? scale[id]! : 1;
    if (f32) {
      if (s === 1) for (let j = 0; j < d; j++) acc[j]! += f32[base + j]!;
      else for (let j = 0; j < d; j++) acc[j]! += f32[base + j]! * s;
    } else if (s === 1) {
      for (let j = 0; j < d; j++) acc[j]! += tab![f16![base + j]!]!;
    } else {
      for (let j = 0; j < d; j++) acc[j]! += tab![f16![base + j]!]! * s;
    }
  }
  if (n === 0) {
    out.fill(0, offset, offset + d);
    return;
  }
  const inv = 1 / n;
  for (let j = 0; j < d; j++) out[offset + j] = acc[j]! * inv;
}

/** One row of the matrix (as the model would use it for token `id`), first `d` values. */
export function tokenRow(m: TokenMatrix, id: number, d: number): Float32Array {
  const out = new Float32Array(d);
  const acc = new Float64Array(d);
  poolIds(m, Int32Array.of(id), 1, d, out, 0, acc);
  return out;
}
