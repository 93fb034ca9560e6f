/**
 * Multinomial logistic regression with L2 penalty, fitted by L-BFGS from zeros: the model MTEB's
 * classification tasks use (sklearn `LogisticRegression(max_iter=100)`, C = 1, unpenalised intercept).
 * Objective: C·Σ_i −log softmax(x_i·W + b)[y_i] + ½‖W‖². Deterministic (no randomness at all).
 */

export interface LogisticOptions {
  /** Inverse regularisation strength (sklearn's C). */
  c?: number;
  maxIter?: number;
  /** Stop when the gradient's max-abs falls below this (sklearn's `tol` default). */
  tol?: number;
  /** L-BFGS history length. */
  history?: number;
}

export interface LogisticModel {
  dim: number;
  classes: number;
  /** [dim, classes] row-major, then the intercepts. */
  weights: Float64Array;
  bias: Float64Array;
  iterations: number;
  loss: number;
}

/**
 * Objective and gradient at parameters theta = [W (classes × dim, class-major so every inner loop is a
 * contiguous dot product or axpy over the features), b (classes)].
 */
function lossAndGradient(theta: Float64Array, x: Float64Array, y: ArrayLike<number>, n: number, dim: number, k: number, c: number, grad: Float64Array): number {
  grad.fill(0);
  const logits = new Float64Array(k);
  const bOff = dim * k;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const xo = i * dim;
    let max = -Infinity;
    for (let m = 0; m < k; m++) {
      const wo = m * dim;
      let z = theta[bOff + m]!;
      for (let j = 0; j < dim; j++) z += x[xo + j]! * theta[wo + j]!;
      logits[m] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let m = 0; m < k; m++) {
      logits[m] = Math.exp(logits[m]! - max);
      sum += logits[m]!;
    }
    const yi = y[i]!;
    loss += -Math.log(logits[yi]! / sum);
    // d loss / d logit_m = p_m − [m = y]; scaled by C
    for (let m = 0; m < k; m++) {
      const g = (c * logits[m]!) / sum - (m === yi ? c : 0);
      const wo = m * dim;
      for (let j = 0; j < dim; j++) grad[wo + j]! += g * x[xo + j]!;
      grad[bOff + m]! += g;
    }
  }
  let penalty = 0;
  for (let p = 0; p < bOff; p++) {
    penalty += theta[p]! * theta[p]!;
    grad[p]! += theta[p]!;
  }
  return c * loss + 0.5 * penalty;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The last `max` L-BFGS curvature pairs (s = step, y = gradient change, rho = 1/sᵀy), oldest first. */
class CurvatureHistory {
  private readonly s: Float64Array[] = [];
  private readonly y: Float64Array[] = [];
  private readonly rho: number[] = [];

  constructor(private readonly max: number) {}

  get size(): number {
    return this.s.length;
  }

  clear(): void {
    this.s.length = this.y.length = this.rho.length = 0;
  }

  /** Keep the pair only when it has positive curvature (otherwise the implied Hessian would not be positive definite). */
  push(s: Float64Array, y: Float64Array): void {
    const sy = dot(s, y);
    if (!(sy > 1e-12)) return;
    this.s.push(s);
    this.y.push(y);
    this.rho.push(1 / sy);
    if (this.s.length > this.max) {
      this.s.shift();
      this.y.shift();
      this.rho.shift();
    }
  }

  /** Two-loop recursion: −H·grad, with the initial Hessian scaled by the latest pair (1/max|g| without one). */
  direction(grad: Float64Array, gmax: number): Float64Array {
    const { s, y, rho } = this;
    const size = grad.length;
    const q = Float64Array.from(grad);
    const alpha = new Array<number>(s.length);
    for (let h = s.length - 1; h >= 0; h--) {
      alpha[h] = rho[h]! * dot(s[h]!, q);
      for (let i = 0; i < size; i++) q[i]! -= alpha[h]! * y[h]![i]!;
    }
    const last = s.length - 1;
    const gamma = last >= 0 ? dot(s[last]!, y[last]!) / dot(y[last]!, y[last]!) : 1 / Math.max(1, gmax);
    for (let i = 0; i < size; i++) q[i]! *= gamma;
    for (let h = 0; h < s.length; h++) {
      const beta = rho[h]! * dot(y[h]!, q);
      for (let i = 0; i < size; i++) q[i]! += s[h]![i]! * (alpha[h]! - beta);
    }
    for (let i = 0; i < size; i++) q[i] = -q[i]!;
    return q;
  }
}

