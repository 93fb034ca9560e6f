/**
 * The training loop: init or resume (start/run-start.ts), batches in seeded order, steps, progress; metrics.jsonl,
 * periodic STS evaluation and best/last checkpoints at save points (run-recorder.ts). Interrupting (AbortSignal, e.g. Ctrl-C in the CLI) saves `last` so
 * `--resume` continues exactly: same parameters, optimizer moments, step, RNG and data order.
 */
import type { TokenizedRecord } from '../data/types.ts';
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { createProgress } from '../util/progress.ts';
import type { TrainBackend } from '../tfjs/backend.ts';
import { epochBatches, type DatasetRange } from './data/batches.ts';
import type { TrainConfig } from './config.ts';
import type { StsEvaluator } from './eval/sts-evaluator.ts';
import type { EvalResult } from '../model/sts-score.ts';
import { batchTeacher, type TeacherTargets } from './distill/batch-targets.ts';
import type { SyncRowFile } from './data/row-gatherer.ts';
import { trainStep } from './step/train-step.ts';
import { initTraining, type TrainingRun } from './start/run-start.ts';
import { RunRecorder } from './run-recorder.ts';

/** How a caller drives and watches a run: shared by `train` and `runTraining`, which passes them through. */
export interface RunControls {
  resume?: boolean;
  quiet?: boolean;
  /** Stop after the current step, save `last`, return with `interrupted: true`. */
  signal?: AbortSignal;
  /** Called after every step (tests abort from here). */
  onStep?: (step: number) => void;
  log?: (message: string) => void;
}

