/**
 * The trained model's parameters (WordLlama's WeightedProjector + AvgPool): token weights w [n_vocab],
 * projection kernel W [dim_in, dim_out] (x·W layout) and bias b [dim_out]; a sentence vector is
 *   mean_t(gelu(w_t)·E_t)·W + b, truncated to a Matryoshka dim, optionally L2-normalised.
 * `pooledOutput` computes exactly that in plain JS (float64 accumulation) for any token-id lists, so the save
 * stage and the embedding library can check their output against the trained model.
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { type Rng } from '../util/random.ts';
import { gelu } from './gelu.ts';
import { planBatch, poolRows, tokenCoefficients, type BatchPlan } from './pooling.ts';
import { createRowGatherer } from './gather.ts';
import { rowsTimesMatrix } from './affine.ts';
import { applyWhitening } from './whiten.ts';

export interface ModelParams {
  dimIn: number;
  dimOut: number;
  nVocab: number;
  /** Per-token weights before gelu; undefined when the config trains without token weights. */
  tokenWeights?: Float32Array;
  /** [dimIn, dimOut] row-major. */
  kernel: Float32Array;
  /** [dimOut]. */
  bias: Float32Array;
  /** Per-token offsets of the output rows, [nVocab, dimOut] row-major (`token_delta`); undefined = none. */
  tokenDelta?: Float32Array;
  /** Per output dim d, the soft-whitening transform T_d [d, d] applied to the first d columns (whiten.ts). */
  whiten?: Record<number, Float32Array>;
}

/**
 * Fresh parameters: w = 1 (stopwords: `stopwordWeight`), W and b uniform in ±1/√dim_in (nn.Linear's
 * default init), drawn from `rng`.
 */
export function initParams(
  nVocab: number,
  dimIn: number,
  dimOut: number,
  rng: Rng,
  opts: { tokenWeights: boolean; stopwordIds?: readonly number[]; stopwordWeight?: number; tokenDelta?: boolean },
): ModelParams {
  const bound = 1 / Math.sqrt(dimIn);
  const kernel = new Float32Array(dimIn * dimOut);
  for (let i = 0; i < kernel.length; i++) kernel[i] = (rng.next() * 2 - 1) * bound;
  const bias = new Float32Array(dimOut);
  for (let i = 0; i < dimOut; i++) bias[i] = (rng.next() * 2 - 1) * bound;
  let tokenWeights: Float32Array | undefined;
  if (opts.tokenWeights) {
    tokenWeights = new Float32Array(nVocab).fill(1);
    for (const id of opts.stopwordIds ?? []) tokenWeights[id] = opts.stopwordWeight ?? 0.1;
  }
  // Offsets start at zero: the untrained model is WordLlama's.
  const tokenDelta = opts.tokenDelta ? new Float32Array(nVocab * dimOut) : undefined;
  return { dimIn, dimOut, nVocab, tokenWeights, kernel, bias, tokenDelta };
}

/** The w ≥ 0 with gelu(w) = g (g in [0, gelu(3)]), by bisection: gelu is increasing on w ≥ 0. */
export function inverseGelu(g: number): number {
  let lo = 0;
  let hi = 3;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (gelu(mid) < g) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * SIF token weights (smooth inverse frequency): gelu(w_t) = gelu(1)·a/(a + p_t), p_t = count_t / Σ counts
 * over `sequences`. Tokens never seen keep w = 1 (gelu(1), the WordLlama init); frequent tokens shrink.
 */
export function sifWeights(nVocab: number, sequences: Iterable<ArrayLike<number>>, a: number): Float32Array {
  const counts = new Float64Array(nVocab);
  let total = 0;
  for (const s of sequences) {
    for (let i = 0; i < s.length; i++) counts[s[i]!]!++;
    total += s.length;
  }
  const w = new Float32Array(nVocab).fill(1);
  const g1 = gelu(1);
  for (let t = 0; t < nVocab; t++) if (counts[t]! > 0) w[t] = inverseGelu((g1 * a) / (a + counts[t]! / total));
  return w;
}

/** y = x·W + b for `rows` pooled rows ([rows, dimIn] → [rows, dimOut]; only the first `dim` columns). */
export function project(params: ModelParams, x: Float32Array, rows: number, dim = params.dimOut): Float32Array {
  return rowsTimesMatrix(x, rows, params.dimIn, params.dimIn, params.kernel, params.dimOut, dim, params.bias);
}

export function l2NormalizeRows(x: Float32Array, rows: number, dim: number): Float32Array {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[r * dim + j]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) x[r * dim + j]! *= inv;
  }
  return x;
}

