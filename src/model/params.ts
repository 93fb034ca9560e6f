/**
 * The trained model's parameters (WordLlama's WeightedProjector + AvgPool): token weights w [n_vocab],
 * projection kernel W [dim_in, dim_out] (x·W layout) and bias b [dim_out]; a sentence vector is
 *   mean_t(gelu(w_t)·E_t)·W + b, truncated to a Matryoshka dim, optionally L2-normalised.
 * Training produces them, checkpoints hold them, the save stage projects the vocabulary through them.
 */
import type { Whitening } from './whitening.ts';

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
  /** Per output dim d, the soft-whitening transform T_d [d, d] applied to the first d columns (whitening.ts). */
  whiten?: Whitening;
}

/** The name of the first trained tensor holding a NaN or ±Inf, or undefined when all values are finite. */
export function firstNonFinite(params: ModelParams): string | undefined {
  const tensors: [string, Float32Array | undefined][] = [
    ['projection.kernel', params.kernel],
    ['projection.bias', params.bias],
    ['token_weights', params.tokenWeights],
    ['token_delta', params.tokenDelta],
  ];
  for (const [name, values] of tensors) {
    if (!values) continue;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return name;
  }
  return undefined;
}
