/**
 * A full optimizer step on one batch: gather rows → gradients (step.ts) → global-norm clip → AdamW with the
 * scheduled learning rate. Shared by the trainer loop and scripts/bench-train.ts.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { TokenizedRecord } from '../../data/types.ts';
import type { TrainConfig } from '../config.ts';
import type { RowGatherer } from '../data/row-gatherer.ts';
import type { ModelParams } from '../../model/params.ts';
import { adamwUpdate, clipFactor, createSlot, globalNorm, scheduledLr, sparseRowAdamwUpdate, type Grad, type ParamSlot } from '../optim/adamw.ts';
import { duplicateNegatives, guidedNegatives, unionMasks } from './negatives.ts';
import type { MatmulHelper } from '../parallel.ts';
import { planBatch } from './pooling.ts';
import type { BatchRows } from './pool-kernels.ts';
import { computeGradients, type BatchTeacher, type LossOptions } from './gradients.ts';

export interface Optimizer {
  kernel: ParamSlot;
  bias: ParamSlot;
  tokenWeights?: ParamSlot;
  tokenDelta?: ParamSlot;
}

export function createOptimizer(params: ModelParams, learnTokenWeights: boolean): Optimizer {
  return {
    kernel: createSlot('projection.kernel', params.kernel, true),
    bias: createSlot('projection.bias', params.bias, false),
    tokenWeights: learnTokenWeights && params.tokenWeights ? createSlot('token_weights', params.tokenWeights, false) : undefined,
    tokenDelta: params.tokenDelta ? createSlot('token_delta', params.tokenDelta, false) : undefined,
  };
}

export const optimizerSlots = (o: Optimizer): ParamSlot[] => [
  o.kernel,
  o.bias,
  ...(o.tokenWeights ? [o.tokenWeights] : []),
  ...(o.tokenDelta ? [o.tokenDelta] : []),
];

function lossOptions(cfg: TrainConfig): LossOptions {
  return {
    dims: cfg.dims,
    dimWeights: cfg.dimWeights,
    scale: cfg.scale,
    norm: cfg.norm,
    binarize: cfg.binarize,
    tokenWeights: cfg.tokenWeights,
    symmetric: cfg.symmetric,
    denseWeight: cfg.binaryDenseWeight,
  };
}

/** Sentences of a batch in the order the loss expects: anchors, positives, then the hard negatives present. */
function batchSequences(records: readonly TokenizedRecord[], hardNegatives: boolean): Int32Array[] {
  const seqs: Int32Array[] = records.map((r) => r.anchor);
  for (const r of records) seqs.push(r.positive);
  if (hardNegatives) for (const r of records) if (r.negative && r.negative.length > 0) seqs.push(r.negative);
  return seqs;
}

export interface StepReport {
  loss: number;
  perDim: number[];
  gradNorm: number;
  lr: number;
  tokens: number;
  uniqueTokens: number;
  /** Milliseconds spent gathering rows, in gradients (JS pooling + TF.js), and in the optimizer. */
  ms: { gather: number; grads: number; update: number };
}

export interface TrainStepArgs {
  params: ModelParams;
  opt: Optimizer;
  gatherer: RowGatherer;
  cfg: TrainConfig;
  /** The batch. */
  records: readonly TokenizedRecord[];
  /** 0-based optimizer step, of `totalSteps`; with `warmupSteps` it sets the scheduled learning rate. */
  step: number;
  totalSteps: number;
  warmupSteps: number;
  /** The batch's distillation targets when the config has a teacher. */
  teacher?: BatchTeacher;
  helper?: MatmulHelper;
  /** The next step's batch: its rows are prefetched while this step computes (when the gatherer can). */
  next?: readonly TokenizedRecord[];
}

/** One optimizer step on `records`. Mutates params (through the optimizer slots). */
export async function trainStep(tf: typeof tfTypes, args: TrainStepArgs): Promise<StepReport> {
  const { params, opt, gatherer, cfg, records, step, totalSteps, warmupSteps, teacher, helper, next } = args;
  const t0 = performance.now();
  const seqs = batchSequences(records, cfg.hardNegatives);
  const plan = planBatch(seqs);
  // A held f16 matrix is pooled in place: no gather, no decoded copy (both threads read the shared bits).
  // Otherwise, with a helper thread, rows go straight into memory it shares (it pools half of the sentences from
  // them); prefetched rows come back in the gatherer's own shared buffer, which the helper reads as well.
  const held = gatherer.heldF16();
  let rows: BatchRows;
  if (held) rows = { f16: held };
  else {
    const out = helper && !gatherer.prefetched(plan.uniq) ? (helper.sharedRows(plan.uniq.length * gatherer.dim) as Float32Array) : undefined;
    rows = await gatherer.gather(plan.uniq, out);
  }
  if (next) gatherer.prefetch(planBatch(batchSequences(next, cfg.hardNegatives)).uniq);
  const exclude = unionMasks(
    cfg.maskDuplicates ? duplicateNegatives(seqs, records.length) : undefined,
    teacher?.guideMargin !== undefined ? guidedNegatives(teacher.sim, teacher.mask, records.length, teacher.guideMargin) : undefined,
  );
  const t1 = performance.now();
  const g = await computeGradients(tf, { params, plan, rows, nAnchors: records.length, opts: lossOptions(cfg), teacher, exclude, helper });
  const t2 = performance.now();
  const grads: Grad[] = [{ dense: g.kernel }, { dense: g.bias }];
  if (g.tokenWeights) grads.push(g.tokenWeights);
  if (g.tokenDelta) grads.push({ indices: g.tokenDelta.rows, values: g.tokenDelta.values });
  const norm = globalNorm(grads);
  const factor = clipFactor(norm, cfg.gradClip);
  const lr = scheduledLr(cfg.lr, step, warmupSteps, totalSteps);
  const t = step + 1;
  adamwUpdate(opt.kernel, grads[0]!, { gradScale: factor, lr, weightDecay: cfg.weightDecay, t });
  adamwUpdate(opt.bias, grads[1]!, { gradScale: factor, lr, weightDecay: cfg.weightDecay, t });
  if (opt.tokenWeights && g.tokenWeights)
    adamwUpdate(opt.tokenWeights, g.tokenWeights, { gradScale: factor, lr: lr * cfg.tokenLrScale, weightDecay: cfg.weightDecay, t });
  if (opt.tokenDelta && g.tokenDelta) {
    sparseRowAdamwUpdate(
      opt.tokenDelta,
      { rows: g.tokenDelta.rows, values: g.tokenDelta.values, dim: params.dimOut },
      { gradScale: factor, lr: lr * cfg.tokenDeltaLrScale, weightDecay: cfg.tokenDeltaWeightDecay, t },
    );
  }
  const t3 = performance.now();
  return {
    loss: g.loss,
    perDim: g.perDim,
    gradNorm: norm,
    lr,
    tokens: plan.local.length,
    uniqueTokens: plan.uniq.length,
    ms: { gather: t1 - t0, grads: t2 - t1, update: t3 - t2 },
  };
}
