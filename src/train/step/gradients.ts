/**
 * One training step's mathematics: pool raw rows in JS, run head + Matryoshka MNRL in TF.js with gradients for
 * the pooled matrix, kernel, bias and pooled token offsets, and turn dL/dpooled into sparse token-weight (and
 * dL/dout into token-offset) gradients in JS. Large batches on wasm take the two-thread path: the worker of
 * parallel.ts pools and projects half of the sentences, the loss runs here on the assembled projection, and the
 * matMul gradients and token-weight dot products are summed from both halves.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { BinarizeMode, TokenWeightMode } from '../../model/modes.ts';
import { binarize, fastMatMul, finishHead, matryoshkaMnrl, similarityDistillation } from './loss.ts';
import { PARALLEL_MIN_MACS, type MatmulHelper } from '../parallel.ts';
import { isHeldF16, tokenDotsBatch, type BatchRows } from './pool-kernels.ts';
import { geluGrad } from '../../model/gelu.ts';
import type { ModelParams } from '../../model/params.ts';
import { gatherWeights, poolRows, tokenCoefficients, tokenDeltaGrads, tokenWeightGrads, type BatchPlan } from './pooling.ts';

type TF = typeof tfTypes;

export interface LossOptions {
  dims: readonly number[];
  dimWeights: readonly number[];
  scale: number;
  norm: boolean;
  binarize: BinarizeMode;
  tokenWeights: TokenWeightMode;
  /** Add the positives → anchors ranking term (MultipleNegativesSymmetricRankingLoss). */
  symmetric?: boolean;
  /** With binarize: also add this weight × the loss of the dense (un-binarized) vectors (0 = binary only). */
  denseWeight?: number;
}

/** A batch's distillation targets (see similarityDistillation). */
export interface BatchTeacher {
  /** Teacher cosine similarities [nAnchors, candidates] and the mask of pairs that have them. */
  sim: Float32Array;
  mask: Float32Array;
  kind: 'mse' | 'cosine';
  weight: number;
  mnrlWeight: number;
  /** GISTEmbed guidance margin (negatives.ts guidedNegatives); undefined = no guidance. */
  guideMargin?: number;
}

export interface StepGradients {
  loss: number;
  perDim: number[];
  kernel: Float32Array;
  bias: Float32Array;
  /** dL/dw over `plan.uniq` (sorted ids); undefined unless token weights are learned. */
  tokenWeights?: { indices: Int32Array; values: Float64Array };
  /** dL/dD over the rows `plan.uniq` ([rows.length, dimOut]); undefined unless token offsets are learned. */
  tokenDelta?: { rows: Int32Array; values: Float32Array };
}

/**
 * Loss and gradients for one batch. `plan` covers the batch's sentences in order: `nAnchors` anchors, then
 * their positives (same order), then hard negatives; `rows` are the rows of `plan.uniq` (gathered f32, or the
 * held f16 matrix read in place: pool-kernels.ts BatchRows). `exclude`
 * ([nAnchors, candidates], negatives.ts) leaves false negatives out of MNRL.
 */
export interface GradientArgs {
  params: ModelParams;
  plan: BatchPlan;
  rows: BatchRows;
  nAnchors: number;
  opts: LossOptions;
  teacher?: BatchTeacher;
  exclude?: Float32Array;
  helper?: Pick<MatmulHelper, 'forward' | 'backward' | 'isShared' | 'sharedRows'> & { minMacs?: number };
}

