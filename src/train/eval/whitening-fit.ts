/**
 * Soft whitening of the sentence space (`[training] whiten = p`): after training, the sentence vectors of a
 * seeded sample of training texts give, for each Matryoshka dim d, the covariance C_d of their first d
 * coordinates; with C_d = U Λ Uᵀ the model's d-dim output becomes y·T_d, T_d = U (Λ/mean Λ)^(−p).
 * p = 0.5 is full whitening (Su et al. 2021), p = 0 nothing; in between evens out the few directions that
 * dominate MNRL-trained vectors without blowing up noise. The vectors are not centred: the mean direction
 * carries meaning here (centring lowered STS-B dev by ~0.009, benchmarks/quality.md).
 *
 * T_d is linear, and a sentence vector is the mean of its tokens' rows, so the save stage folds T_d into the
 * saved matrix (row_t·T_d): no inference cost, and the library needs nothing new. Binarized models keep their
 * trained sign bits: the two options do not combine.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { TokenizedRecord } from '../../data/types.ts';
import { symmetricEigen } from '../../util/eigen.ts';
import type { RowGatherer } from '../data/row-gatherer.ts';
import { projectPlan } from './project-plan.ts';
import type { ModelParams } from '../../model/params.ts';
import type { Whitening } from '../../model/whitening.ts';
import { planBatch, type BatchPlan } from '../step/pooling.ts';
import { Rng } from '../../util/random.ts';

/**
 * T = U (Λ/mean Λ)^(−power) for the covariance `cov` ([d, d]). Eigenvalues are floored at 1e-6 of the
 * largest (a direction the sample never varies in is not amplified without bound); dividing by their mean
 * keeps the output's overall scale, so fp16 rows stay in range.
 */
export function whiteningTransform(cov: Float64Array, d: number, power: number): Float32Array {
  const { values, vectors } = symmetricEigen(cov, d);
  const floor = Math.max(values[0]!, 0) * 1e-6 || 1e-30;
  let mean = 0;
  for (let k = 0; k < d; k++) mean += Math.max(values[k]!, floor) / d;
  const T = new Float32Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.pow(Math.max(values[k]!, floor) / mean, -power);
    for (let i = 0; i < d; i++) T[i * d + k] = vectors[i * d + k]! * s;
  }
  return T;
}

/**
 * The covariance (float64, [width, width]) of `rows` vectors, with the O(rows·width²) product on TF.js (YcᵀYc as a plain matMul of
 * an explicit transpose: the fast wasm kernel), centring and the result in float64 JS. Gemma's 1024-wide
 * outputs of 20000 texts are 21 GFLOP: about a second on wasm, half a minute in a JS loop.
 */
export async function covarianceTf(tf: typeof tfTypes, y: Float32Array, rows: number, width: number): Promise<Float64Array> {
  const mean = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) mean[j]! += y[r * width + j]!;
  for (let j = 0; j < width; j++) mean[j]! /= rows;
  const c = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) c[r * width + j] = y[r * width + j]! - mean[j]!;
  const prod = tf.tidy(() => {
    const t = tf.tensor2d(c, [rows, width]);
    return tf.matMul(tf.transpose(t), t);
  });
  const data = (await prod.data()) as Float32Array;
  prod.dispose();
  const cov = new Float64Array(width * width);
  const n = Math.max(1, rows - 1);
  // symmetrise (float32 accumulation order can differ between the two triangles)
  for (let a = 0; a < width; a++) for (let b = 0; b < width; b++) cov[a * width + b] = (data[a * width + b]! + data[b * width + a]!) / (2 * n);
  return cov;
}

/** The top-left d × d block of a [width, width] row-major matrix. */
export function topLeftBlock(m: Float64Array, width: number, d: number): Float64Array {
  if (d === width) return m;
  const out = new Float64Array(d * d);
  for (let a = 0; a < d; a++) out.set(m.subarray(a * width, a * width + d), a * d);
  return out;
}

/** A seeded sample of up to `n` training texts (anchors and positives) as token-id lists. */
export function whiteningSample(records: readonly TokenizedRecord[], n: number, seed: number): Int32Array[] {
  const order = new Rng(seed + 29).shuffle(Int32Array.from({ length: records.length }, (_, i) => i));
  const out: Int32Array[] = [];
  for (const i of order) {
    if (out.length >= n) break;
    const r = records[i]!;
    if (r.anchor.length > 0) out.push(r.anchor);
    if (r.positive.length > 0 && out.length < n) out.push(r.positive);
  }
  return out;
}

/** Fits the whitening of the current parameters on a fixed sample (rows gathered once). */
export class WhiteningFitter {
  private readonly plan: BatchPlan;
  private rows?: Float32Array;

  constructor(
    sample: readonly Int32Array[],
    readonly power: number,
  ) {
    this.plan = planBatch(sample);
  }

  get size(): number {
    return this.plan.sentences;
  }

  async fit(tf: typeof tfTypes, params: ModelParams, gatherer: RowGatherer, dims: readonly number[]): Promise<Whitening> {
    this.rows ??= await gatherer.gather(this.plan.uniq);
    const y = await projectPlan(tf, params, this.plan, this.rows);
    // Texts without tokens (zero rows in the saved model) would only add the bias: leave them out.
    const keep: number[] = [];
    for (let s = 0; s < this.plan.sentences; s++) if (this.plan.offsets[s + 1]! > this.plan.offsets[s]!) keep.push(s);
    const w = params.dimOut;
    const yk = new Float32Array(keep.length * w);
    keep.forEach((s, i) => yk.set(y.subarray(s * w, (s + 1) * w), i * w));
    // The covariance of the first d columns is the top-left d × d block of the full one: compute it once.
    const full = await covarianceTf(tf, yk, keep.length, w);
    const out: Whitening = {};
    for (const d of dims) out[d] = whiteningTransform(topLeftBlock(full, w, d), d, this.power);
    return out;
  }
}
