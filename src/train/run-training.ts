/**
 * Everything `pipeline train` does, as a function (the CLI and `pipeline run` call this): load the tokenizer
 * and input matrix written by extract/concat, the training data (src/data), the STS evaluator, pick the
 * backend, and run the trainer.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readConcatDescriptor } from '../concat/descriptor.ts';
import { openInputMatrix } from '../concat/open-input.ts';
import { EXTRACTED_TENSOR } from '../layout/tensor-names.ts';
import type { ModelConfig } from '../config/types.ts';
import { loadTrainingData } from '../data/load.ts';
import { loadTokenizerFile } from '../tokenize/node.ts';
import { requireTokenId } from '../tokenize/tokenizer.ts';
import { UserError } from '../util/errors.ts';
import { selectBackend, type TrainBackend } from '../tfjs/backend.ts';
import { parseTrainConfig, type TrainConfig } from './config.ts';
import { StsEvaluator, readStsFile } from './eval/sts-evaluator.ts';
import { normaliseRows, type TeacherTargets } from './distill/batch-targets.ts';
import type { SyncRowFile } from './data/row-gatherer.ts';
import { Rng } from '../util/random.ts';
import { stopwordIds } from './data/stopwords.ts';
import { teacherVectors } from './distill/teacher.ts';
import { train, type RunControls, type TrainSummary } from './trainer.ts';
import { cachePath, tokenizerPath, trainingInput } from '../layout/weights-dir.ts';
import { padTokenFor } from '../layout/extract-record.ts';

export interface TrainOverrides {
  steps?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  evalFile?: string;
  evalSteps?: number;
  seed?: number;
  binarize?: TrainConfig['binarize'];
}

export interface RunTrainingOptions extends RunControls {
  config: ModelConfig;
  outDir: string;
  data?: string | string[];
  backend?: string;
  overrides?: TrainOverrides;
}

function applyOverrides(cfg: TrainConfig, o: TrainOverrides = {}): TrainConfig {
  return {
    ...cfg,
    maxSteps: o.steps ?? cfg.maxSteps,
    epochs: o.epochs ?? cfg.epochs,
    batchSize: o.batchSize ?? cfg.batchSize,
    lr: o.lr ?? cfg.lr,
    evalFile: o.evalFile ?? cfg.evalFile,
    evalSteps: o.evalSteps ?? cfg.evalSteps,
    seed: o.seed ?? cfg.seed,
    binarize: o.binarize ?? cfg.binarize,
  };
}

type TrainingData = Awaited<ReturnType<typeof loadTrainingData>>;

interface DistillParams {
  cfg: TrainConfig;
  teacherCfg: NonNullable<TrainConfig['teacher']>;
  data: TrainingData;
  outDir: string;
  tf: TrainBackend['tf'];
  quiet: boolean | undefined;
  log: (message: string) => void;
}

/**
 * Distil on a seeded sample of `max_records` records (all by default): the teacher's vectors of their anchor,
 * positive and (with hard negatives) negative texts, and for every record the row of each (-1: not sampled).
 */
async function distillationTargets(p: DistillParams): Promise<TeacherTargets> {
  const { cfg, teacherCfg, data } = p;
  const n = data.records.length;
  const order = new Rng(cfg.seed + 17).shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const chosen = order.subarray(0, Math.min(n, teacherCfg.max_records ?? n));
  const texts: string[] = [];
  const anchor = new Int32Array(n).fill(-1);
  const positive = new Int32Array(n).fill(-1);
  const negative = new Int32Array(n).fill(-1);
  for (const i of chosen) {
    const pair = data.texts![i]!;
    anchor[i] = texts.push(pair.anchor) - 1;
    positive[i] = texts.push(pair.positive) - 1;
    if (pair.negative !== undefined && cfg.hardNegatives) negative[i] = texts.push(pair.negative) - 1;
  }
  const tv = await teacherVectors(texts, { cacheDir: cachePath(p.outDir), tf: p.tf, batchSize: teacherCfg.batch_size, quiet: p.quiet, log: p.log });
  p.log(`teacher: ${texts.length} texts of ${chosen.length} records (${tv.cached} cached, ${tv.encoded} encoded in ${tv.seconds.toFixed(0)} s)`);
  return {
    dim: tv.dim,
    vectors: normaliseRows(tv.data, tv.dim),
    anchor,
    positive,
    negative,
    kind: teacherCfg.loss,
    weight: teacherCfg.weight,
    mnrlWeight: teacherCfg.mnrl_weight,
    guideMargin: teacherCfg.guide ? teacherCfg.guide_margin : undefined,
  };
}

