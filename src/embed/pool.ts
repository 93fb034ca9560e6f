/**
 * Mean pooling of token rows: the inner loop of inference. Tight loops over typed arrays; f16 rows decode
 * through a 65 536-entry table (256 kB, stays in cache). Pure, browser-safe.
 */
import { f16ToF32Table } from '../safetensors/dtype.ts';
import type { TokenMatrix } from './formats.ts';

export interface PoolRules {
  /** Ids that never count (pad, UNK); -1 entries are ignored. */
  skipA: number;
  skipB: number;
  /** Keep at most this many counted tokens (0 = all). */
  maxLength: number;
}

/**
 * The sum is accumulated in float64 and rounded once: long texts keep full float32 precision (model2vec-rs sums
 * in float32 row after row, which drifts by ~1e-6 relative over a few hundred tokens; its fixtures still match
 * to 1e-5).
 *
 * Average the first `d` values of the rows of `ids[0..n)` into `out[offset..offset+d)`; returns how many tokens
 * counted. Ids outside the matrix, pad and UNK are skipped; no counted token gives a zero vector.
 */
export function poolIds(
  m: TokenMatrix,
  ids: Int32Array,
  n: number,
  rules: PoolRules,
  d: number,
  out: Float32Array,
  offset: number,
  acc: Float64Array,
): number {
  acc.fill(0, 0, d);
  const dim = m.dim;
  const { mapping, scale, f32 } = m;
  const f16 = m.f16;
  const tab = f16 ? f16ToF32Table() : undefined;
  const limit = rules.maxLength > 0 ? rules.maxLength : Infinity;
  let count = 0;
  for (let t = 0; t < n && count < limit; t++) {
    const id = ids[t]!;
    if (id < 0 || id >= m.ids || id === rules.skipA || id === rules.skipB) continue;
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
    count++;
  }
  if (count === 0) {
    out.fill(0, offset, offset + d);
    return 0;
  }
  const inv = 1 / count;
  for (let j = 0; j < d; j++) out[offset + j] = acc[j]! * inv;
  return count;
}

/** One row of the matrix (as the model would use it for token `id`), first `d` values. */
export function tokenRow(m: TokenMatrix, id: number, d: number): Float32Array {
  const out = new Float32Array(d);
  const acc = new Float64Array(d);
  poolIds(m, Int32Array.of(id), 1, { skipA: -1, skipB: -1, maxLength: 0 }, d, out, 0, acc);
  return out;
}
