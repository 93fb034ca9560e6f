/**
 * AdamW (decoupled weight decay, PyTorch's update order and bias correction), global-norm gradient clipping
 * and the warmup + linear-decay schedule, on plain Float32Arrays: parameters live in JS so a checkpoint or
 * `--resume` is just these arrays, and token-weight gradients can stay sparse until the update.
 */
import type { OptimizerMoments } from '../../model/checkpoint.ts';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
}

const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** A parameter and its first and second moments `m`, `v` (same length as value). */
export interface ParamSlot extends OptimizerMoments {
  value: Float32Array;
  decay: boolean;
}

export function createSlot(name: string, value: Float32Array, decay: boolean): ParamSlot {
  return { name, value, m: new Float32Array(value.length), v: new Float32Array(value.length), decay };
}

/** One step's settings for a slot: the clip factor `gradScale`, learning rate, decoupled decay, 1-based step `t`. */
export interface AdamWStep {
  gradScale: number;
  lr: number;
  weightDecay: number;
  t: number;
}

/** Gradient rows `rows` of a [n, dim] parameter, `values` [rows.length, dim]. */
export interface RowGrad {
  rows: Int32Array;
  values: Float32Array | Float64Array;
  dim: number;
}

/** A gradient: dense, or sparse over `indices` (entries elsewhere are zero). */
export type Grad = { dense: Float32Array | Float64Array } | { indices: Int32Array; values: Float32Array | Float64Array };

/** Global L2 norm over all gradients. */
export function globalNorm(grads: readonly Grad[]): number {
  let s = 0;
  for (const g of grads) {
    const vals = 'dense' in g ? g.dense : g.values;
    for (let i = 0; i < vals.length; i++) s += vals[i]! * vals[i]!;
  }
  return Math.sqrt(s);
}

/** torch.nn.utils.clip_grad_norm_: the factor to multiply gradients by (1 when under the limit or disabled). */
export function clipFactor(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/** Learning rate of optimizer step `step` (0-based): linear warmup from 0, then linear decay to 0 at `total`. */
export function scheduledLr(peak: number, step: number, warmup: number, total: number): number {
  if (step < warmup) return (peak * step) / Math.max(1, warmup);
  return peak * Math.max(0, (total - step) / Math.max(1, total - warmup));
}

/**
 * One AdamW update of `slot` with gradient `grad` scaled by `gradScale` (the clip factor). `t` is the
 * 1-based step count for bias correction. Sparse gradients still update every entry: moments of untouched
 * entries decay and their momentum keeps moving them, exactly like PyTorch with a dense zero gradient.
 */
export function adamwUpdate(slot: ParamSlot, grad: Grad, step: AdamWStep, o: AdamWOptions = ADAMW_DEFAULTS): void {
  const { gradScale, lr, weightDecay, t } = step;
  const { value: p, m, v } = slot;
  const b1 = o.beta1;
  const b2 = o.beta2;
  const bc1 = 1 - Math.pow(b1, t);
  const bc2 = 1 - Math.pow(b2, t);
  const stepSize = lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  const decay = slot.decay ? 1 - lr * weightDecay : 1;
  let dense: Float32Array | Float64Array | undefined;
  let sparse: { indices: Int32Array; values: Float32Array | Float64Array } | undefined;
  if ('dense' in grad) dense = grad.dense;
  else sparse = grad;
  if (dense) {
    for (let i = 0; i < p.length; i++) {
      const g = dense[i]! * gradScale;
      p[i] = p[i]! * decay;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      p[i] = p[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / sqrtBc2 + o.eps);
    }
    return;
  }
  // Sparse: scatter the gradient into a position map, then the same dense loop with g = 0 elsewhere.
  const { indices, values } = sparse!;
  let k = 0;
  for (let i = 0; i < p.length; i++) {
    let g = 0;
    if (k < indices.length && indices[k] === i) g = values[k++]! * gradScale;
    p[i] = p[i]! * decay;
    const mi = b1 * m[i]! + (1 - b1) * g;
    const vi = b2 * v[i]! + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    if (mi !== 0) p[i] = p[i]! - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + o.eps);
  }
}

/**
 * AdamW on the rows `rows` of a [n, dim] parameter only (lazy, like torch.optim.SparseAdam): a row the batch
 * does not touch keeps its value and moments, so a step costs the batch's tokens, not the vocabulary (Gemma's
 * 256000 × 1024 offsets would otherwise be a 262M-entry sweep per step). `values` is [rows.length, dim];
 * `weightDecay` is decoupled and applied to the touched rows.
 */
export function sparseRowAdamwUpdate(slot: ParamSlot, grad: RowGrad, step: AdamWStep, o: AdamWOptions = ADAMW_DEFAULTS): void {
  const { rows, values, dim } = grad;
  const { gradScale, lr, weightDecay, t } = step;
  const { value: p, m, v } = slot;
  const { beta1: b1, beta2: b2, eps } = o;
  const stepSize = lr / (1 - Math.pow(b1, t));
  const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, t));
  const decay = 1 - lr * weightDecay;
  for (let r = 0; r < rows.length; r++) {
    const base = rows[r]! * dim;
    const gb = r * dim;
    for (let d = 0; d < dim; d++) {
      const i = base + d;
      const g = values[gb + d]! * gradScale;
      const mi = b1 * m[i]! + (1 - b1) * g;
      const vi = b2 * v[i]! + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
    }
  }
}
