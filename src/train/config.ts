/**
 * The `[training]` and `[matryoshka]` tables of a model config, validated into a typed `TrainConfig` with
 * defaults (WordLlama's recipe where it has one). Errors name the file, table and key (`validateTable`).
 * WordLlama's own key names (`learning_rate`, `num_train_epochs`, ...) are accepted so its configs load.
 */
import type { ModelConfig } from '../config/types.ts';
import { resolveConfigRelativePath } from '../config/load.ts';
import {
  ConfigError,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  positiveInt,
  positiveInts,
  positiveNumber,
  validateTable,
  oneOfInts,
  type TableSpec,
} from '../config/schema.ts';

export type BinarizeMode = 'none' | 'ste' | 'tanh' | 'reste';
export type TokenWeightMode = 'learned' | 'frozen' | 'none';
export type SamplerMode = 'proportional' | 'mixed';

export interface TrainConfig {
  batchSize: number;
  epochs: number;
  /** The run's length in optimizer steps when set (replaces epochs; the data is cycled as needed). */
  maxSteps?: number;
  lr: number;
  /** Linear warmup steps; undefined = 10% of the total steps, at most 256. */
  warmupSteps?: number;
  /** AdamW decoupled decay, applied to the projection kernel only (not the bias, not the token weights). */
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 disables. */
  gradClip: number;
  seed: number;
  /** Evaluate every N steps (and always at the end); 0 = only at the end. */
  evalSteps: number;
  /** STS file (`sentence1\tsentence2\tscore` with a header), absolute; undefined = no evaluation. */
  evalFile?: string;
  /** Tokens kept per text. */
  maxLength: number;
  /** L2-normalise the pooled vector before binarization (the model's `norm`). */
  norm: boolean;
  binarize: BinarizeMode;
  /** MNRL similarity scale (sentence-transformers default 20). */
  scale: number;
  tokenWeights: TokenWeightMode;
  /**
   * stopwords: w = 1, English stopwords `stopwordWeight` (WordLlama). sif: gelu(w_t) = gelu(1)·a/(a + p_t) with
   * p_t the token's frequency in the training texts (smooth inverse frequency, Arora et al. 2017).
   */
  tokenWeightInit: 'stopwords' | 'sif';
  /** SIF's a. */
  sifA: number;
  /** Start from this checkpoint's parameters (model.safetensors or its folder) instead of the init. */
  initCheckpoint?: string;
  /** Learning-rate multiplier for the token weights. */
  tokenLrScale: number;
  /**
   * Learn a per-token offset D_t added to each token's projected row (row_t = gelu(w_t)·E_t·W + b + D_t): the
   * saved matrix is fine-tuned row by row instead of only through the shared projection. Off in WordLlama.
   */
  tokenDelta: boolean;
  /** Learning-rate multiplier for the token offsets. */
  tokenDeltaLrScale: number;
  /** Decoupled weight decay of the token offsets (pulls rarely seen tokens back towards the projection). */
  tokenDeltaWeightDecay: number;
  /** Initial weight of English stopwords found in the vocabulary (WordLlama: 0.1); 1 disables. */
  stopwordWeight: number;
  /** proportional: each batch from one dataset (WordLlama / sentence-transformers PROPORTIONAL); mixed: batches mix all data. */
  sampler: SamplerMode;
  /** With binarize: weight of an extra loss on the dense vectors (0 = sign vectors only, WordLlama). */
  binaryDenseWeight: number;
  /** MNRL in both directions (anchor → positives and positive → anchors), averaged. */
  symmetric: boolean;
  /** Use a record's `negative` as an extra candidate when present. */
  hardNegatives: boolean;
  /** Leave in-batch candidates with the same text as an anchor's anchor or positive out of its MNRL softmax. */
  maskDuplicates: boolean;
  /** 2: a worker_thread with its own TF.js wasm instance runs half of the projection's matMuls (wasm only). */
  threads: number;
  /** Soft-whitening power p applied after training (whiten.ts; 0 = off, 0.5 = full whitening). */
  whiten: number;
  /** Training texts sampled to fit the whitening. */
  whitenSamples: number;
  /** Keep an in-memory f32 copy of the input matrix when it is at most this many MB; else gather rows from disk. */
  memoryCacheMb: number;
  /** `[[training.datasets]]` tables, passed raw to src/data (which validates them). */
  datasets?: Record<string, unknown>[];
  /** `[training.teacher]`, passed raw to the teacher module. */
  teacher?: Record<string, unknown>;
  /** Matryoshka dims, descending; dims[0] = projection width. */
  dims: number[];
  /** Loss weight per dim (same order as dims). */
  dimWeights: number[];
  /** Output width of the projection. */
  projectionDim: number;
}

