/**
 * What a training run leaves behind: metrics.jsonl lines, STS evaluations, the whitening refitted to the current
 * parameters, and the best/last checkpoints (with the optimizer moments and state.json that make `--resume`
 * exact). The loop calls `savePoint` at every evaluation step, at the end and when interrupted.
 */
import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { writeModelCheckpoint, writeOptimizerState, writeTrainState, type CheckpointMeta } from '../model/checkpoint.ts';
import type { EvalResult } from '../model/sts-score.ts';
import { firstNonFinite } from '../model/params.ts';
import { selectionScore } from './eval/sts-evaluator.ts';
import { WhiteningFitter, whiteningSample } from './eval/whitening-fit.ts';
import { optimizerSlots } from './step/train-step.ts';
import { checkpointsPath } from '../layout/weights-dir.ts';
import { measurementsJson } from '../util/json-safe.ts';
import type { TrainingRun } from './start/run-start.ts';
import type { TrainInputs } from './trainer.ts';

/** What a step reported, for the messages of a save point. */
interface StepReport {
  loss: number;
  gradNorm: number;
}

export class RunRecorder {
  /** The latest evaluation (empty before the first, or without an evaluator). */
  lastEval: EvalResult[] = [];
  /** The latest evaluation as a progress-line suffix ('' before the first). */
  lastEvalText = '';
  private readonly whitener: WhiteningFitter | undefined;
  private readonly binary: boolean;

  constructor(
    private readonly inp: TrainInputs,
    private readonly run: TrainingRun,
  ) {
    const { cfg } = run;
    this.binary = cfg.binarize !== 'none';
    this.whitener = cfg.whiten > 0 ? new WhiteningFitter(whiteningSample(inp.records, cfg.whitenSamples, cfg.seed), cfg.whiten) : undefined;
    if (this.whitener) run.log(`whitening: power ${cfg.whiten}, fitted on ${this.whitener.size} training texts at each evaluation and checkpoint`);
  }

  writeMetric(obj: Record<string, unknown>): Promise<void> {
    return appendFile(this.run.metricsPath, measurementsJson(obj) + '\n');
  }

  /** The whitening follows the parameters: refit before every evaluation and checkpoint (not used by the loss). */
  async refitWhitening(): Promise<void> {
    const { params, gatherer, cfg } = this.run;
    if (this.whitener) params.whiten = await this.whitener.fit(this.inp.backend.tf, params, gatherer, cfg.dims);
  }

  async evaluate(step: number): Promise<void> {
    if (!this.inp.evaluator) return;
    const { params, gatherer, cfg } = this.run;
    const lastEval = await this.inp.evaluator.evaluate(this.inp.backend.tf, { params, gatherer, dims: cfg.dims, binary: this.binary });
    this.lastEval = lastEval;
    for (const r of lastEval) await this.writeMetric({ type: 'eval', step, file: r.file, dim: r.dim, binary: r.binary, spearman: r.spearman });
    const fmt = (b: boolean) =>
      lastEval
        .filter((r) => r.binary === b)
        .map((r) => `${r.dim}:${r.spearman.toFixed(3)}`)
        .join(' ');
    this.lastEvalText = `eval ${fmt(false)}${this.binary ? ` | ham ${fmt(true)}` : ''}`;
  }

  /** Stops the run without saving: the checkpoints stay at the last good step (or absent, before the first save). */
  diverged(atStep: number, what: string): UserError {
    const { last, state, cfg } = this.run;
    const kept = existsSync(join(last, 'state.json')) ? `${checkpointsPath(this.inp.outDir)} still holds step ${state.step}` : 'no checkpoint was written yet';
    return new UserError(`step ${atStep}: ${what}; lower [training] lr (now ${cfg.lr}) or check the input matrix for inf/nan; ${kept}`, 1);
  }

  /**
   * At an evaluation step, the last step or a stop: refuse non-finite parameters, refit the whitening, evaluate
   * (not on a stop) and save the checkpoints.
   */
  async savePoint(step: number, rep: StepReport, evaluate: boolean): Promise<void> {
    // A step whose own loss was finite can still overflow the parameters; checked before anything is saved from them
    // (only here: a full pass over the token offsets every step would cost more than the step).
    const bad = firstNonFinite(this.run.params);
    if (bad) throw this.diverged(step, `the parameters became non-finite (loss ${rep.loss}, gradient norm ${rep.gradNorm}; ${bad} holds NaN/Inf)`);
    await this.refitWhitening();
    if (evaluate) await this.evaluate(step);
    await this.saveCheckpoints(step);
  }

  private metaFor(step: number): CheckpointMeta {
    const { inp } = this;
    const { cfg } = this.run;
    return {
      config: { name: inp.configName, file: inp.configFile, n_vocab: inp.nVocab, dim_in: inp.matrix.dim, training: { ...cfg, evalFile: cfg.evalFile } },
      step,
      matryoshka_dims: cfg.dims,
      binarize: cfg.binarize,
      norm: cfg.norm,
      token_weights: cfg.tokenWeights,
      eval: this.lastEval,
    };
  }

  /** `best` when the score improved (every save without an evaluator), then `last` with its optimizer and state. */
  private async saveCheckpoints(step: number): Promise<void> {
    const { params, state, best, last, opt } = this.run;
    const meta = this.metaFor(step);
    if (this.inp.evaluator && this.lastEval.length > 0) {
      const score = selectionScore(this.lastEval, this.binary);
      if (state.bestScore === null || score > state.bestScore) {
        state.bestScore = score;
        state.bestStep = step;
        await writeModelCheckpoint(best, params, meta);
      }
    } else if (!this.inp.evaluator) {
      state.bestStep = step;
      await writeModelCheckpoint(best, params, meta);
    }
    await writeModelCheckpoint(last, params, meta);
    await writeOptimizerState(last, optimizerSlots(opt), step);
    state.step = step;
    await writeTrainState(last, state);
  }
}
