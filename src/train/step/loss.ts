/**
 * The TF.js half of a training step: projection, optional L2 norm, optional binarization with a
 * straight-through gradient, and Matryoshka(MultipleNegativesRankingLoss). Every op here has a gradient
 * kernel on cpu, wasm and tfjs-node.
 *
 * `fastMatMul` exists because tfjs-backend-wasm runs `matMul` with transposeA/transposeB 10–50× slower than
 * a plain one (it leaves XNNPACK), and TF.js's own matMul gradient uses exactly those flags: an explicit
 * `transpose` (a cheap copy) followed by a plain matMul keeps the backward pass on the fast kernel.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { BinarizeMode } from '../../model/modes.ts';

type TF = typeof tfTypes;
type Tensor = tfTypes.Tensor;
type Tensor2D = tfTypes.Tensor2D;
type CustomGradFn = Parameters<TF['customGrad']>[0];

/** a·b with a gradient made of plain (non-transposed) matMuls. */
export function fastMatMul(tf: TF, a: Tensor2D, b: Tensor2D): Tensor2D {
  const f = tf.customGrad(((x: Tensor, y: Tensor, save: (t: Tensor[]) => void) => {
    save([x, y]);
    return {
      value: tf.matMul(x as Tensor2D, y as Tensor2D),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sy] = saved as [Tensor2D, Tensor2D];
        return [tf.matMul(dy as Tensor2D, tf.transpose(sy)), tf.matMul(tf.transpose(sx), dy as Tensor2D)];
      },
    };
  }) as unknown as CustomGradFn);
  return f(a, b) as Tensor2D;
}

/** x / max(‖x‖, 1e-12) per row (torch.nn.functional.normalize). */
function l2Normalize(tf: TF, x: Tensor2D): Tensor2D {
  const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
  return tf.div(x, tf.maximum(norm, 1e-12));
}

/**
 * sign(x) forward; backward per mode (WordLlama's adapters/binarizer.py):
 *   ste   dy where |x| ≤ 1, else 0
 *   tanh  dy · (1 − tanh²x)
 *   reste ReSTE with t = 1.5, o = 1 (WordLlama's settings): dy · r(x), r = (1/o)|x|^((1−o)/o) for
 *         0.1 < |x| ≤ t, 0.1^(1/o)/0.1 for |x| ≤ 0.1, 0 beyond t (with o = 1: dy where |x| ≤ 1.5)
 * sign(0) = 0 as in torch.
 */
export function binarize(tf: TF, x: Tensor, mode: Exclude<BinarizeMode, 'none'>): Tensor {
  const f = tf.customGrad(((v: Tensor, save: (t: Tensor[]) => void) => {
    save([v]);
    return {
      value: tf.sign(v),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const sv = saved[0]!;
        if (mode === 'ste') return [tf.mul(dy, tf.cast(tf.lessEqual(tf.abs(sv), 1), 'float32'))];
        if (mode === 'tanh') return [tf.mul(dy, tf.sub(1, tf.square(tf.tanh(sv))))];
        return [tf.mul(dy, resteFactor(tf, sv, RESTE_T, RESTE_O))];
      },
    };
  }) as unknown as CustomGradFn);
  return f(x);
}

const RESTE_T = 1.5;
const RESTE_O = 1;
const RESTE_INTERVAL = 0.1;

function resteFactor(tf: TF, x: Tensor, t: number, o: number): Tensor {
  const a = tf.abs(x);
  const inner = tf.lessEqual(a, RESTE_INTERVAL);
  const mid = tf.logicalAnd(tf.greater(a, RESTE_INTERVAL), tf.lessEqual(a, t));
  const power = tf.mul(1 / o, tf.pow(tf.maximum(a, RESTE_INTERVAL), (1 - o) / o));
  const flat = Math.pow(RESTE_INTERVAL, 1 / o) / RESTE_INTERVAL;
  return tf.add(tf.mul(tf.cast(mid, 'float32'), power), tf.mul(tf.cast(inner, 'float32'), flat));
}

/**
 * MultipleNegativesRankingLoss (sentence-transformers): cos(anchor_i, candidate_j)·scale, cross-entropy with
 * the target j = i. `candidates` = the anchors' positives (same order) followed by any hard negatives.
 * The diagonal is picked with a mask (the `gather` gradient is missing on wasm).
 */
