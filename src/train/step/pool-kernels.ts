/**
 * The two O(tokens × dim) loops of a training step, shared by the main thread (through pooling.ts) and the
 * matMul worker (../matmul-worker.ts), so both halves of a batch run the same code. Each works on the sentences
 * [s0, s1) of a batch plan (pooling.ts BatchPlan: offsets, local; the unique tokens' rows in `rows`, row of
 * unique token u = rowIds ? rowIds[u] : u).
 */

type Ints = ArrayLike<number>;
type Floats = { [i: number]: number; readonly length: number };

/** out[s - s0] = Σ_t coef[u_t]·rows[u_t] / n_s (float64 accumulation; a zero row for an empty sentence). */
export function poolSentences<T extends Floats>(
  offsets: Ints,
  local: Ints,
  rowIds: Ints | null | undefined,
  rows: ArrayLike<number>,
  dim: number,
  coef: ArrayLike<number>,
  s0: number,
  s1: number,
  out: T,
): T {
  const acc = new Float64Array(dim);
  for (let s = s0; s < s1; s++) {
    acc.fill(0);
    const a = offsets[s]!;
    const b = offsets[s + 1]!;
    for (let i = a; i < b; i++) {
      const u = local[i]!;
      const c = coef[u]!;
      const base = (rowIds ? rowIds[u]! : u) * dim;
      for (let d = 0; d < dim; d++) acc[d]! += c * rows[base + d]!;
    }
    const inv = b > a ? 1 / (b - a) : 0;
    const o = (s - s0) * dim;
    for (let d = 0; d < dim; d++) out[o + d] = acc[d]! * inv;
  }
  return out;
}

/** g[u] += Σ over u's occurrences in sentences [s0, s1) of (gradPooled[s - s0] · rows[u]) / n_s. */
export function tokenDots<T extends Floats>(
  offsets: Ints,
  local: Ints,
  rows: ArrayLike<number>,
  dim: number,
  gradPooled: ArrayLike<number>,
  s0: number,
  s1: number,
  g: T,
): T {
  for (let s = s0; s < s1; s++) {
    const a = offsets[s]!;
    const b = offsets[s + 1]!;
    if (b === a) continue;
    const inv = 1 / (b - a);
    const go = (s - s0) * dim;
    for (let i = a; i < b; i++) {
      const base = local[i]! * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += gradPooled[go + d]! * rows[base + d]!;
      g[local[i]!]! += dot * inv;
    }
  }
  return g;
}
