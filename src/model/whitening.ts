/**
 * Soft whitening as the model applies it: per Matryoshka dim d a transform T_d [d, d] on the first d output
 * columns (fitted by the trainer, train/eval/whitening-fit.ts). The save stage multiplies the saved rows by it;
 * a whitened checkpoint used as an init has its full-width T folded into the projection.
 */
import { rowsTimesMatrix } from './affine.ts';
import type { ModelParams } from './params.ts';

/** dim → T_d ([d, d] row-major): the whitening of the model's first d output columns. */
export type Whitening = Record<number, Float32Array>;

/** y[:, :d]·T ([rows, d]) for y of `width` columns and T [d, d], float64 accumulation. */
export function applyWhitening(y: Float32Array, rows: number, width: number, d: number, T: Float32Array, out?: Float32Array): Float32Array {
  return rowsTimesMatrix(y, rows, width, d, T, d, d, undefined, out);
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