export function mnrl(tf: TF, args: { anchors: Tensor2D; candidates: Tensor2D; scale: number; symmetric?: boolean }): Tensor {
  const { anchors, candidates, scale, symmetric = false } = args;
  const a = l2Normalize(tf, anchors);
  const c = l2Normalize(tf, candidates);
  const scores = tf.mul(fastMatMul(tf, a, tf.transpose(c)), scale) as Tensor2D;
  const logp = tf.logSoftmax(scores, 1);
  const n = anchors.shape[0];
  const eye = tf.eye(n);
  const target =
    candidates.shape[0] === n
      ? eye
      : tf.pad(eye, [
          [0, 0],
          [0, candidates.shape[0] - n],
        ]);
  const forward = tf.neg(tf.div(tf.sum(tf.mul(logp, target)), n));
  if (!symmetric) return forward;
  // sentence-transformers' MultipleNegativesSymmetricRankingLoss: also rank the anchors for each positive.
  const back = tf.logSoftmax(tf.transpose(tf.slice(scores, [0, 0], [n, n])), 1);
  const backward = tf.neg(tf.div(tf.sum(tf.mul(back, eye)), n));
  return tf.div(tf.add(forward, backward), 2);
}

/** Subtracted from the logit of an excluded in-batch candidate. */
const EXCLUDED_LOGIT_OFFSET = 1e4;

/**
 * Matryoshka: the same MNRL on the embeddings truncated to each dim (any order; first = full width), weighted,
 * summed. `emb` rows: anchors [0, nAnchors), then candidates.
 *
 * The truncations share their leading columns, so the dot products are built as prefix sums over column
 * blocks (64, then 64..128, then 128..256, ...) and each dim's cosine is its prefix dot product over its
 * prefix norms: the score matmuls cost as much as the largest dim alone instead of the sum of all dims
 * (1024 vs 1984 columns for [1024, 512, 256, 128, 64]). Same values as truncate-then-normalise.
 * `exclude` [nAnchors, candidates] (1 = leave out of that anchor's softmax) never covers the anchor's own positive.
 */
export interface MatryoshkaMnrlArgs {
  emb: Tensor2D;
  nAnchors: number;
  dims: readonly number[];
  weights: readonly number[];
  scale: number;
  symmetric?: boolean;
  exclude?: Tensor2D;
}

export function matryoshkaMnrl(tf: TF, args: MatryoshkaMnrlArgs): { total: Tensor; perDim: Tensor[] } {
  const { emb, nAnchors, dims, weights, scale, symmetric = false, exclude } = args;
  const rows = emb.shape[0];
  const nc = rows - nAnchors;
  const order = dims.map((d, i) => ({ d, i })).sort((x, y) => x.d - y.d);
  const perDim: Tensor[] = new Array(dims.length);
  let dot: Tensor | undefined;
  let na2: Tensor | undefined;
  let nc2: Tensor | undefined;
  let prev = 0;
  const eye = tf.eye(nAnchors);
  const target =
    nc === nAnchors
      ? eye
      : tf.pad(eye, [
          [0, 0],
          [0, nc - nAnchors],
        ]);
  for (const { d, i } of order) {
    const a = tf.slice(emb, [0, prev], [nAnchors, d - prev]) as Tensor2D;
    const c = tf.slice(emb, [nAnchors, prev], [nc, d - prev]) as Tensor2D;
    const blockDot = fastMatMul(tf, a, tf.transpose(c));
    const blockA = tf.sum(tf.square(a), 1, true);
    const blockC = tf.sum(tf.square(c), 1, true);
    dot = dot === undefined ? blockDot : tf.add(dot, blockDot);
    na2 = na2 === undefined ? blockA : tf.add(na2, blockA);
    nc2 = nc2 === undefined ? blockC : tf.add(nc2, blockC);
    prev = d;
    // cos = dot / (max(|a|, 1e-12) · max(|c|, 1e-12)), as F.normalize then a dot product.
    const inv = tf.mul(tf.div(1, tf.maximum(tf.sqrt(na2), 1e-12)), tf.reshape(tf.div(1, tf.maximum(tf.sqrt(nc2), 1e-12)), [1, nc]));
    let scores = tf.mul(tf.mul(dot, inv), scale) as Tensor2D;
    // Excluded candidates (false negatives, negatives.ts) drop out of the softmax: exp(−1e4) is 0 in float32.
    if (exclude) scores = tf.sub(scores, tf.mul(exclude, EXCLUDED_LOGIT_OFFSET));
    const logp = tf.logSoftmax(scores, 1);
    let l: Tensor = tf.neg(tf.div(tf.sum(tf.mul(logp, target)), nAnchors));
    if (symmetric) {
      const back = tf.logSoftmax(tf.transpose(tf.slice(scores, [0, 0], [nAnchors, nAnchors])), 1);
      l = tf.div(tf.add(l, tf.neg(tf.div(tf.sum(tf.mul(back, eye)), nAnchors))), 2);
    }
    perDim[i] = l;
  }
  let total: Tensor | undefined;
  dims.forEach((_, i) => {
    const wl = weights[i] === 1 ? perDim[i]! : tf.mul(perDim[i]!, weights[i]!);
    total = total === undefined ? wl : tf.add(total, wl);
  });
  return { total: total!, perDim };
}

