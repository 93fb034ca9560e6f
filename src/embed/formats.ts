/**
 * Recognise a static-embedding model from its safetensors tensors and config.json, and turn it into one
 * in-memory form: a row matrix (float32, or float16 bits decoded on the fly), an optional per-token row mapping
 * and per-token scale (model2vec's vocabulary quantization), and the defaults that file format implies.
 * Pure, browser-safe.
 */
import { decodeToF32 } from '../safetensors/dtype.ts';
import { SafetensorsError, rowWidth, type TensorInfo } from '../safetensors/header.ts';
import type { SafetensorsBuffer } from '../safetensors/bytes.ts';
import { EXTRACTED_TENSOR, MODEL2VEC_TENSOR, SAVED_TENSOR } from '../layout/tensor-names.ts';
import { isSavedModelConfig, readSavedModelConfig, savedInt8Step } from '../layout/saved-config.ts';
import { NonFiniteRows, describeNonFiniteRows } from '../util/non-finite.ts';

export type ModelFormat = 'wordllama-ts' | 'wordllama' | 'model2vec' | 'sentence-transformers' | 'raw';

/** How rows are kept in memory: f32 (fast, 4 bytes/value) or f16 (half the memory, one table lookup/value). */
export type Precision = 'f32' | 'f16';

export interface TokenMatrix {
  rows: number;
  /** Full row width in the file. */
  dim: number;
  f32?: Float32Array;
  /** float16 bits, when precision is f16 and the file stores F16. */
  f16?: Uint16Array;
  /** token id → matrix row (vocabulary-quantized model2vec). */
  mapping?: Int32Array;
  /** token id → scale of its row (vocabulary-quantized model2vec). */
  scale?: Float32Array;
  /** Number of token ids the matrix covers (mapping length, or rows). */
  ids: number;
}

export interface FormatDefaults {
  format: ModelFormat;
  /** L2 normalisation unless the caller says otherwise. */
  normalize: boolean;
  /** Token truncation (0 = none). */
  maxLength: number;
  /** model2vec's pre-truncation of the text to maxLength × median token length characters. */
  charTruncation: boolean;
  /** Token whose id never counts (our pad token, e.g. </s> or <eos>). */
  padToken?: string;
  padTokenId?: number;
  binarized: boolean;
  /** Tensor the rows came from. */
  tensor: string;
  /** Multiplier of the stored values (our int8 saves: the matrix's step), applied once when reading. */
  rowScale?: number;
}

function tensorNames(st: SafetensorsBuffer): string[] {
  return [...st.header.tensors.keys()];
}

function require2d(t: TensorInfo, source: string): void {
  if (t.shape.length !== 2) {
    throw new SafetensorsError(`${source}: tensor "${t.name}" has shape ${JSON.stringify(t.shape)}, expected [n_vocab, dim]`);
  }
}

/** sentence-transformers' module type that L2-normalises the pooled vector (sentence_transformers/models/Normalize.py). */
const ST_NORMALIZE_MODULE = 'sentence_transformers.models.Normalize';

/**
 * The config a sentence-transformers folder implies: the keys of its config_sentence_transformers.json, and
 * `normalize` = whether modules.json lists a Normalize module, as SentenceTransformer runs the modules it lists
 * in order (StaticEmbedding's mean, then Normalize when present). Without a modules.json, a `normalize` in the
 * config (model2vec-rs's convention for these folders) is kept.
 */
export function sentenceTransformersConfig(stConfig: Record<string, unknown> | undefined, modules: unknown): Record<string, unknown> {
  if (!Array.isArray(modules)) return { model_type: 'sentence-transformers', ...stConfig };
  const normalize = modules.some((m) => (m as { type?: unknown } | null)?.type === ST_NORMALIZE_MODULE);
  return { model_type: 'sentence-transformers', ...stConfig, normalize };
}

