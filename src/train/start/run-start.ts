/**
 * How a training run starts: the plan (steps, warmup, checkpoint folders) checked against the inputs and config,
 * then either a resume from `last` (refused when the data, the plan or the shapes changed) or a fresh init (with an
 * init checkpoint's whitening folded in), the optimizer, the row gatherer and the matMul worker.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { TokenizedRecord } from '../../data/types.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import { UserError } from '../../util/errors.ts';
import { checkBatchSize, stepsPerEpoch } from '../data/batches.ts';
import { checkpointDir, readModelCheckpoint, readOptimizerState, readTrainState, type TrainState } from '../../model/checkpoint.ts';
import { warmupFor, type TrainConfig } from '../config.ts';
import { createRowGatherer, type RowGatherer } from '../data/row-gatherer.ts';
import type { ModelParams } from '../../model/params.ts';
import { foldWhitening } from '../../model/whitening.ts';
import { initParams, sifWeights } from './init-params.ts';
import { MatmulHelper } from '../parallel.ts';
import { Rng } from '../../util/random.ts';
import { createOptimizer, optimizerSlots, type Optimizer } from '../step/train-step.ts';
import { checkpointsPath, metricsPath as metricsFilePath } from '../../layout/weights-dir.ts';
import type { TrainInputs } from '../trainer.ts';

/** The run as init leaves it for the loop: plan, parameters, optimizer, state, row gatherer and helper worker. */
export interface TrainingRun extends RunPlan {
  cfg: TrainConfig;
  params: ModelParams;
  state: TrainState;
  opt: Optimizer;
  gatherer: RowGatherer;
  helper?: MatmulHelper;
  log: (message: string) => void;
}

/** The run's plan (steps, warmup, checkpoint folders), checked against the inputs and the config. */
export interface RunPlan {
  perEpoch: number;
  totalSteps: number;
  warmup: number;
  metricsPath: string;
  last: string;
  best: string;
}

function planRun(inp: TrainInputs): RunPlan {
  const { train: cfg, matrix } = inp;
  const where = inp.configFile;
  if (matrix.rows < inp.nVocab) throw new UserError(`${matrix.label}: ${matrix.rows} rows, but the config's n_vocab is ${inp.nVocab}`);
  checkBatchSize(inp.datasets, cfg.batchSize, cfg.sampler, `${where}: [training]`);
  if (cfg.whiten > 0 && cfg.binarize !== 'none') {
    throw new UserError(
      `${where}: [training] whiten = ${cfg.whiten} needs binarize = "none" (whitening would change a binarized model's trained sign bits); set whiten = 0`,
    );
  }
  const perEpoch = stepsPerEpoch(inp.datasets, cfg.batchSize, cfg.sampler);
  // Like Hugging Face's max_steps: when set it is the run's length, cycling through the data as needed.
  const totalSteps = cfg.maxSteps ?? perEpoch * cfg.epochs;
  const warmup = warmupFor(cfg, totalSteps);
  const metricsPath = metricsFilePath(inp.outDir);
  const last = checkpointDir(inp.outDir, 'last');
  const best = checkpointDir(inp.outDir, 'best');
  return { perEpoch, totalSteps, warmup, metricsPath, last, best };
}

/** Validation, then resume or a fresh init (with an init checkpoint's whitening folded in), the optimizer, the row gatherer and the matMul worker. */
export async function initTraining(inp: TrainInputs): Promise<TrainingRun> {
  const { train: cfg, matrix, backend } = inp;
  const log = inp.log ?? (() => {});
  const plan = planRun(inp);
  const { last, metricsPath } = plan;
  const { params, state } = inp.resume ? await resumeFrom(inp, plan, log) : await freshStart(inp, plan, log);
  const opt = createOptimizer(params, cfg.tokenWeights === 'learned');
  if (inp.resume) {
    const optStep = await readOptimizerState(last, optimizerSlots(opt));
    if (optStep !== state.step) throw new UserError(`${last}: optimizer state is at step ${optStep}, state.json at ${state.step}; train without --resume`);
    await truncateMetrics(metricsPath, state.step);
  }

  // The next batch's rows are gathered on a worker thread during each step (the same rows, so the same training).
  const gatherer = await createRowGatherer(matrix, { memoryCacheMb: cfg.memoryCacheMb, syncFile: inp.syncFile, prefetch: true });
  // wasm runs on one thread under Node; a worker with its own wasm instance takes half of the projection's matMuls.
  let helper: MatmulHelper | undefined;
  if (backend.name === 'wasm' && cfg.threads >= 2) {
    helper = await MatmulHelper.start((why) => log(`matMuls on one thread: the worker did not start (${why})`));
    if (helper) log('matMuls on 2 threads (this one + a worker_thread with its own TF.js wasm), for batches large enough to pay for it');
  }
  return { cfg, ...plan, params, state, opt, gatherer, helper, log };
}

