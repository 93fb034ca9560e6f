/**
 * The two O(tokens × dim) loops of a training step, shared by the main thread (through pooling.ts) and the
 * matMul worker (../matmul-worker.ts), so both halves of a batch run the same code. Each works on the sentences
 * [s0, s1) of a batch plan (pooling.ts BatchPlan: offsets, local; the unique tokens' rows in `rows`, row of
 * unique token u = rowIds ? rowIds[u] : u).
 */

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
