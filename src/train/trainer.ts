/**
 * The training loop: init (or resume), batches in seeded order, steps, progress, metrics.jsonl, periodic STS
 * evaluation, best/last checkpoints. Interrupting (AbortSignal, e.g. Ctrl-C in the CLI) saves `last` so
 * `--resume` continues exactly: same parameters, optimizer moments, step, RNG and data order.
 */
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenizedRecord } from '../data/types.ts';
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { createProgress } from '../util/progress.ts';
import type { TrainBackend } from '../tfjs/backend.ts';
import { checkBatchSize, epochBatches, stepsPerEpoch, type DatasetRange } from './data/batches.ts';
import {
  checkpointDir,
  readModelCheckpoint,
  readOptimizerState,
  readTrainState,
  writeModelCheckpoint,
  writeOptimizerState,
  writeTrainState,
  type CheckpointMeta,
  type TrainState,
} from '../model/checkpoint.ts';
import { warmupFor, type TrainConfig } from './config.ts';
import { selectionScore, type StsEvaluator } from './eval/sts-evaluator.ts';
import type { EvalResult } from '../model/sts-score.ts';
import { batchTeacher, type TeacherTargets } from './distill/batch-targets.ts';
import { createRowGatherer, type RowGatherer, type SyncRowFile } from './data/row-gatherer.ts';
import { firstNonFinite, type ModelParams } from '../model/params.ts';
import { foldWhitening } from '../model/whitening.ts';
import { initParams, sifWeights } from './start/init-params.ts';
import { WhiteningFitter, whiteningSample } from './eval/whitening-fit.ts';
import { MatmulHelper } from './parallel.ts';
import { Rng } from '../util/random.ts';
import { createOptimizer, optimizerSlots, trainStep, type Optimizer } from './step/train-step.ts';
import { checkpointsPath, metricsPath as metricsFilePath } from '../layout/weights-dir.ts';
import { measurementsJson } from '../util/json-safe.ts';

export interface TrainInputs {
  configName: string;
  configFile: string;
  nVocab: number;
  train: TrainConfig;
  records: readonly TokenizedRecord[];
  datasets: readonly DatasetRange[];
  dataFingerprint: string;
  matrix: RowMatrix;
  stopwordIds: readonly number[];
  evaluator?: StsEvaluator;
  backend: TrainBackend;
  outDir: string;
  resume?: boolean;
  quiet?: boolean;
  /** Stop after the current step, save `last`, return with `interrupted: true`. */
  signal?: AbortSignal;
  /** The safetensors file behind `matrix` when it is one file: rows are then gathered with sync reads. */
  syncFile?: SyncRowFile;
  /** Distillation targets (from [training.teacher]); undefined = MNRL only. */
  teacher?: TeacherTargets;
  /** Called after every step (tests abort from here). */
  onStep?: (step: number) => void;
  log?: (message: string) => void;
}

export interface TrainSummary {
  steps: number;
  totalSteps: number;
  stepsPerEpoch: number;
  seconds: number;
  pairsPerSecond: number;
  stepsPerSecond: number;
  lastLoss: number;
  finalEval: EvalResult[];
  bestScore: number | null;
  bestStep: number | null;
  interrupted: boolean;
  resident: boolean;
  backend: string;
}

/** The run as init leaves it for the loop: plan, parameters, optimizer, state, row gatherer and helper worker. */
interface TrainingRun extends RunPlan {
  cfg: TrainConfig;
  params: ModelParams;
  state: TrainState;
  opt: Optimizer;
  gatherer: RowGatherer;
  helper?: MatmulHelper;
  log: (message: string) => void;
}

/** The run's plan (steps, warmup, checkpoint folders), checked against the inputs and the config. */
interface RunPlan {
  perEpoch: number;
  totalSteps: number;
  warmup: number;
  metricsPath: string;
  last: string;
  best: string;
}