/** The objective of one fit, at any parameters: fills `grad`, returns the loss. */
type Objective = (theta: Float64Array, grad: Float64Array) => number;

/**
 * Backtracking Armijo line search from theta along q (slope = gradᵀq < 0): halve the step from 1 until the loss falls
 * enough, at most 40 times. The last point tried, its gradient and loss.
 */
function armijoStep(objective: Objective, theta: Float64Array, q: Float64Array, f: number, slope: number) {
  const size = theta.length;
  let step = 1;
  const next = new Float64Array(size);
  const nextGrad = new Float64Array(size);
  let fNext = Infinity;
  for (let tries = 0; tries < 40; tries++) {
    for (let i = 0; i < size; i++) next[i] = theta[i]! + step * q[i]!;
    fNext = objective(next, nextGrad);
    if (fNext <= f + 1e-4 * step * slope) break;
    step /= 2;
  }
  return { next, nextGrad, fNext };
}

/**
 * Minimise `objective` from zeros: L-BFGS with `history` pairs, stopping when max|grad| < tol, after `maxIter`
 * iterations, or when even steepest descent cannot lower the loss.
 */
function minimiseLbfgs(objective: Objective, size: number, maxIter: number, tol: number, history: number) {
  let theta = new Float64Array(size);
  let grad = new Float64Array(size);
  let f = objective(theta, grad);
  const curvature = new CurvatureHistory(history);
  let iter = 0;
  for (; iter < maxIter; iter++) {
    let gmax = 0;
    for (let i = 0; i < size; i++) gmax = Math.max(gmax, Math.abs(grad[i]!));
    if (gmax < tol) break;
    const q = curvature.direction(grad, gmax);
    let slope = dot(grad, q);
    if (slope >= 0) {
      // not a descent direction (curvature info went stale): restart from steepest descent
      curvature.clear();
      for (let i = 0; i < size; i++) q[i] = -grad[i]! / Math.max(1, gmax);
      slope = dot(grad, q);
    }
    const { next, nextGrad, fNext } = armijoStep(objective, theta, q, f, slope);
    if (!(fNext < f)) {
      if (curvature.size === 0) break; // steepest descent cannot improve either: converged at float precision
      curvature.clear(); // stale curvature pairs: retry from steepest descent
      continue;
    }
    const s = new Float64Array(size);
    const yv = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = next[i]! - theta[i]!;
      yv[i] = nextGrad[i]! - grad[i]!;
    }
    curvature.push(s, yv);
    theta = next;
    grad = nextGrad;
    f = fNext;
  }
  return { theta, f, iterations: iter };
}

/**
 * Fit on n rows of `dim` features with labels in [0, classes). L-BFGS two-loop recursion with a backtracking
 * Armijo line search; at most `maxIter` iterations (MTEB: 100).
 */
export function fitLogistic(x: ArrayLike<number>, y: ArrayLike<number>, n: number, dim: number, classes: number, opts: LogisticOptions = {}): LogisticModel {
  const c = opts.c ?? 1;
  const xs = x instanceof Float64Array ? x : Float64Array.from({ length: n * dim }, (_, i) => x[i]!);
  const objective: Objective = (theta, grad) => lossAndGradient(theta, xs, y, n, dim, classes, c, grad);
  const { theta, f, iterations } = minimiseLbfgs(objective, dim * classes + classes, opts.maxIter ?? 100, opts.tol ?? 1e-4, opts.history ?? 10);
  // back to the documented [dim, classes] layout
  const weights = new Float64Array(dim * classes);
  for (let m = 0; m < classes; m++) for (let j = 0; j < dim; j++) weights[j * classes + m] = theta[m * dim + j]!;
  return {
    dim,
    classes,
    weights,
    bias: theta.slice(dim * classes),
    iterations,
    loss: f,
  };
}

/** Most probable class of each of the n rows (ties → lowest class id). */
export function predictLogistic(model: LogisticModel, x: ArrayLike<number>, n: number): Int32Array {
  const { dim, classes: k, weights, bias } = model;
  const out = new Int32Array(n);
  const logits = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    logits.set(bias);
    for (let j = 0; j < dim; j++) {
      const v = x[i * dim + j]!;
      for (let m = 0; m < k; m++) logits[m]! += v * weights[j * k + m]!;
    }
    let best = 0;
    for (let m = 1; m < k; m++) if (logits[m]! > logits[best]!) best = m;
    out[i] = best;
  }
  return out;
}