export async function runTraining(opts: RunTrainingOptions): Promise<TrainSummary & { trainConfig: TrainConfig; outDir: string }> {
  const { config, outDir } = opts;
  const log = opts.log ?? (() => {});
  const cfg = applyOverrides(parseTrainConfig(config), opts.overrides);
  const tokPath = tokenizerPath(outDir);
  if (!existsSync(tokPath)) throw new UserError(`${tokPath} not found; run: pipeline extract --config ${config.name}`);
  const tokenizer = loadTokenizerFile(tokPath);
  const padId = requireTokenId(tokenizer, padTokenFor(config, outDir), config.file);
  const teacherCfg = cfg.teacher;
  const data = await loadTrainingData(config, {
    dataOverride: opts.data,
    tokenizer,
    maxLength: cfg.maxLength,
    padId,
    cacheDir: cachePath(outDir),
    seed: cfg.seed,
    withTexts: teacherCfg !== undefined,
    log,
  });
  let evaluator: StsEvaluator | undefined;
  if (cfg.evalFile) {
    evaluator = new StsEvaluator(readStsFile(cfg.evalFile), tokenizer, cfg.maxLength, padId);
    log(`eval: ${cfg.evalFile} (${evaluator.size} pairs) every ${cfg.evalSteps || 'end of'} steps`);
  }
  const backend = await selectBackend(opts.backend ?? 'auto');
  log(`backend: ${backend.reason}`);
  const teacher = teacherCfg ? await distillationTargets({ cfg, teacherCfg, data, outDir, tf: backend.tf, quiet: opts.quiet, log }) : undefined;
  // The teacher settings decide the targets, so a resume must not cross a change of them.
  const fingerprint = teacherCfg ? `${data.fingerprint}:teacher:${JSON.stringify(teacherCfg)}` : data.fingerprint;
  const stop = stopwordIds(tokenizer, config.n_vocab);
  if (cfg.tokenWeights !== 'none' && cfg.tokenWeightInit === 'stopwords' && !cfg.initCheckpoint)
    log(`token weights: ${stop.length} English stopword tokens start at ${cfg.stopwordWeight}`);
  const matrix = await openInputMatrix(config, outDir);
  const syncFile = singleFileInput(config, outDir);
  try {
    const summary = await train({
      configName: config.name,
      configFile: config.file,
      nVocab: config.n_vocab,
      train: cfg,
      records: data.records,
      datasets: data.datasets,
      dataFingerprint: fingerprint,
      teacher,
      matrix,
      stopwordIds: stop,
      evaluator,
      backend,
      outDir,
      resume: opts.resume,
      quiet: opts.quiet,
      signal: opts.signal,
      syncFile,
      onStep: opts.onStep,
      log,
    });
    return { ...summary, trainConfig: cfg, outDir };
  } finally {
    await matrix.close();
  }
}

/**
 * The one safetensors file behind the input when there is one (a single source, or a materialized concat):
 * batches then gather rows with sync reads. A concat read through its descriptor uses the async RowMatrix.
 */
function singleFileInput(config: ModelConfig, outDir: string): SyncRowFile | undefined {
  const input = trainingInput(config, outDir);
  if (input.kind === 'source') return { path: input.path, tensor: EXTRACTED_TENSOR };
  if (!existsSync(input.descriptor)) return undefined;
  const d = readConcatDescriptor(input.descriptor);
  if (d.materialized && existsSync(resolve(outDir, d.materialized.file))) return { path: resolve(outDir, d.materialized.file), tensor: d.materialized.tensor };
  return undefined;
}