/** Parameters and state from `last`, refused when the data, the plan or the shapes changed since. */
async function resumeFrom(inp: TrainInputs, plan: RunPlan, log: (message: string) => void): Promise<{ params: ModelParams; state: TrainState }> {
  const { train: cfg, matrix } = inp;
  const { last, totalSteps, perEpoch } = plan;
  const state = await readTrainState(last);
  if (state.dataFingerprint !== inp.dataFingerprint) {
    throw new UserError(`${last}: the training data changed since this checkpoint; train without --resume`);
  }
  if (state.totalSteps !== totalSteps || state.stepsPerEpoch !== perEpoch) {
    throw new UserError(
      `${last}: the checkpoint plans ${state.totalSteps} steps (${state.stepsPerEpoch}/epoch), this command ${totalSteps} (${perEpoch}/epoch); resume with the same --steps/--epochs/--batch-size`,
    );
  }
  const ck = await readModelCheckpoint(last);
  if (ck.meta.step !== state.step)
    throw new UserError(`${last}: model.safetensors is at step ${ck.meta.step}, state.json at ${state.step} (an interrupted save); train without --resume`);
  if (ck.params.dimIn !== matrix.dim || ck.params.dimOut !== cfg.projectionDim) {
    throw new UserError(
      `${last}: checkpoint is ${ck.params.dimIn}→${ck.params.dimOut}, the config wants ${matrix.dim}→${cfg.projectionDim}; train without --resume`,
    );
  }
  if (cfg.tokenDelta !== (ck.params.tokenDelta !== undefined)) {
    throw new UserError(`${last}: the checkpoint was trained with token_delta = ${!cfg.tokenDelta}, the config says ${cfg.tokenDelta}; train without --resume`);
  }
  const params = { ...ck.params, nVocab: inp.nVocab };
  log(`resuming from step ${state.step}/${totalSteps}`);
  return { params, state };
}

/** New parameters (init, or an init checkpoint's), a step-0 state, and cleared checkpoints and metrics. */
async function freshStart(inp: TrainInputs, plan: RunPlan, log: (message: string) => void): Promise<{ params: ModelParams; state: TrainState }> {
  const { train: cfg, matrix } = inp;
  const { totalSteps, warmup, perEpoch, metricsPath } = plan;
  const rng = new Rng(cfg.seed);
  const params = initParams({
    nVocab: inp.nVocab,
    dimIn: matrix.dim,
    dimOut: cfg.projectionDim,
    rng,
    tokenWeights: cfg.tokenWeights !== 'none',
    stopwordIds: inp.stopwordIds,
    stopwordWeight: cfg.stopwordWeight,
    tokenDelta: cfg.tokenDelta,
  });
  if (cfg.initCheckpoint) {
    const init = await readModelCheckpoint(cfg.initCheckpoint);
    if (init.params.dimIn !== matrix.dim || init.params.dimOut !== cfg.projectionDim) {
      throw new UserError(
        `${cfg.initCheckpoint}: init_checkpoint is ${init.params.dimIn}→${init.params.dimOut}, the config wants ${matrix.dim}→${cfg.projectionDim}`,
      );
    }
    params.kernel.set(init.params.kernel);
    params.bias.set(init.params.bias);
    if (params.tokenWeights && init.params.tokenWeights) params.tokenWeights.set(init.params.tokenWeights.subarray(0, inp.nVocab));
    if (params.tokenDelta && init.params.tokenDelta) params.tokenDelta.set(init.params.tokenDelta.subarray(0, params.tokenDelta.length));
    const T = init.params.whiten?.[cfg.projectionDim];
    if (T) {
      // A whitened init: fold its full-width whitening into W, b and the offsets, so training (e.g. a binarized
      // fine-tune, whose sign bits cannot be whitened afterwards) starts from the whitened output space.
      foldWhitening(params, T);
      log(`init from ${cfg.initCheckpoint} (step ${init.meta.step}), its ${cfg.projectionDim}-d whitening folded into the projection`);
    } else log(`init from ${cfg.initCheckpoint} (step ${init.meta.step})`);
  } else if (cfg.tokenWeightInit === 'sif' && params.tokenWeights) {
    params.tokenWeights.set(sifWeights(inp.nVocab, sequencesOf(inp.records), cfg.sifA));
    log(`token weights: SIF init (a = ${cfg.sifA}) from the training texts' token frequencies`);
  }
  const state: TrainState = {
    version: 1,
    step: 0,
    totalSteps,
    warmupSteps: warmup,
    stepsPerEpoch: perEpoch,
    seed: cfg.seed,
    rng: rng.state,
    dataFingerprint: inp.dataFingerprint,
    bestScore: null,
    bestStep: null,
    elapsedSeconds: 0,
    pairsSeen: 0,
  };
  await rm(checkpointsPath(inp.outDir), { recursive: true, force: true });
  await mkdir(inp.outDir, { recursive: true });
  await writeFileAtomic(metricsPath, '');
  return { params, state };
}

function* sequencesOf(records: readonly TokenizedRecord[]): Generator<Int32Array> {
  for (const r of records) {
    yield r.anchor;
    yield r.positive;
    if (r.negative) yield r.negative;
  }
}

/** Keep only metrics of steps ≤ `step` (a resumed run rewrites what came after its checkpoint). */
async function truncateMetrics(path: string, step: number): Promise<void> {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  await writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
}
