/**
 * model2vec's folder, as its `save_pretrained` writes it (model2vec/persistence/persistence.py): model.safetensors
 * with the tensor "embeddings" [n_vocab, dim] (vocabulary-quantized: [clusters, dim] plus "mapping" and
 * "weights" per token), config.json with its keys (`embedding_dtype`, and `vocabulary_quantization` = the
 * cluster count when quantized), tokenizer.json, modules.json (so sentence-transformers loads the folder as a
 * StaticEmbedding too).
 */
import { basename, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { StaticModel } from '../embed/model.ts';
import { MODEL2VEC_TENSOR } from '../layout/tensor-names.ts';
import { MODEL_CONFIG_FILE, TOKENIZER_FILE } from '../layout/file-names.ts';
import { writeSafetensors } from '../safetensors/writer.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { effectiveRows, encodeRows, type ExportDtype } from './rows.ts';
import { quantizeVocabulary, type VocabQuantizeOptions } from './vocab-quantize.ts';

export const MODEL2VEC_WEIGHTS_FILE = 'model.safetensors';
export const MODULES_FILE = 'modules.json';

export interface ExportOptions {
  /** Storage type of the rows (default f32, model2vec's own default). */
  dtype?: ExportDtype;
  /** model2vec only: share N cluster rows among the tokens (model2vec's vocabulary quantization). */
  vocabQuantize?: number;
  vocabQuantizeOptions?: VocabQuantizeOptions;
}

/** model2vec's `embedding_dtype` (numpy's dtype name) of the stored rows. */
const NUMPY_DTYPE = { F32: 'float32', F16: 'float16', I8: 'int8' } as const;

/** Write `model` as a model2vec folder; returns the files written (relative to `dir`). */
export async function toModel2Vec(model: StaticModel, dir: string, opts: ExportOptions = {}): Promise<string[]> {
  const dim = model.dim;
  const vocab = model.info.vocabSize;
  const values = effectiveRows(model);
  const q = opts.vocabQuantize === undefined ? undefined : quantizeVocabulary(values, vocab, dim, opts.vocabQuantize, opts.vocabQuantizeOptions);
  await mkdir(dir, { recursive: true });
  // The dtype applies to the rows only, after clustering, as model2vec's quantize_model orders it.
  const rows = q ? q.clusters : vocab;
  const enc = encodeRows(q ? q.embeddings : values, rows, dim, opts.dtype ?? 'f32');
  await writeSafetensors(join(dir, MODEL2VEC_WEIGHTS_FILE), [
    { name: MODEL2VEC_TENSOR, dtype: enc.dtype, shape: [rows, dim], data: enc.bytes },
    ...(q
      ? [
          { name: 'mapping', dtype: 'I32' as const, shape: [vocab], data: new Uint8Array(q.mapping.buffer) },
          { name: 'weights', dtype: 'F32' as const, shape: [vocab], data: q.weights },
        ]
      : []),
  ]);
  const source = model.info.config ?? {};
  await writeJsonAtomic(join(dir, MODEL_CONFIG_FILE), {
    model_type: 'model2vec',
    architectures: ['StaticModel'],
    tokenizer_name: typeof source.name === 'string' ? source.name : basename(dir),
    apply_pca: null,
    apply_zipf: null,
    hidden_dim: dim,
    seq_length: 1000000,
    normalize: model.normalize,
    embedding_dtype: NUMPY_DTYPE[enc.dtype as keyof typeof NUMPY_DTYPE],
    ...(q ? { vocabulary_quantization: q.clusters } : {}),
    exported_from: { model_type: source.model_type ?? model.info.format, format: model.info.format },
  });
  await writeFileAtomic(join(dir, TOKENIZER_FILE), JSON.stringify(model.tokenizer.json));
  // model2vec's own modules.json puts the StaticEmbedding at the folder itself (path ".").
  await writeJsonAtomic(join(dir, MODULES_FILE), [
    { idx: 0, name: '0', path: '.', type: 'sentence_transformers.models.StaticEmbedding' },
    ...(model.normalize ? [{ idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' }] : []),
  ]);
  return [MODEL2VEC_WEIGHTS_FILE, MODEL_CONFIG_FILE, TOKENIZER_FILE, MODULES_FILE];
}
