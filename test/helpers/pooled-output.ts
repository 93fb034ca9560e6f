/**
 * The trained model's sentence vectors computed the slow, obvious way in plain JS (float64 accumulation), for
 * any token-id lists: the reference the save stage and the embedding library are checked against.
 */
import { rowsTimesMatrix } from '../../src/model/affine.ts';
import type { ModelParams } from '../../src/model/params.ts';
import { applyWhitening } from '../../src/model/whitening.ts';
import type { RowMatrix } from '../../src/matrix/row-matrix.ts';
import { createRowGatherer } from '../../src/train/data/row-gatherer.ts';
import { addPooledDelta } from '../../src/train/eval/project-plan.ts';
import { planBatch, poolRows, tokenCoefficients } from '../../src/train/step/pooling.ts';

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
  const gatherer = await createRowGatherer(matrix, { memoryCacheMb: 0 });
  const rows = await gatherer.gather(plan.uniq);
  await gatherer.close();
  const pooled = poolRows(plan, { rows, dim: params.dimIn, coef: tokenCoefficients(plan, params.tokenWeights) });
  let out = project(params, pooled, plan.sentences, dim);
  addPooledDelta(params, plan, out, dim);
  const T = params.whiten?.[dim];
  if (T) out = Float32Array.from(applyWhitening(out, plan.sentences, dim, dim, T));
  // A sentence without tokens stays a zero row (not the bias).
  for (let s = 0; s < plan.sentences; s++) if (plan.offsets[s + 1] === plan.offsets[s]) out.fill(0, s * dim, (s + 1) * dim);
  return opts.norm === false ? out : l2NormalizeRows(out, plan.sentences, dim);
}