export async function computeGradients(tf: TF, args: GradientArgs): Promise<StepGradients> {
  const { params, plan, rows, opts, helper } = args;
  const { dimIn, dimOut } = params;
  const useW = opts.tokenWeights !== 'none' && params.tokenWeights !== undefined;
  const learnW = useW && opts.tokenWeights === 'learned';
  const S = plan.sentences;
  const c: GradientContext = {
    tf,
    args,
    coef: tokenCoefficients(plan, useW ? params.tokenWeights : undefined),
    // token_delta: the batch's pooled offsets mean_t D_t, added to the affine output (row_t = …·W + b + D_t).
    dm: params.tokenDelta ? poolRows(plan, { rows: params.tokenDelta, dim: dimOut, coef: tokenCoefficients(plan, undefined), rowIds: plan.uniq }) : undefined,
    learnW,
    head: lossHead(tf, args),
  };
  const split = helper !== undefined && S >= 4 && S * dimIn * dimOut >= (helper.minMacs ?? PARALLEL_MIN_MACS);
  const { loss, perDim, kernel, bias, gx, gd, dots } = split ? await gradientsOnTwoThreads(c) : await gradientsOnOneThread(c);
  c.head.dispose();

  let tokenWeights: StepGradients['tokenWeights'];
  if (learnW && gx) {
    const values = tokenWeightGrads(plan, { rows, dim: dimIn, wUniq: gatherWeights(plan, params.tokenWeights!), gradPooled: gx });
    tokenWeights = { indices: plan.uniq, values };
  } else if (learnW && dots) {
    // dL/dw_u = gelu'(w_u) · Σ_occurrences (dL/dpooled_s · E_u) / n_s, the sums from both threads
    for (let u = 0; u < dots.length; u++) dots[u]! *= geluGrad(params.tokenWeights![plan.uniq[u]!]!);
    tokenWeights = { indices: plan.uniq, values: dots };
  }
  const tokenDelta = gd ? { rows: plan.uniq, values: tokenDeltaGrads(plan, dimOut, gd) } : undefined;
  return { loss, perDim, kernel, bias, tokenWeights, tokenDelta };
}

/** What both gradient paths share: the step's inputs, token coefficients, pooled offsets and the loss head. */
interface GradientContext {
  tf: TF;
  args: GradientArgs;
  coef: Float32Array;
  dm: Float32Array | undefined;
  learnW: boolean;
  head: LossHead;
}

/** The gradients either path produces: of the kernel and bias, and of the pooled rows (gx) or their dot sums (dots). */
interface GradientParts {
  loss: number;
  perDim: number[];
  kernel: Float32Array;
  bias: Float32Array;
  gx?: Float32Array;
  gd?: Float32Array;
  dots?: Float64Array;
}

interface LossHead {
  /** The loss of the affine output `pre` = x·W + b (+ pooled offsets): norm, binarize, Matryoshka MNRL, teacher. */
  lossOfPre(pre: tfTypes.Tensor2D, ex: tfTypes.Tensor2D | undefined): tfTypes.Scalar;
  /** Each Matryoshka dim's loss; read before anything is disposed (with one dim it is the loss tensor itself). */
  readParts(): Promise<number[]>;
  dispose(): void;
}

function lossHead(tf: TF, args: GradientArgs): LossHead {
  const { nAnchors, opts, teacher } = args;
  const S = args.plan.sentences;
  let parts: tfTypes.Tensor[] = [];
  const mnrl = (emb: tfTypes.Tensor2D, ex: tfTypes.Tensor2D | undefined) =>
    matryoshkaMnrl(tf, { emb, nAnchors, dims: opts.dims, weights: opts.dimWeights, scale: opts.scale, symmetric: opts.symmetric, exclude: ex });
  return {
    lossOfPre(pre, ex) {
      const mixed = opts.binarize !== 'none' && (opts.denseWeight ?? 0) > 0;
      const dense = finishHead(tf, pre, mixed ? { ...opts, binarize: 'none' } : opts);
      const emb = mixed ? (binarize(tf, dense, opts.binarize as Exclude<BinarizeMode, 'none'>) as tfTypes.Tensor2D) : dense;
      const head = mnrl(emb, ex);
      let total = head.total;
      parts = head.perDim.map((p) => tf.keep(p));
      if (mixed) total = tf.add(total, tf.mul(mnrl(dense, ex).total, opts.denseWeight!));
      if (!teacher) return total as tfTypes.Scalar;
      if (teacher.weight === 0) return tf.mul(total, teacher.mnrlWeight) as tfTypes.Scalar; // guidance only
      const C = S - nAnchors;
      const distill = similarityDistillation(tf, {
        emb,
        nAnchors,
        dims: opts.dims,
        weights: opts.dimWeights,
        teacherSim: tf.tensor2d(teacher.sim, [nAnchors, C]),
        mask: tf.tensor2d(teacher.mask, [nAnchors, C]),
        kind: teacher.kind,
      });
      return tf.add(tf.mul(total, teacher.mnrlWeight), tf.mul(distill, teacher.weight)) as tfTypes.Scalar;
    },
    readParts: () => Promise.all(parts.map(async (p) => (await p.data())[0]!)),
    dispose: () => tf.dispose(parts),
  };
}

