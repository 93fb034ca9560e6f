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

/**
 * Fit on n rows of `dim` features with labels in [0, classes). L-BFGS two-loop recursion with a backtracking
 * Armijo line search; at most `maxIter` iterations (MTEB: 100).
 */
export function fitLogistic(x: ArrayLike<number>, y: ArrayLike<number>, n: number, dim: number, classes: number, opts: LogisticOptions = {}): LogisticModel {
  const c = opts.c ?? 1;
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-4;
  const m = opts.history ?? 10;
  const size = dim * classes + classes;
  const xs = x instanceof Float64Array ? x : Float64Array.from({ length: n * dim }, (_, i) => x[i]!);
  let theta = new Float64Array(size);
  let grad = new Float64Array(size);
  let f = lossAndGradient(theta, xs, y, n, dim, classes, c, grad);
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rhoHist: number[] = [];
  let iter = 0;
  for (; iter < maxIter; iter++) {
    let gmax = 0;
    for (let i = 0; i < size; i++) gmax = Math.max(gmax, Math.abs(grad[i]!));
    if (gmax < tol) break;
    // two-loop recursion: direction = −H·grad
    const q = Float64Array.from(grad);
    const alpha = new Array<number>(sHist.length);
    for (let h = sHist.length - 1; h >= 0; h--) {
      alpha[h] = rhoHist[h]! * dot(sHist[h]!, q);
      for (let i = 0; i < size; i++) q[i]! -= alpha[h]! * yHist[h]![i]!;
    }
    const last = sHist.length - 1;
    const gamma = last >= 0 ? dot(sHist[last]!, yHist[last]!) / dot(yHist[last]!, yHist[last]!) : 1 / Math.max(1, gmax);
    for (let i = 0; i < size; i++) q[i]! *= gamma;
    for (let h = 0; h < sHist.length; h++) {
      const beta = rhoHist[h]! * dot(yHist[h]!, q);
      for (let i = 0; i < size; i++) q[i]! += sHist[h]![i]! * (alpha[h]! - beta);
    }
    for (let i = 0; i < size; i++) q[i] = -q[i]!;
    let slope = dot(grad, q);
    if (slope >= 0) {
      // not a descent direction (curvature info went stale): restart from steepest descent
      sHist.length = yHist.length = rhoHist.length = 0;
      for (let i = 0; i < size; i++) q[i] = -grad[i]! / Math.max(1, gmax);
      slope = dot(grad, q);
    }
    let step = 1;
    const next = new Float64Array(size);
    const nextGrad = new Float64Array(size);
    let fNext = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < size; i++) next[i] = theta[i]! + step * q[i]!;
      fNext = lossAndGradient(next, xs, y, n, dim, classes, c, nextGrad);
      if (fNext <= f + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(fNext < f)) {
      if (sHist.length === 0) break; // steepest descent cannot improve either: converged at float precision
      sHist.length = yHist.length = rhoHist.length = 0; // stale curvature pairs: retry from steepest descent
      continue;
    }
    const s = new Float64Array(size);
    const yv = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = next[i]! - theta[i]!;
      yv[i] = nextGrad[i]! - grad[i]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      sHist.push(s);
      yHist.push(yv);
      rhoHist.push(1 / sy);
      if (sHist.length > m) {
        sHist.shift();
        yHist.shift();
        rhoHist.shift();
      }
    }
    theta = next;
    grad = nextGrad;
    f = fNext;
  }
  // back to the documented [dim, classes] layout
  const weights = new Float64Array(dim * classes);
  for (let m = 0; m < classes; m++) for (let j = 0; j < dim; j++) weights[j * classes + m] = theta[m * dim + j]!;
  return {
    dim,
    classes,
    weights,
    bias: theta.slice(dim * classes),
    iterations: iter,
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