export async function train(inp: TrainInputs): Promise<TrainSummary> {
  const run = await initTraining(inp);
  try {
    return await trainingLoop(inp, run);
  } finally {
    await run.gatherer.close();
    await run.helper?.close();
  }
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
async function initTraining(inp: TrainInputs): Promise<TrainingRun> {
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

/** Steps from `run.state.step` to the end (or an abort), with evaluation, checkpoints, metrics and progress. */
async function trainingLoop(inp: TrainInputs, run: TrainingRun): Promise<TrainSummary> {
  const { matrix, backend } = inp;
  const { tf } = backend;
  const { cfg, perEpoch, totalSteps, warmup, metricsPath, last, best, params, state, opt, gatherer, helper, log } = run;
  log(
    `input ${matrix.label}: ${matrix.rows} × ${matrix.dim}, ` +
      {
        f32: `held in memory as f32 (${((matrix.rows * matrix.dim * 4) / 1e6).toFixed(0)} MB ≤ memory_cache_mb ${cfg.memoryCacheMb})`,
        raw: `the file's bytes held in memory, rows decoded per batch (as f32 it exceeds memory_cache_mb ${cfg.memoryCacheMb})`,
        disk: `rows read from disk per batch (larger than memory_cache_mb ${cfg.memoryCacheMb} as f32, and than the memory budget as stored)`,
      }[gatherer.holding],
  );
  log(
    `${inp.records.length} pairs, ${perEpoch} steps/epoch, ${totalSteps} steps, batch ${cfg.batchSize}, lr ${cfg.lr}, warmup ${warmup}, dims [${cfg.dims.join(', ')}]${cfg.binarize !== 'none' ? `, binarize ${cfg.binarize}` : ''}`,
  );

  const binary = cfg.binarize !== 'none';
  const whitener = cfg.whiten > 0 ? new WhiteningFitter(whiteningSample(inp.records, cfg.whitenSamples, cfg.seed), cfg.whiten) : undefined;
  // The whitening follows the parameters: refit before every evaluation and checkpoint (not used by the loss).
  const refitWhitening = async () => {
    if (whitener) params.whiten = await whitener.fit(tf, params, gatherer, cfg.dims);
  };
  if (whitener) log(`whitening: power ${cfg.whiten}, fitted on ${whitener.size} training texts at each evaluation and checkpoint`);
  let lastEval: EvalResult[] = [];
  let lastEvalText = '';
  const writeMetric = (obj: Record<string, unknown>) => appendFile(metricsPath, measurementsJson(obj) + '\n');
  const metaFor = (step: number, ev: EvalResult[]): CheckpointMeta => ({
    config: { name: inp.configName, file: inp.configFile, n_vocab: inp.nVocab, dim_in: matrix.dim, training: { ...cfg, evalFile: cfg.evalFile } },
    step,
    matryoshka_dims: cfg.dims,
    binarize: cfg.binarize,
    norm: cfg.norm,
    token_weights: cfg.tokenWeights,
    eval: ev,
  });

  const evaluate = async (step: number): Promise<void> => {
    if (!inp.evaluator) return;
    lastEval = await inp.evaluator.evaluate(tf, { params, gatherer, dims: cfg.dims, binary });
    for (const r of lastEval) await writeMetric({ type: 'eval', step, file: r.file, dim: r.dim, binary: r.binary, spearman: r.spearman });
    const fmt = (b: boolean) =>
      lastEval
        .filter((r) => r.binary === b)
        .map((r) => `${r.dim}:${r.spearman.toFixed(3)}`)
        .join(' ');
    lastEvalText = `eval ${fmt(false)}${binary ? ` | ham ${fmt(true)}` : ''}`;
  };
  const saveCheckpoints = async (step: number): Promise<void> => {
    const meta = metaFor(step, lastEval);
    if (inp.evaluator && lastEval.length > 0) {
      const score = selectionScore(lastEval, binary);
      if (state.bestScore === null || score > state.bestScore) {
        state.bestScore = score;
        state.bestStep = step;
        await writeModelCheckpoint(best, params, meta);
      }
    } else if (!inp.evaluator) {
      state.bestStep = step;
      await writeModelCheckpoint(best, params, meta);
    }
    await writeModelCheckpoint(last, params, meta);
    await writeOptimizerState(last, optimizerSlots(opt), step);
    state.step = step;
    await writeTrainState(last, state);
  };

  if (!inp.resume && inp.evaluator) {
    await refitWhitening();
    await evaluate(0);
    log(`untrained projection: ${lastEvalText}`);
  }

  // Stops the run without saving: the checkpoints stay at the last good step (or absent, before the first save).
  const diverged = (atStep: number, what: string): UserError => {
    const kept = existsSync(join(last, 'state.json')) ? `${checkpointsPath(inp.outDir)} still holds step ${state.step}` : 'no checkpoint was written yet';
    return new UserError(`step ${atStep}: ${what}; lower [training] lr (now ${cfg.lr}) or check the input matrix for inf/nan; ${kept}`, 1);
  };

  const progress = createProgress('train', { unit: 'steps', total: totalSteps, quiet: inp.quiet });
  const t0 = performance.now();
  const elapsed0 = state.elapsedSeconds;
  // Batches of the current epoch and of the next (a step prefetches the rows of the one after it).
  const epochs = new Map<number, Int32Array[]>();
  const batchAt = (s: number): Int32Array => {
    const epoch = Math.floor(s / perEpoch);
    let batches = epochs.get(epoch);
    if (!batches) {
      batches = epochBatches({ datasets: inp.datasets, batchSize: cfg.batchSize, seed: cfg.seed, epoch, sampler: cfg.sampler });
      epochs.set(epoch, batches);
      epochs.delete(epoch - 2);
    }
    return batches[s % perEpoch]!;
  };
  const recordsOf = (idx: Int32Array): TokenizedRecord[] => Array.from(idx, (i) => inp.records[i]!);
  let step = state.step;
  let lastLoss = NaN;
  let interrupted = false;
  let pairsThisRun = 0;
  while (step < totalSteps) {
    const epoch = Math.floor(step / perEpoch);
    const idx = batchAt(step);
    const batchRecords = recordsOf(idx);
    const next = step + 1 < totalSteps ? recordsOf(batchAt(step + 1)) : undefined;
    const ts = performance.now();
    const bt = inp.teacher ? await batchTeacher(tf, { targets: inp.teacher, idx, records: batchRecords, hardNegatives: cfg.hardNegatives }) : undefined;
    const rep = await trainStep(tf, { params, opt, gatherer, cfg, records: batchRecords, step, totalSteps, warmupSteps: warmup, teacher: bt, helper, next });
    const dt = (performance.now() - ts) / 1000;
    if (!Number.isFinite(rep.loss)) throw diverged(step + 1, `the loss became ${rep.loss}`);
    step++;
    lastLoss = rep.loss;
    pairsThisRun += idx.length;
    state.pairsSeen += idx.length;
    const elapsed = elapsed0 + (performance.now() - t0) / 1000;
    state.elapsedSeconds = elapsed;
    await writeMetric({
      type: 'train',
      step,
      epoch: epoch + (step % perEpoch === 0 ? 1 : (step % perEpoch) / perEpoch),
      loss: rep.loss,
      lr: rep.lr,
      pairs_per_s: idx.length / dt,
      elapsed_s: elapsed,
      grad_norm: rep.gradNorm,
    });
    inp.onStep?.(step);
    const atEval = cfg.evalSteps > 0 && step % cfg.evalSteps === 0;
    const done = step === totalSteps;
    const stop = inp.signal?.aborted === true && !done;
    // A step whose own loss was finite can still overflow the parameters; checked before anything is saved from them
    // (only here: a full pass over the token offsets every step would cost more than the step).
    if (atEval || done || stop) {
      const bad = firstNonFinite(params);
      if (bad) throw diverged(step, `the parameters became non-finite (loss ${rep.loss}, gradient norm ${rep.gradNorm}; ${bad} holds NaN/Inf)`);
    }
    if (atEval || done || stop) await refitWhitening();
    if (atEval || done) await evaluate(step);
    if (atEval || done || stop) await saveCheckpoints(step);
    progress.update(step, `loss ${rep.loss.toFixed(4)} ${(idx.length / dt).toFixed(0)} pairs/s${lastEvalText ? ` ${lastEvalText}` : ''}`);
    if (stop) {
      interrupted = true;
      progress.log(`interrupted at step ${step}/${totalSteps}: saved ${last}; continue with --resume`);
      break;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  progress.finish();
  if (lastEval.length === 0 && inp.evaluator) {
    // resumed a finished run
    await refitWhitening();
    await evaluate(step);
  }
  return {
    steps: step,
    totalSteps,
    stepsPerEpoch: perEpoch,
    seconds,
    pairsPerSecond: pairsThisRun / Math.max(seconds, 1e-9),
    stepsPerSecond: step / Math.max(state.elapsedSeconds, 1e-9),
    lastLoss,
    finalEval: lastEval,
    bestScore: state.bestScore,
    bestStep: state.bestStep,
    interrupted,
    resident: gatherer.resident,
    backend: backend.reason,
  };
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