export interface TrainInputs extends RunControls {
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
  /** The safetensors file behind `matrix` when it is one file: rows are then gathered with sync reads. */
  syncFile?: SyncRowFile;
  /** Distillation targets (from [training.teacher]); undefined = MNRL only. */
  teacher?: TeacherTargets;
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

export async function train(inp: TrainInputs): Promise<TrainSummary> {
  const run = await initTraining(inp);
  try {
    return await trainingLoop(inp, run);
  } finally {
    await run.gatherer.close();
    await run.helper?.close();
  }
}

/** The first lines of a run: where the input rows live and the run's shape. */
function logRunStart(inp: TrainInputs, run: TrainingRun): void {
  const { matrix } = inp;
  const { cfg, log } = run;
  log(
    `input ${matrix.label}: ${matrix.rows} × ${matrix.dim}, ` +
      {
        f32: `held in memory as f32 (${((matrix.rows * matrix.dim * 4) / 1e6).toFixed(0)} MB ≤ memory_cache_mb ${cfg.memoryCacheMb})`,
        raw: `the file's bytes held in memory, rows decoded per batch (as f32 it exceeds memory_cache_mb ${cfg.memoryCacheMb})`,
        disk: `rows read from disk per batch (larger than memory_cache_mb ${cfg.memoryCacheMb} as f32, and than the memory budget as stored)`,
      }[run.gatherer.holding],
  );
  log(
    `${inp.records.length} pairs, ${run.perEpoch} steps/epoch, ${run.totalSteps} steps, batch ${cfg.batchSize}, lr ${cfg.lr}, warmup ${run.warmup}, dims [${cfg.dims.join(', ')}]${cfg.binarize !== 'none' ? `, binarize ${cfg.binarize}` : ''}`,
  );
}

/** The records of step s's batch, in the seeded order of its epoch; keeps the current epoch's batches and the next's. */
function batchSchedule(inp: TrainInputs, run: TrainingRun): (s: number) => { idx: Int32Array; records: TokenizedRecord[] } {
  const { cfg, perEpoch } = run;
  // Batches of the current epoch and of the next (a step prefetches the rows of the one after it).
  const epochs = new Map<number, Int32Array[]>();
  return (s) => {
    const epoch = Math.floor(s / perEpoch);
    let batches = epochs.get(epoch);
    if (!batches) {
      batches = epochBatches({ datasets: inp.datasets, batchSize: cfg.batchSize, seed: cfg.seed, epoch, sampler: cfg.sampler });
      epochs.set(epoch, batches);
      epochs.delete(epoch - 2);
    }
    const idx = batches[s % perEpoch]!;
    return { idx, records: Array.from(idx, (i) => inp.records[i]!) };
  };
}

/** One optimisation step on batch `step` (prefetching the next batch's rows); its report and wall time. */
async function stepOnce(inp: TrainInputs, run: TrainingRun, batchAt: ReturnType<typeof batchSchedule>, step: number) {
  const { tf } = inp.backend;
  const { cfg, params, opt, gatherer, totalSteps, warmup, helper } = run;
  const { idx, records } = batchAt(step);
  const next = step + 1 < totalSteps ? batchAt(step + 1).records : undefined;
  const ts = performance.now();
  const bt = inp.teacher ? await batchTeacher(tf, { targets: inp.teacher, idx, records, hardNegatives: cfg.hardNegatives }) : undefined;
  const rep = await trainStep(tf, { params, opt, gatherer, cfg, records, step, totalSteps, warmupSteps: warmup, teacher: bt, helper, next });
  return { rep, pairs: idx.length, seconds: (performance.now() - ts) / 1000 };
}

/** Steps from `run.state.step` to the end (or an abort), with evaluation, checkpoints, metrics and progress. */
async function trainingLoop(inp: TrainInputs, run: TrainingRun): Promise<TrainSummary> {
  const { cfg, perEpoch, totalSteps, last, state, log } = run;
  logRunStart(inp, run);
  const rec = new RunRecorder(inp, run);
  if (!inp.resume && inp.evaluator) {
    await rec.refitWhitening();
    await rec.evaluate(0);
    log(`untrained projection: ${rec.lastEvalText}`);
  }

  const progress = createProgress('train', { unit: 'steps', total: totalSteps, quiet: inp.quiet });
  const t0 = performance.now();
  const elapsed0 = state.elapsedSeconds;
  const batchAt = batchSchedule(inp, run);
  let step = state.step;
  let lastLoss = NaN;
  let interrupted = false;
  let pairsThisRun = 0;
  while (step < totalSteps) {
    const epoch = Math.floor(step / perEpoch);
    const { rep, pairs, seconds: dt } = await stepOnce(inp, run, batchAt, step);
    if (!Number.isFinite(rep.loss)) throw rec.diverged(step + 1, `the loss became ${rep.loss}`);
    step++;
    lastLoss = rep.loss;
    pairsThisRun += pairs;
    state.pairsSeen += pairs;
    const elapsed = elapsed0 + (performance.now() - t0) / 1000;
    state.elapsedSeconds = elapsed;
    const epochs = epoch + (step % perEpoch === 0 ? 1 : (step % perEpoch) / perEpoch);
    await rec.writeMetric({
      type: 'train',
      step,
      epoch: epochs,
      loss: rep.loss,
      lr: rep.lr,
      pairs_per_s: pairs / dt,
      elapsed_s: elapsed,
      grad_norm: rep.gradNorm,
    });
    inp.onStep?.(step);
    const atEval = cfg.evalSteps > 0 && step % cfg.evalSteps === 0;
    const done = step === totalSteps;
    const stop = inp.signal?.aborted === true && !done;
    if (atEval || done || stop) await rec.savePoint(step, rep, atEval || done);
    progress.update(step, `loss ${rep.loss.toFixed(4)} ${(pairs / dt).toFixed(0)} pairs/s${rec.lastEvalText ? ` ${rec.lastEvalText}` : ''}`);
    if (stop) {
      interrupted = true;
      progress.log(`interrupted at step ${step}/${totalSteps}: saved ${last}; continue with --resume`);
      break;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  progress.finish();
  if (rec.lastEval.length === 0 && inp.evaluator) {
    // resumed a finished run
    await rec.refitWhitening();
    await rec.evaluate(step);
  }
  return summarize(inp, run, rec, { steps: step, seconds, pairsThisRun, lastLoss, interrupted });
}

/** What this invocation did (`seconds`, `pairsThisRun`) beside what the whole run has done (`stepsPerSecond`). */
function summarize(
  inp: TrainInputs,
  run: TrainingRun,
  rec: RunRecorder,
  r: { steps: number; seconds: number; pairsThisRun: number; lastLoss: number; interrupted: boolean },
): TrainSummary {
  const { state } = run;
  return {
    steps: r.steps,
    totalSteps: run.totalSteps,
    stepsPerEpoch: run.perEpoch,
    seconds: r.seconds,
    pairsPerSecond: r.pairsThisRun / Math.max(r.seconds, 1e-9),
    stepsPerSecond: r.steps / Math.max(state.elapsedSeconds, 1e-9),
    lastLoss: r.lastLoss,
    finalEval: rec.lastEval,
    bestScore: state.bestScore,
    bestStep: state.bestStep,
    interrupted: r.interrupted,
    resident: run.gatherer.resident,
    backend: inp.backend.reason,
  };
}
