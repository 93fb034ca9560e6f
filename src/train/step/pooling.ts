/**
 * Pool-then-project, the JS half (§3 of the training issue). The projection is linear, so
 *   mean_t(P·gelu(w_t)·E_t + b) = P·mean_t(gelu(w_t)·E_t) + b.
 * We pool the gelu(w)-weighted RAW rows of each sentence here (sparse: only the batch's unique tokens'
 * rows exist), hand a [sentences, dim_in] matrix to TF.js for the projection and loss, and get the token-weight
 * gradient back from dL/dpooled without ever building a [batch, tokens, dim] tensor:
 *   dL/dw_u = gelu'(w_u) · Σ_{occurrences of u in sentence s} (1/n_s) · (dL/dpooled_s · E_u).
 * Pure functions over typed arrays; no TF.js, no I/O.
 */
import { gelu, geluGrad } from '../../model/gelu.ts';
import { poolBatch, poolSentences, tokenDotsBatch, type BatchRows } from './pool-kernels.ts';

/** A batch of token-id sequences indexed by its unique tokens. */
export interface BatchPlan {
  /** Sorted unique token ids of the batch. */
  uniq: Int32Array;
  /** Sentence s's token occurrences are `local[offsets[s] .. offsets[s+1])`. */
  offsets: Int32Array;
  /** Index into `uniq` of each token occurrence (duplicates within a sentence count each time). */
  local: Int32Array;
  sentences: number;
}

export function planBatch(seqs: readonly ArrayLike<number>[]): BatchPlan {
  let total = 0;
  for (const s of seqs) total += s.length;
  const all = new Int32Array(total);
  const offsets = new Int32Array(seqs.length + 1);
  let k = 0;
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i]!;
    for (let j = 0; j < s.length; j++) all[k++] = s[j]!;
    offsets[i + 1] = k;
  }
  const uniq = Int32Array.from(new Set(all)).sort();
  const pos = new Map<number, number>();
  for (let u = 0; u < uniq.length; u++) pos.set(uniq[u]!, u);
  const local = new Int32Array(total);
  for (let i = 0; i < total; i++) local[i] = pos.get(all[i]!)!;
  return { uniq, offsets, local, sentences: seqs.length };
}

/** gelu(w) for each unique token (`w` is the full token-weight vector; undefined = no token weights, coefficient 1). */
export function tokenCoefficients(plan: BatchPlan, w: Float32Array | undefined): Float32Array {
  const c = new Float32Array(plan.uniq.length);
  for (let u = 0; u < c.length; u++) c[u] = w ? gelu(w[plan.uniq[u]!]!) : 1;
  return c;
}

/**
 * pooled[s] = Σ_t coef[t]·rows[t] / n_s over sentence s's tokens (a zero row for an empty sentence).
 * `rows` holds the unique tokens' rows, [uniq.length, dim] row-major, or the held f16 matrix (pool-kernels.ts
 * BatchRows); or, with `rowIds`, unique token u's row is `rows` row `rowIds[u]` (e.g. `plan.uniq` to read a full
 * [n_vocab, dim] f32 matrix without gathering it). Accumulates in float64.
 */
export function poolRows(
  plan: BatchPlan,
  a: ({ rows: BatchRows; rowIds?: undefined } | { rows: Float32Array; rowIds: Int32Array }) & { dim: number; coef: Float32Array; out?: Float32Array },
): Float32Array {
  const out = a.out ?? new Float32Array(plan.sentences * a.dim);
  const range = { offsets: plan.offsets, local: plan.local, s0: 0, s1: plan.sentences };
  if (a.rowIds !== undefined) return poolSentences({ ...range, rowIds: a.rowIds, rows: a.rows, dim: a.dim, coef: a.coef, out });
  return poolBatch({ ...range, uniq: plan.uniq, rows: a.rows, dim: a.dim, coef: a.coef, out });
}

/**
 * dL/dw for each unique token, given dL/dpooled ([sentences, dim]) and the token weights of the unique
 * tokens (`wUniq`, raw w, not gelu'd).
 */
export function tokenWeightGrads(plan: BatchPlan, a: { rows: BatchRows; dim: number; wUniq: Float32Array; gradPooled: Float32Array }): Float64Array {
  const range = { offsets: plan.offsets, local: plan.local, s0: 0, s1: plan.sentences, uniq: plan.uniq };
  const g = tokenDotsBatch({ ...range, rows: a.rows, dim: a.dim, gradPooled: a.gradPooled, g: new Float64Array(plan.uniq.length) });
  for (let u = 0; u < g.length; u++) g[u]! *= geluGrad(a.wUniq[u]!);
  return g;
}

/** The unique tokens' weights, gathered from the full vector. */
export function gatherWeights(plan: BatchPlan, w: Float32Array): Float32Array {
  const out = new Float32Array(plan.uniq.length);
  for (let u = 0; u < out.length; u++) out[u] = w[plan.uniq[u]!]!;
  return out;
}

/**
 * dL/dD for each unique token's offset row ([uniq.length, dim]) given dL/dout ([sentences, dim]): the pooled
 * offset of sentence s is mean_t D_t, so each occurrence of u in s receives dL/dout_s / n_s.
 */
export function tokenDeltaGrads(plan: BatchPlan, dim: number, gradOut: Float32Array): Float32Array {
  // float32: a few dozen terms per entry at most, and half the memory traffic of float64 (uniq × dim per step)
  const g = new Float32Array(plan.uniq.length * dim);
  for (let s = 0; s < plan.sentences; s++) {
    const a = plan.offsets[s]!;
    const b = plan.offsets[s + 1]!;
    if (b === a) continue;
    const inv = 1 / (b - a);
    const go = s * dim;
    for (let i = a; i < b; i++) {
      const base = plan.local[i]! * dim;
      for (let d = 0; d < dim; d++) g[base + d]! += gradOut[go + d]! * inv;
    }
  }
  return g;
}