/**
 * Similarity distillation: fit the student's in-batch cosine matrix cos(anchor_i, candidate_j) (at each
 * Matryoshka dim, embeddings truncated) to the teacher's `teacherSim` [n, C], over the pairs where `mask` is
 * 1 (both texts have a teacher vector). Dimension-free, so a 64-d student learns from a 512-d teacher.
 *   mse     Σ mask·(S − T)² / Σ mask
 *   cosine  mean over anchors with a teacher row of 1 − cos(S_i, T_i) (masked rows of similarities)
 * Returns the per-dim losses summed with `weights`.
 */
export interface DistillationArgs {
  emb: Tensor2D;
  nAnchors: number;
  dims: readonly number[];
  weights: readonly number[];
  teacherSim: Tensor2D;
  mask: Tensor2D;
  kind: 'mse' | 'cosine';
}

export function similarityDistillation(tf: TF, args: DistillationArgs): Tensor {
  const { emb, nAnchors, dims, weights, teacherSim, mask, kind } = args;
  const rows = emb.shape[0];
  const width = emb.shape[1];
  const maskSum = Math.max(1, tf.sum(mask).dataSync()[0]!);
  let total: Tensor | undefined;
  dims.forEach((d, i) => {
    const e = d === width ? emb : tf.slice(emb, [0, 0], [rows, d]);
    const a = l2Normalize(tf, tf.slice(e, [0, 0], [nAnchors, d]) as Tensor2D);
    const c = l2Normalize(tf, tf.slice(e, [nAnchors, 0], [rows - nAnchors, d]) as Tensor2D);
    const S = fastMatMul(tf, a, tf.transpose(c));
    let l: Tensor;
    if (kind === 'mse') {
      l = tf.div(tf.sum(tf.mul(tf.square(tf.sub(S, teacherSim)), mask)), maskSum);
    } else {
      const sm = tf.mul(S, mask);
      const tm = tf.mul(teacherSim, mask);
      const dot = tf.sum(tf.mul(sm, tm), 1);
      // +1e-12 inside the root: a fully masked row has norm 0, and sqrt'(0) would turn its zero gradient into NaN.
      const ns = tf.sqrt(tf.add(tf.sum(tf.square(sm), 1), 1e-12));
      const nt = tf.sqrt(tf.add(tf.sum(tf.square(tm), 1), 1e-12));
      const has = tf.cast(tf.greater(tf.sum(mask, 1), 0), 'float32');
      const cos = tf.div(dot, tf.maximum(tf.mul(ns, nt), 1e-12));
      l = tf.div(tf.sum(tf.mul(tf.sub(1, cos), has)), Math.max(1, tf.sum(has).dataSync()[0]!));
    }
    const wl = weights[i] === 1 ? l : tf.mul(l, weights[i]!);
    total = total === undefined ? wl : tf.add(total, wl);
  });
  return total!;
}

/** The head after the affine map: optional L2 norm, then optional sign with a straight-through gradient. */
export function finishHead(tf: TF, affine: Tensor2D, opts: { norm: boolean; binarize: BinarizeMode }): Tensor2D {
  let y = affine;
  if (opts.norm) y = l2Normalize(tf, y);
  if (opts.binarize !== 'none') y = binarize(tf, y, opts.binarize) as Tensor2D;
  return y;
}