/**
 * Sentence vectors of a trained model: mean over each list's tokens of gelu(w_t)·E_t, projected (+ the mean
 * token offset), truncated to `dim` (default: full width), whitened when the model has a whitening for `dim`,
 * and L2-normalised when `norm` (default true). An empty list gives a zero row.
 * Returns [tokenIds.length, dim] row-major. Reads only the rows it needs from `matrix`.
 */
export async function pooledOutput(
  params: ModelParams,
  matrix: RowMatrix,
  tokenIds: readonly ArrayLike<number>[],
  opts: { dim?: number; norm?: boolean } = {},
): Promise<Float32Array> {
  const dim = opts.dim ?? params.dimOut;
  if (dim > params.dimOut) throw new RangeError(`dim ${dim} exceeds the model width ${params.dimOut}`);
  if (matrix.dim !== params.dimIn) throw new RangeError(`${matrix.label}: width ${matrix.dim}, the model expects ${params.dimIn}`);
  const plan = planBatch(tokenIds);
  const gatherer = await createRowGatherer(matrix, 0);
  const rows = await gatherer.gather(plan.uniq);
  gatherer.close();
  const pooled = poolRows(plan, rows, params.dimIn, tokenCoefficients(plan, params.tokenWeights));
  let out = project(params, pooled, plan.sentences, dim);
  addPooledDelta(params, plan, out, dim);
  const T = params.whiten?.[dim];
  if (T) out = Float32Array.from(applyWhitening(out, plan.sentences, dim, dim, T));
  // A sentence without tokens stays a zero row (not the bias).
  for (let s = 0; s < plan.sentences; s++) if (plan.offsets[s + 1] === plan.offsets[s]) out.fill(0, s * dim, (s + 1) * dim);
  return opts.norm === false ? out : l2NormalizeRows(out, plan.sentences, dim);
}


/**
 * out[s] += mean_t D_t[0..dim) over sentence s's tokens (the learned token offsets; no-op without them).
 * `out` is [plan.sentences, dim] row-major.
 */
export function addPooledDelta(params: ModelParams, plan: BatchPlan, out: Float32Array, dim: number): void {
  if (!params.tokenDelta) return;
  const dm = poolRows(plan, params.tokenDelta, params.dimOut, tokenCoefficients(plan, undefined), undefined, plan.uniq);
  for (let s = 0; s < plan.sentences; s++) for (let j = 0; j < dim; j++) out[s * dim + j]! += dm[s * params.dimOut + j]!;
}

/**
 * Replace W, b and the token offsets by W·T, b·T, D·T (T [dimOut, dimOut]): the model's outputs become its
 * full-width outputs times T (used to start training from a whitened checkpoint). In place.
 */
export function foldWhitening(params: ModelParams, T: Float32Array): void {
  const n = params.dimOut;
  if (T.length !== n * n) throw new RangeError(`foldWhitening: T has ${T.length} values, expected ${n * n}`);
  const times = (m: Float32Array, rows: number) => m.set(applyWhitening(m, rows, n, n, T));
  times(params.kernel, params.dimIn);
  times(params.bias, 1);
  if (params.tokenDelta) times(params.tokenDelta, params.tokenDelta.length / n);
  params.whiten = undefined;
}