const TRAINING_KEYS: TableSpec = {
  batch_size: { kind: 'int', check: positiveInt, doc: 'pairs per step (default 512)' },
  epochs: { kind: 'int', check: positiveInt, doc: 'passes over the data (default 1)' },
  max_steps: { kind: 'int', check: positiveInt, doc: 'run exactly this many steps (replaces epochs)' },
  lr: { kind: 'number', check: positiveNumber, doc: 'peak learning rate (default 1e-2)' },
  warmup_steps: { kind: 'int', check: nonNegativeInt, doc: 'linear warmup steps' },
  weight_decay: { kind: 'number', check: nonNegativeNumber, doc: 'AdamW decay of the projection kernel (default 0)' },
  grad_clip: { kind: 'number', check: nonNegativeNumber, doc: 'global gradient-norm clip (default 1, 0 = off)' },
  seed: { kind: 'int', check: nonNegativeInt, doc: 'seed of init and shuffling (default 42)' },
  eval_steps: { kind: 'int', check: nonNegativeInt, doc: 'evaluate every N steps (default 100, 0 = end only)' },
  eval_file: { kind: 'string', doc: 'STS TSV (sentence1, sentence2, score)' },
  max_length: { kind: 'int', check: positiveInt, doc: 'tokens kept per text' },
  norm: { kind: 'bool', doc: 'L2-normalise pooled vectors before binarize' },
  binarize: { kind: 'string', check: oneOf('none', 'ste', 'tanh', 'reste'), doc: 'sign with straight-through gradient' },
  scale: { kind: 'number', check: positiveNumber, doc: 'MNRL cosine scale (default 20)' },
  token_weights: { kind: 'string', check: oneOf('learned', 'frozen', 'none'), doc: 'per-token weights (default learned)' },
  token_weight_init: { kind: 'string', check: oneOf('stopwords', 'sif'), doc: 'stopwords (WordLlama) | sif (frequency prior)' },
  sif_a: { kind: 'number', check: positiveNumber, doc: 'SIF smoothing a (default 1e-3)' },
  init_checkpoint: { kind: 'string', doc: 'start from a checkpoint (e.g. a dense run before binarized training)' },
  token_lr_scale: { kind: 'number', check: positiveNumber, doc: 'token-weight learning-rate multiplier (default 1)' },
  token_delta: { kind: 'bool', doc: 'learn a per-token offset of each output row (default false)' },
  token_delta_lr_scale: { kind: 'number', check: positiveNumber, doc: 'token-offset learning-rate multiplier (default 1)' },
  token_delta_weight_decay: { kind: 'number', check: nonNegativeNumber, doc: 'token-offset weight decay (default 0)' },
  stopword_weight: { kind: 'number', check: nonNegativeNumber, doc: 'initial weight of English stopwords (default 0.1)' },
  sampler: { kind: 'string', check: oneOf('proportional', 'mixed'), doc: 'batch composition (default proportional)' },
  binary_dense_weight: { kind: 'number', check: nonNegativeNumber, doc: 'with binarize: weight of the dense-vector loss (default 0)' },
  symmetric: { kind: 'bool', doc: 'symmetric MNRL (default false)' },
  hard_negatives: { kind: 'bool', doc: "use records' negatives (default true)" },
  threads: { kind: 'int', check: oneOfInts(1, 2), doc: 'threads for the projection matMuls on wasm: 1 or 2 (default 2)' },
  whiten: { kind: 'number', check: nonNegativeNumber, doc: 'soft-whitening power folded into the saved model (default 0 = off; 0.25 = ours)' },
  whiten_samples: { kind: 'int', check: positiveInt, doc: 'training texts sampled to fit the whitening (default 20000)' },
  mask_duplicates: { kind: 'bool', doc: 'drop in-batch negatives whose text equals the anchor or its positive (default false)' },
  memory_cache_mb: { kind: 'number', check: nonNegativeNumber, doc: 'max MB for an in-memory f32 copy of the matrix' },
  datasets: { kind: 'table[]', doc: '[[training.datasets]] entries' },
  teacher: { kind: 'table', doc: '[training.teacher] distillation options' },
  // WordLlama's names (sentence-transformers TrainingArguments), mapped or ignored:
  learning_rate: { kind: 'number', check: positiveNumber, doc: 'alias of lr' },
  num_train_epochs: { kind: 'int', check: positiveInt, doc: 'alias of epochs' },
  per_device_train_batch_size: { kind: 'int', check: positiveInt, doc: 'alias of batch_size' },
  binarizer_ste: { kind: 'string', check: oneOf('ste', 'tanh', 'reste'), doc: 'ignored (use binarize = "ste" | "tanh" | "reste")' },
  multi_dataset_batch_sampler: { kind: 'string', check: oneOf('PROPORTIONAL', 'ROUND_ROBIN'), doc: 'ignored (see sampler)' },
  output_dir: { kind: 'string', doc: 'ignored (outputs go to weights/<name>/)' },
  evaluation_strategy: { kind: 'string', doc: 'ignored' },
  save_steps: { kind: 'int', doc: 'ignored (checkpoints are written at each evaluation)' },
  fp16: { kind: 'bool', doc: 'ignored (training is f32)' },
  include_num_input_tokens_seen: { kind: 'bool', doc: 'ignored' },
};

