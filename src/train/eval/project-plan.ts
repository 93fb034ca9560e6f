/**
 * Sentence vectors of a planned batch under the current parameters, as the trainer's evaluations see them
 * (the STS evaluator and the whitening fit share it): JS pooling, one TF.js matMul, the pooled token offsets.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { ModelParams } from '../../model/params.ts';
import { poolRows, tokenCoefficients, type BatchPlan } from '../step/pooling.ts';

/**
 * Sentence vectors [plan.sentences, dimOut] of a planned batch: pool the raw `rows` of `plan.uniq` with the
 * current token weights (JS), project with one TF.js matMul, add the pooled token offsets. No normalisation.
 */
export async function projectPlan(tf: typeof tfTypes, params: ModelParams, plan: BatchPlan, rows: Float32Array): Promise<Float32Array> {
  const pooled = poolRows(plan, { rows, dim: params.dimIn, coef: tokenCoefficients(plan, params.tokenWeights) });
  const S = plan.sentences;
  const y = tf.tidy(() =>
    tf.add(tf.matMul(tf.tensor2d(pooled, [S, params.dimIn]), tf.tensor2d(params.kernel, [params.dimIn, params.dimOut])), tf.tensor1d(params.bias)),
  );
  const out = (await y.data()) as Float32Array;
  y.dispose();
  addPooledDelta(params, plan, out, params.dimOut);
  return out;
}

/**
 * out[s] += mean_t D_t[0..dim) over sentence s's tokens (the learned token offsets; no-op without them).
 * `out` is [plan.sentences, dim] row-major.
 */
export function addPooledDelta(params: ModelParams, plan: BatchPlan, out: Float32Array, dim: number): void {
  if (!params.tokenDelta) return;
  const dm = poolRows(plan, { rows: params.tokenDelta, dim: params.dimOut, coef: tokenCoefficients(plan, undefined), rowIds: plan.uniq });
  for (let s = 0; s < plan.sentences; s++) for (let j = 0; j < dim; j++) out[s * dim + j]! += dm[s * params.dimOut + j]!;
}
