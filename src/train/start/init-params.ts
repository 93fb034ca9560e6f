/**
 * Where training starts: fresh parameters (nn.Linear's init, stopword weights) and the SIF token-weight init.
 */
import { gelu } from '../../model/gelu.ts';
import type { ModelParams } from '../../model/params.ts';
import type { Rng } from '../../util/random.ts';

/**
 * Fresh parameters: w = 1 (stopwords: `stopwordWeight`), W and b uniform in ±1/√dim_in (nn.Linear's
 * default init), drawn from `rng`.
 */
export interface InitParamsArgs {
  nVocab: number;
  dimIn: number;
  dimOut: number;
  rng: Rng;
  tokenWeights: boolean;
  stopwordIds?: readonly number[];
  stopwordWeight?: number;
  tokenDelta?: boolean;
}

export function initParams(opts: InitParamsArgs): ModelParams {
  const { nVocab, dimIn, dimOut, rng } = opts;
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
