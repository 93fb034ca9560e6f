/**
 * `[training]`, `[matryoshka]` and `[save]`: what the trainer and `save` read, declared once with their
 * defaults (WordLlama's recipe where it has one). WordLlama's own key names (`learning_rate`,
 * `num_train_epochs`, ...) are accepted so its configs load.
 */
import { DATASETS_FIELD } from '../data/spec.ts';
import {
  ConfigError,
  alias,
  bool,
  choice,
  ignored,
  int,
  ints,
  nonNegativeInt,
  nonNegativeNumber,
  num,
  nums,
  oneOfInts,
  path,
  positiveInt,
  positiveInts,
  positiveNumber,
  str,
  type TableOf,
} from './schema.ts';
import { TEACHER_FIELD } from './teacher-table.ts';

export const BINARIZE_MODES = ['none', 'ste', 'tanh', 'reste'] as const;

export const TRAINING_KEYS = {
  batch_size: int({ check: positiveInt, default: 512, doc: 'pairs per step' }),
  epochs: int({ check: positiveInt, default: 1, doc: 'passes over the data' }),
  max_steps: int({ check: positiveInt, doc: 'run exactly this many steps (replaces epochs)' }),
  lr: num({ check: positiveNumber, default: 1e-2, doc: 'peak learning rate' }),
  warmup_steps: int({ check: nonNegativeInt, doc: 'linear warmup steps (default 10% of the steps, at most 256)' }),
  weight_decay: num({ check: nonNegativeNumber, default: 0, doc: 'AdamW decay of the projection kernel' }),
  grad_clip: num({ check: nonNegativeNumber, default: 1, doc: 'global gradient-norm clip (0 = off)' }),
  seed: int({ check: nonNegativeInt, default: 42, doc: 'seed of init and shuffling' }),
  eval_steps: int({ check: nonNegativeInt, default: 100, doc: 'evaluate every N steps (0 = end only)' }),
  eval_file: path({ doc: 'STS TSV (sentence1, sentence2, score); none = no evaluation' }),
  max_length: int({ check: positiveInt, doc: 'tokens kept per text (default [tokenizer] max_length)' }),
  norm: bool({ default: false, doc: 'L2-normalise pooled vectors before binarize' }),
  binarize: choice(BINARIZE_MODES, { default: 'none', doc: 'sign binarization with a straight-through gradient' }),
  scale: num({ check: positiveNumber, default: 20, doc: 'MNRL cosine scale' }),
  token_weights: choice(['learned', 'frozen', 'none'], { default: 'learned', doc: 'per-token weights' }),
  token_weight_init: choice(['stopwords', 'sif'], { default: 'stopwords', doc: 'init of the token weights: WordLlama stopwords or a frequency prior' }),
  sif_a: num({ check: positiveNumber, default: 1e-3, doc: 'SIF smoothing a' }),
  init_checkpoint: path({ doc: 'start from a checkpoint (e.g. a dense run before binarized training)' }),
  token_lr_scale: num({ check: positiveNumber, default: 1, doc: 'token-weight learning-rate multiplier' }),
  token_delta: bool({ default: false, doc: 'learn a per-token offset of each output row' }),
  token_delta_lr_scale: num({ check: positiveNumber, default: 1, doc: 'token-offset learning-rate multiplier' }),
  token_delta_weight_decay: num({ check: nonNegativeNumber, default: 0, doc: 'token-offset weight decay' }),
  stopword_weight: num({ check: nonNegativeNumber, default: 0.1, doc: 'initial weight of English stopwords' }),
  sampler: choice(['proportional', 'mixed'], { default: 'proportional', doc: 'batch composition' }),
  binary_dense_weight: num({ check: nonNegativeNumber, default: 0, doc: 'with binarize: weight of the dense-vector loss' }),
  symmetric: bool({ default: false, doc: 'symmetric MNRL' }),
  hard_negatives: bool({ default: true, doc: "use records' negatives" }),
  threads: int({ check: oneOfInts(1, 2), default: 2, doc: 'threads for the projection matMuls on wasm: 1 or 2' }),
  whiten: num({ check: nonNegativeNumber, default: 0, doc: 'soft-whitening power folded into the saved model (0 = off; 0.25 = ours)' }),
  whiten_samples: int({ check: positiveInt, default: 20000, doc: 'training texts sampled to fit the whitening' }),
  mask_duplicates: bool({ default: false, doc: 'drop in-batch negatives whose text equals the anchor or its positive' }),
  memory_cache_mb: num({ check: nonNegativeNumber, default: 1024, doc: 'max MB for an in-memory f32 copy of the matrix' }),
  datasets: DATASETS_FIELD,
  teacher: TEACHER_FIELD,
  // WordLlama's names (sentence-transformers TrainingArguments), mapped or ignored:
  learning_rate: alias('lr', num({ check: positiveNumber })),
  num_train_epochs: alias('epochs', int({ check: positiveInt })),
  per_device_train_batch_size: alias('batch_size', int({ check: positiveInt })),
  binarizer_ste: ignored(choice(['ste', 'tanh', 'reste'], { doc: 'ignored (use binarize = "ste" | "tanh" | "reste")' })),
  multi_dataset_batch_sampler: ignored(choice(['PROPORTIONAL', 'ROUND_ROBIN'], { doc: 'ignored (see sampler)' })),
  output_dir: ignored(str({ doc: 'ignored (outputs go to weights/<name>/)' })),
  evaluation_strategy: ignored(str({ doc: 'ignored' })),
  save_steps: ignored(int({ doc: 'ignored (checkpoints are written at each evaluation)' })),
  fp16: ignored(bool({ doc: 'ignored (training is f32)' })),
  include_num_input_tokens_seen: ignored(bool({ doc: 'ignored' })),
};

