/**
 * The trainer's view of a loaded config: `[training]` and `[matryoshka]` (validated, with their defaults,
 * when the config loaded: src/config/training-table.ts) renamed to the trainer's camelCase fields.
 */
import type { ModelConfig, TrainingTable } from '../config/types.ts';
import type { DatasetSpec } from '../data/types.ts';
import type { TeacherConfig } from '../config/teacher-table.ts';
import type { BinarizeMode, TokenWeightMode } from '../model/modes.ts';

export type SamplerMode = TrainingTable['sampler'];

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
  tokenWeightInit: TrainingTable['token_weight_init'];
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
  /** `[[training.datasets]]`, checked at load. */
  datasets?: DatasetSpec[];
  /** `[training.teacher]`, checked at load; undefined = no distillation. */
  teacher?: TeacherConfig;
  /** Matryoshka dims, descending; dims[0] = projection width. */
  dims: number[];
  /** Loss weight per dim (same order as dims). */
  dimWeights: number[];
  /** Output width of the projection. */
  projectionDim: number;
}

/** The trainer's fields of a loaded config. */
export function parseTrainConfig(config: ModelConfig): TrainConfig {
  const t = config.training;
  const m = config.matryoshka;
  return {
    batchSize: t.batch_size,
    epochs: t.epochs,
    maxSteps: t.max_steps,
    lr: t.lr,
    warmupSteps: t.warmup_steps,
    weightDecay: t.weight_decay,
    gradClip: t.grad_clip,
    seed: t.seed,
    evalSteps: t.eval_steps,
    evalFile: t.eval_file,
    maxLength: t.max_length ?? config.tokenizer.max_length,
    norm: t.norm,
    binarize: t.binarize,
    scale: t.scale,
    tokenWeights: t.token_weights,
    stopwordWeight: t.stopword_weight,
    tokenWeightInit: t.token_weight_init,
    sifA: t.sif_a,
    tokenLrScale: t.token_lr_scale,
    tokenDelta: t.token_delta,
    tokenDeltaLrScale: t.token_delta_lr_scale,
    tokenDeltaWeightDecay: t.token_delta_weight_decay,
    initCheckpoint: t.init_checkpoint,
    sampler: t.sampler,
    symmetric: t.symmetric,
    binaryDenseWeight: t.binary_dense_weight,
    hardNegatives: t.hard_negatives,
    maskDuplicates: t.mask_duplicates,
    threads: t.threads,
    whiten: t.whiten,
    whitenSamples: t.whiten_samples,
    memoryCacheMb: t.memory_cache_mb,
    datasets: t.datasets,
    teacher: t.teacher,
    dims: m.dims,
    dimWeights: m.weights,
    projectionDim: m.projection_dim,
  };
}

/** Warmup steps for a run of `totalSteps`: the configured number, else 10% of the run capped at 256. */
export function warmupFor(cfg: TrainConfig, totalSteps: number): number {
  return cfg.warmupSteps ?? Math.min(256, Math.round(totalSteps * 0.1));
}