/** Pick the embedding tensor and the format's defaults. */
export function detectFormat(st: SafetensorsBuffer, config: Record<string, unknown> | undefined, source: string): FormatDefaults {
  const names = tensorNames(st);
  const has = (n: string) => st.header.tensors.has(n);
  const modelType = typeof config?.model_type === 'string' ? config.model_type : undefined;
  const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d);
  if (has(MODEL2VEC_TENSOR)) {
    // model2vec: Python's StaticModel defaults normalize to False when config.json does not say.
    return {
      format: 'model2vec',
      normalize: bool(config?.normalize, false),
      maxLength: 512,
      charTruncation: true,
      binarized: false,
      tensor: MODEL2VEC_TENSOR,
    };
  }
  if (has(SAVED_TENSOR)) {
    if (isSavedModelConfig(config)) {
      const saved = readSavedModelConfig(config, `${source}: config.json`);
      const step = savedInt8Step(saved, rowWidth(st.info(SAVED_TENSOR)), `${source}: config.json`);
      return {
        format: 'wordllama-ts',
        normalize: saved.normalize,
        maxLength: saved.max_length,
        charTruncation: false,
        padToken: saved.pad_token,
        padTokenId: saved.pad_token_id,
        binarized: saved.binarized,
        tensor: SAVED_TENSOR,
        ...(step === undefined ? {} : { rowScale: step }),
      };
    }
    if (modelType === 'model2vec') {
      return { format: 'model2vec', normalize: bool(config?.normalize, false), maxLength: 512, charTruncation: true, binarized: false, tensor: SAVED_TENSOR };
    }
    // WordLlama (no config, or its own) and sentence-transformers StaticEmbedding: plain mean, no truncation.
    return {
      format: modelType === 'sentence-transformers' ? 'sentence-transformers' : 'wordllama',
      normalize: bool(config?.normalize, false),
      maxLength: 0,
      charTruncation: false,
      binarized: bool(config?.binarized ?? config?.binary, false),
      tensor: SAVED_TENSOR,
    };
  }
  const twoD = names.filter((n) => st.header.tensors.get(n)!.shape.length === 2);
  if (has(EXTRACTED_TENSOR) || twoD.length === 1) {
    // A raw matrix from `pipeline extract` (tensor "embedding"), or any single 2-D tensor.
    return {
      format: 'raw',
      normalize: false,
      maxLength: 0,
      charTruncation: false,
      binarized: false,
      tensor: has(EXTRACTED_TENSOR) ? EXTRACTED_TENSOR : twoD[0]!,
    };
  }
  throw new SafetensorsError(
    `${source}: no embedding tensor found (expected "embedding.weight", "embeddings" or "embedding"; has: ${names.join(', ') || 'none'})`,
  );
}

/** Build the in-memory matrix for a detected format; `rowScale` multiplies every stored value (int8 codes → values). */
export function readTokenMatrix(st: SafetensorsBuffer, tensor: string, precision: Precision, source: string, rowScale?: number): TokenMatrix {
  const info = st.info(tensor);
  require2d(info, source);
  const rows = info.shape[0]!;
  const dim = rowWidth(info);
  const m: TokenMatrix = { rows, dim, ids: rows };
  if (precision === 'f16' && info.dtype === 'F16') {
    const bytes = st.bytes(tensor);
    m.f16 = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2) : new Uint16Array(bytes.slice().buffer);
  } else {
    m.f32 = decodeToF32(st.bytes(tensor), info.dtype);
    if (rowScale !== undefined) for (let i = 0; i < m.f32.length; i++) m.f32[i] = m.f32[i]! * rowScale;
  }
  if (st.header.tensors.has('mapping')) {
    const map = st.info('mapping');
    const values = decodeToF32(st.bytes('mapping'), map.dtype);
    const mapping = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const r = values[i]!;
      if (!Number.isInteger(r) || r < 0 || r >= rows) {
        throw new SafetensorsError(`${source}: mapping[${i}] = ${r} is not a row of "${tensor}" (0..${rows - 1})`);
      }
      mapping[i] = r;
    }
    m.mapping = mapping;
    m.ids = mapping.length;
  }
  if (st.header.tensors.has('weights')) {
    const w = st.f32('weights');
    if (w.length !== m.ids) throw new SafetensorsError(`${source}: "weights" has ${w.length} values but the model covers ${m.ids} tokens`);
    m.scale = w;
  }
  refuseNonFinite(m, tensor, source);
  return m;
}

/**
 * Every format's rows pass through here, so this is where NaN/±Inf are caught: one such value makes the mean of
 * every text holding that token NaN (and its JSON invalid, its similarities meaningless). No real model has them:
 * they mean a broken conversion or a diverged training, so the model is refused, not silently patched.
 */
function refuseNonFinite(m: TokenMatrix, tensor: string, source: string): void {
  const found = new NonFiniteRows(m.dim);
  if (m.f16) found.addF16Bits(m.f16, 0);
  else found.addF32(m.f32!, 0);
  if (found.count > 0) {
    throw new SafetensorsError(
      `${source}: tensor "${tensor}": ${describeNonFiniteRows(found, m.rows)}; the model is corrupt (a failed conversion or a diverged training): rebuild it, e.g. pipeline save from a good checkpoint`,
    );
  }
  if (m.scale) {
    const bad = new NonFiniteRows(1);
    bad.addF32(m.scale, 0);
    if (bad.count > 0) {
      throw new SafetensorsError(
        `${source}: tensor "weights": ${bad.count} of ${m.ids} token scales are NaN or ±Inf (first: token ${bad.first}); the model is corrupt: rebuild it`,
      );
    }
  }
}