/** `[training]`, validated, with defaults. */
export type TrainingTable = TableOf<typeof TRAINING_KEYS>;

export const MATRYOSHKA_KEYS = {
  dims: ints({ check: positiveInts, doc: 'e.g. [1024, 512, 256, 128, 64] (default [projection_dim])' }),
  weights: nums({ doc: 'loss weight per dim (default 1 each)' }),
  projection_dim: int({ check: positiveInt, doc: 'projection output width (default max(dims), else min(dim, 256))' }),
};

/** `[matryoshka]` resolved against the input width: dims descending, one weight per dim, the projection width. */
export interface MatryoshkaConfig {
  /** Matryoshka dims, descending; dims[0] = projection width. */
  dims: number[];
  /** Loss weight per dim (same order as dims). */
  weights: number[];
  /** Output width of the projection. */
  projection_dim: number;
}

/** Defaults that depend on the input width (`dim`), and the checks across keys. */
export function resolveMatryoshka(file: string, m: TableOf<typeof MATRYOSHKA_KEYS>, dim: number): MatryoshkaConfig {
  const projectionDim = m.projection_dim ?? Math.max(...(m.dims ?? [Math.min(dim, 256)]));
  const rawDims = m.dims ?? [projectionDim];
  const dims = [...new Set(rawDims)].sort((a, b) => b - a);
  if (dims.length !== rawDims.length) throw new ConfigError(file, '[matryoshka] dims', `${JSON.stringify(rawDims)} repeats a dim`);
  const tooBig = dims.filter((d) => d > projectionDim);
  if (tooBig.length > 0) {
    throw new ConfigError(
      file,
      '[matryoshka] dims',
      `${tooBig.join(', ')} exceed the projection width ${projectionDim} (lower them or raise [matryoshka] projection_dim)`,
    );
  }
  let weights = dims.map(() => 1);
  if (m.weights !== undefined) {
    const w = m.weights;
    if (w.length !== rawDims.length || w.some((x) => !(x >= 0))) {
      throw new ConfigError(file, '[matryoshka] weights', `expected ${rawDims.length} non-negative numbers (one per dim), got ${JSON.stringify(w)}`);
    }
    weights = dims.map((d) => w[rawDims.indexOf(d)]!);
  }
  return { dims, weights, projection_dim: projectionDim };
}

export const SAVE_KEYS = {
  dims: ints({ check: positiveInts, doc: 'widths to save (default the [matryoshka] dims)' }),
};

/** `[save]`, validated. */
export type SaveTable = TableOf<typeof SAVE_KEYS>;