/** One thread: pool, project and differentiate the whole batch with TF.js autodiff. */
async function gradientsOnOneThread(c: GradientContext): Promise<GradientParts> {
  const { tf, coef, dm, learnW, head } = c;
  const { params, plan, rows, nAnchors, exclude } = c.args;
  const { dimIn, dimOut } = params;
  const S = plan.sentences;
  const pooled = poolRows(plan, { rows, dim: dimIn, coef });
  const result = tf.tidy(() => {
    const x = tf.tensor2d(pooled, [S, dimIn]);
    const k = tf.tensor2d(params.kernel, [dimIn, dimOut]);
    const b = tf.tensor1d(params.bias);
    const d = dm ? tf.tensor2d(dm, [S, dimOut]) : undefined;
    const ex = exclude ? tf.tensor2d(exclude, [nAnchors, S - nAnchors]) : undefined;
    const lossOf = (xx: tfTypes.Tensor, kk: tfTypes.Tensor, bb: tfTypes.Tensor, dd: tfTypes.Tensor | undefined) =>
      head.lossOfPre(tf.add(fastMatMul(tf, xx as tfTypes.Tensor2D, kk as tfTypes.Tensor2D), dd ? tf.add(bb, dd) : bb) as tfTypes.Tensor2D, ex);
    // Differentiate with respect to kernel and bias, plus the pooled rows (token weights) and offsets when learned.
    const inputs = [k, b, ...(learnW ? [x] : []), ...(d ? [d] : [])];
    const { value, grads } = tf.valueAndGrads((...v: tfTypes.Tensor[]) => lossOf(learnW ? v[2]! : x, v[0]!, v[1]!, d ? v[v.length - 1] : undefined))(inputs);
    return { value, gk: grads[0]!, gb: grads[1]!, gx: learnW ? grads[2] : undefined, gd: d ? grads[grads.length - 1] : undefined };
  });
  const got = await Promise.all([
    result.value.data(),
    result.gk.data() as Promise<Float32Array>,
    result.gb.data() as Promise<Float32Array>,
    result.gx ? (result.gx.data() as Promise<Float32Array>) : Promise.resolve(undefined),
    result.gd ? (result.gd.data() as Promise<Float32Array>) : Promise.resolve(undefined),
  ]);
  const perDim = await head.readParts();
  tf.dispose([result.value, result.gk, result.gb, ...(result.gx ? [result.gx] : []), ...(result.gd ? [result.gd] : [])]);
  return { loss: got[0][0]!, perDim, kernel: got[1], bias: got[2], gx: got[3], gd: got[4] };
}

