/**
 * The two O(tokens × dim) loops of a training step, shared by the main thread (through pooling.ts) and the
 * matMul worker (../matmul-worker.ts), so both halves of a batch run the same code. Each works on the sentences
 * [s0, s1) of a batch plan (pooling.ts BatchPlan: offsets, local; the unique tokens' rows in `rows`, row of
 * unique token u = rowIds ? rowIds[u] : u).
 *
 * Each loop has a twin reading f16 rows: the raw bits of the whole matrix as held in memory (row-gatherer.ts,
 * holding = raw), row of unique token u = rowIds[u], each value decoded by the f16 → f32 table where it is used.
 * The decoded value is the f32 the gather would have stored, so the results are bit-identical to the f32 loops on
 * gathered rows, without gathering (writing and re-reading ~54 M decoded values per step at Gemma-2 2B's shape).
 * Twins rather than one loop with a branch: each inner loop stays monomorphic for V8.
 */
import { f16ToF32Table } from '../../safetensors/dtype.ts';

type Ints = ArrayLike<number>;
type Floats = { [i: number]: number; readonly length: number };

/** Sentences [s0, s1) of a batch plan: sentence s's occurrences are `local[offsets[s] .. offsets[s+1])`. */
export interface SentenceRange {
  offsets: Ints;
  local: Ints;
  s0: number;
  s1: number;
}

/** out[s - s0] = Σ_t coef[u_t]·rows[u_t] / n_s (float64 accumulation; a zero row for an empty sentence). */
export function poolSentences<T extends Floats>(
  a: SentenceRange & { rowIds?: Ints | null; rows: ArrayLike<number>; dim: number; coef: ArrayLike<number>; out: T },
): T {
  const { offsets, local, rowIds, rows, dim, coef, s0, s1, out } = a;
  const acc = new Float64Array(dim);
  for (let s = s0; s < s1; s++) {
    acc.fill(0);
    const from = offsets[s]!;
    const b = offsets[s + 1]!;
    for (let i = from; i < b; i++) {
      const u = local[i]!;
      const c = coef[u]!;
      const base = (rowIds ? rowIds[u]! : u) * dim;
      for (let d = 0; d < dim; d++) acc[d]! += c * rows[base + d]!;
    }
    const inv = b > from ? 1 / (b - from) : 0;
    const o = (s - s0) * dim;
    for (let d = 0; d < dim; d++) out[o + d] = acc[d]! * inv;
  }
  return out;
}

/** poolSentences over f16 rows: `bits` the f16 bits of the whole matrix, unique token u's row is `rowIds[u]`. */
export function poolSentencesF16<T extends Floats>(a: SentenceRange & { rowIds: Ints; bits: Uint16Array; dim: number; coef: ArrayLike<number>; out: T }): T {
  const { offsets, local, rowIds, bits, dim, coef, s0, s1, out } = a;
  const table = f16ToF32Table();
  const acc = new Float64Array(dim);
  for (let s = s0; s < s1; s++) {
    acc.fill(0);
    const from = offsets[s]!;
    const b = offsets[s + 1]!;
    for (let i = from; i < b; i++) {
      const u = local[i]!;
      const c = coef[u]!;
      const base = rowIds[u]! * dim;
      for (let d = 0; d < dim; d++) acc[d]! += c * table[bits[base + d]!]!;
    }
    const inv = b > from ? 1 / (b - from) : 0;
    const o = (s - s0) * dim;
    for (let d = 0; d < dim; d++) out[o + d] = acc[d]! * inv;
  }
  return out;
}

/** g[u] += Σ over u's occurrences in sentences [s0, s1) of (gradPooled[s - s0] · rows[u]) / n_s. */
export function tokenDots<T extends Floats>(a: SentenceRange & { rows: ArrayLike<number>; dim: number; gradPooled: ArrayLike<number>; g: T }): T {
  const { offsets, local, rows, dim, gradPooled, s0, s1, g } = a;
  for (let s = s0; s < s1; s++) {
    const from = offsets[s]!;
    const b = offsets[s + 1]!;
    if (b === from) continue;
    const inv = 1 / (b - from);
    const go = (s - s0) * dim;
    for (let i = from; i < b; i++) {
      const base = local[i]! * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += gradPooled[go + d]! * rows[base + d]!;
      g[local[i]!]! += dot * inv;
    }
  }
  return g;
}

/** tokenDots over f16 rows (see poolSentencesF16). */
export function tokenDotsF16<T extends Floats>(a: SentenceRange & { rowIds: Ints; bits: Uint16Array; dim: number; gradPooled: ArrayLike<number>; g: T }): T {
  const { offsets, local, rowIds, bits, dim, gradPooled, s0, s1, g } = a;
  const table = f16ToF32Table();
  for (let s = s0; s < s1; s++) {
    const from = offsets[s]!;
    const b = offsets[s + 1]!;
    if (b === from) continue;
    const inv = 1 / (b - from);
    const go = (s - s0) * dim;
    for (let i = from; i < b; i++) {
      const u = local[i]!;
      const base = rowIds[u]! * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += gradPooled[go + d]! * table[bits[base + d]!]!;
      g[u]! += dot * inv;
    }
  }
  return g;
}

/**
 * A batch's input rows: the gathered f32 rows ([unique tokens, dim], unique token u's row is u), or the f16 bits
 * of the whole [n_vocab, dim] matrix held in memory, read in place (unique token u's row is `uniq[u]`).
 */
export type BatchRows = Float32Array | HeldF16Rows;
export interface HeldF16Rows {
  f16: Uint16Array;
}

export const isHeldF16 = (rows: BatchRows): rows is HeldF16Rows => !(rows instanceof Float32Array);

/** poolSentences or its f16 twin, by the kind of `rows`; `uniq` = the plan's unique token ids. */
export function poolBatch<T extends Floats>(a: SentenceRange & { rows: BatchRows; uniq: Ints; dim: number; coef: ArrayLike<number>; out: T }): T {
  const { rows, uniq, ...rest } = a;
  return isHeldF16(rows) ? poolSentencesF16({ ...rest, rowIds: uniq, bits: rows.f16 }) : poolSentences({ ...rest, rows });
}

/** tokenDots or its f16 twin, by the kind of `rows`. */
export function tokenDotsBatch<T extends Floats>(a: SentenceRange & { rows: BatchRows; uniq: Ints; dim: number; gradPooled: ArrayLike<number>; g: T }): T {
  const { rows, uniq, ...rest } = a;
  return isHeldF16(rows) ? tokenDotsF16({ ...rest, rowIds: uniq, bits: rows.f16 }) : tokenDots({ ...rest, rows });
}