const MATRYOSHKA_KEYS: TableSpec = {
  dims: { kind: 'int[]', check: positiveInts, doc: 'e.g. [1024, 512, 256, 128, 64]' },
  weights: { kind: 'number[]', doc: 'loss weight per dim (default 1 each)' },
  projection_dim: { kind: 'int', check: positiveInt, doc: 'projection output width (default max(dims))' },
};

/** Validate `[training]` + `[matryoshka]` of a loaded config. */
export function parseTrainConfig(config: ModelConfig): TrainConfig {
  const file = config.file;
  const t = validateTable(file, '[training]', config.training ?? {}, TRAINING_KEYS);
  const m = validateTable(file, '[matryoshka]', config.matryoshka ?? {}, MATRYOSHKA_KEYS);

  const pick = <T>(key: string, alias: string): T | undefined => {
    if (t[key] !== undefined && t[alias] !== undefined) {
      throw new ConfigError(file, `[training] ${alias}`, `is an alias of ${key}; set only one of them`);
    }
    return (t[key] ?? t[alias]) as T | undefined;
  };

  const projectionDim = (m.projection_dim as number | undefined) ?? Math.max(...((m.dims as number[] | undefined) ?? [Math.min(config.dim, 256)]));
  const rawDims = (m.dims as number[] | undefined) ?? [projectionDim];
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
  let dimWeights = dims.map(() => 1);
  if (m.weights !== undefined) {
    const w = m.weights as number[];
    if (w.length !== rawDims.length || w.some((x) => !(x >= 0))) {
      throw new ConfigError(file, '[matryoshka] weights', `expected ${rawDims.length} non-negative numbers (one per dim), got ${JSON.stringify(w)}`);
    }
    dimWeights = dims.map((d) => w[rawDims.indexOf(d)]!);
  }

  const binarize = (t.binarize as BinarizeMode | undefined) ?? 'none';
  const evalFile = t.eval_file !== undefined ? resolveConfigRelativePath(t.eval_file as string, file) : undefined;
  return {
    batchSize: pick<number>('batch_size', 'per_device_train_batch_size') ?? 512,
    epochs: pick<number>('epochs', 'num_train_epochs') ?? 1,
    maxSteps: t.max_steps as number | undefined,
    lr: pick<number>('lr', 'learning_rate') ?? 1e-2,
    warmupSteps: t.warmup_steps as number | undefined,
    weightDecay: (t.weight_decay as number | undefined) ?? 0,
    gradClip: (t.grad_clip as number | undefined) ?? 1,
    seed: (t.seed as number | undefined) ?? 42,
    evalSteps: (t.eval_steps as number | undefined) ?? 100,
    evalFile,
    maxLength: (t.max_length as number | undefined) ?? config.tokenizer.max_length,
    norm: (t.norm as boolean | undefined) ?? false,
    binarize,
    scale: (t.scale as number | undefined) ?? 20,
    tokenWeights: (t.token_weights as TokenWeightMode | undefined) ?? 'learned',
    stopwordWeight: (t.stopword_weight as number | undefined) ?? 0.1,
    tokenWeightInit: (t.token_weight_init as 'stopwords' | 'sif' | undefined) ?? 'stopwords',
    sifA: (t.sif_a as number | undefined) ?? 1e-3,
    tokenLrScale: (t.token_lr_scale as number | undefined) ?? 1,
    tokenDelta: (t.token_delta as boolean | undefined) ?? false,
    tokenDeltaLrScale: (t.token_delta_lr_scale as number | undefined) ?? 1,
    tokenDeltaWeightDecay: (t.token_delta_weight_decay as number | undefined) ?? 0,
    initCheckpoint: t.init_checkpoint !== undefined ? resolveConfigRelativePath(t.init_checkpoint as string, file) : undefined,
    sampler: (t.sampler as SamplerMode | undefined) ?? 'proportional',
    symmetric: (t.symmetric as boolean | undefined) ?? false,
    binaryDenseWeight: (t.binary_dense_weight as number | undefined) ?? 0,
    hardNegatives: (t.hard_negatives as boolean | undefined) ?? true,
    maskDuplicates: (t.mask_duplicates as boolean | undefined) ?? false,
    threads: (t.threads as number | undefined) ?? 2,
    whiten: (t.whiten as number | undefined) ?? 0,
    whitenSamples: (t.whiten_samples as number | undefined) ?? 20000,
    memoryCacheMb: (t.memory_cache_mb as number | undefined) ?? 1024,
    datasets: t.datasets as Record<string, unknown>[] | undefined,
    teacher: t.teacher as Record<string, unknown> | undefined,
    dims,
    dimWeights,
    projectionDim,
  };
}

/** Warmup steps for a run of `totalSteps`: the configured number, else 10% of the run capped at 256. */
export function warmupFor(cfg: TrainConfig, totalSteps: number): number {
  return cfg.warmupSteps ?? Math.min(256, Math.round(totalSteps * 0.1));
}