/** Two threads (parallel.ts): the worker pools, projects and back-propagates sentences [h, S), this thread [0, h). */
async function gradientsOnTwoThreads(c: GradientContext): Promise<GradientParts> {
  const { tf, coef, dm, learnW, head } = c;
  const { params, plan, rows, nAnchors, exclude } = c.args;
  const helper = c.args.helper!;
  const { dimIn, dimOut } = params;
  const S = plan.sentences;
  const h = S >> 1;
  const nUniq = plan.uniq.length;
  const bottom = helper.forward({
    offsets: plan.offsets,
    local: plan.local,
    rows: shareRows(helper, rows),
    uniq: plan.uniq,
    coef,
    s0: h,
    s1: S,
    dimIn,
    w: params.kernel,
    dimOut,
    nUniq,
  });
  const pooledTop = poolRows({ ...plan, sentences: h }, { rows, dim: dimIn, coef });
  const yTop = tf.tidy(() => tf.matMul(tf.tensor2d(pooledTop, [h, dimIn]), tf.tensor2d(params.kernel, [dimIn, dimOut])));
  const y0 = new Float32Array(S * dimOut);
  y0.set((await yTop.data()) as Float32Array);
  yTop.dispose();
  y0.set(await bottom, h * dimOut);
  const result = tf.tidy(() => {
    const y = tf.tensor2d(y0, [S, dimOut]);
    const b = tf.tensor1d(params.bias);
    const d = dm ? tf.tensor2d(dm, [S, dimOut]) : undefined;
    const ex = exclude ? tf.tensor2d(exclude, [nAnchors, S - nAnchors]) : undefined;
    const inputs = [y, b, ...(d ? [d] : [])];
    const { value, grads } = tf.valueAndGrads((...v: tfTypes.Tensor[]) =>
      head.lossOfPre(tf.add(v[0]!, d ? tf.add(v[1]!, v[2]!) : v[1]!) as tfTypes.Tensor2D, ex),
    )(inputs);
    return { value, gy: grads[0]!, gb: grads[1]!, gd: d ? grads[2] : undefined };
  });
  const gy = (await result.gy.data()) as Float32Array;
  const back = helper.backward(gy.slice(h * dimOut), learnW);
  const top = tf.tidy(() => {
    const dyTop = tf.tensor2d(gy.subarray(0, h * dimOut), [h, dimOut]);
    const xTop = tf.tensor2d(pooledTop, [h, dimIn]);
    // plain matMuls of explicit transposes (the fast wasm kernel; see loss.ts fastMatMul)
    return { dw: tf.matMul(tf.transpose(xTop), dyTop), dx: learnW ? tf.matMul(dyTop, tf.transpose(tf.tensor2d(params.kernel, [dimIn, dimOut]))) : undefined };
  });
  const [lossData, gbData, gdData, dwTop, dxTop] = await Promise.all([
    result.value.data(),
    result.gb.data() as Promise<Float32Array>,
    result.gd ? (result.gd.data() as Promise<Float32Array>) : Promise.resolve(undefined),
    top.dw.data() as Promise<Float32Array>,
    top.dx ? (top.dx.data() as Promise<Float32Array>) : Promise.resolve(undefined),
  ]);
  const perDim = await head.readParts();
  tf.dispose([result.value, result.gy, result.gb, ...(result.gd ? [result.gd] : []), top.dw, ...(top.dx ? [top.dx] : [])]);
  // Token-weight dot products, summed over both halves.
  const dots = learnW
    ? tokenDotsBatch({
        offsets: plan.offsets,
        local: plan.local,
        s0: 0,
        s1: h,
        rows,
        uniq: plan.uniq,
        dim: dimIn,
        gradPooled: dxTop!,
        g: new Float64Array(nUniq),
      })
    : undefined;
  const bot = await back;
  const kernel = new Float32Array(dimIn * dimOut);
  for (let i = 0; i < kernel.length; i++) kernel[i] = dwTop[i]! + bot.dw[i]!;
  if (dots) for (let u = 0; u < nUniq; u++) dots[u]! += bot.g![u]!;
  return { loss: lossData[0]!, perDim, kernel, bias: gbData, gd: gdData, dots };
}

/** `rows` in memory the worker can read without a copy: as they are when already shared, else copied once into shared memory. */
function shareRows(helper: Pick<MatmulHelper, 'isShared' | 'sharedRows'>, rows: BatchRows): BatchRows {
  if (isHeldF16(rows)) {
    if (helper.isShared(rows.f16)) return rows;
    const f16 = new Uint16Array(new SharedArrayBuffer(rows.f16.byteLength));
    f16.set(rows.f16);
    return { f16 };
  }
  if (helper.isShared(rows)) return rows;
  const shared = helper.sharedRows(rows.length);
  shared.set(rows);
  return shared;
}
