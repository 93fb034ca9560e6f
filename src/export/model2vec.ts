/**
 * model2vec's folder, as its `StaticModel.save_pretrained` writes it (model2vec/hf_utils.py): model.safetensors
 * with one tensor "embeddings" [n_vocab, dim], config.json with its keys, tokenizer.json, modules.json (so
 * sentence-transformers loads the folder as a StaticEmbedding too).
 */
import { basename, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { StaticModel } from '../embed/model.ts';
import { MODEL2VEC_TENSOR } from '../layout/tensor-names.ts';
import { MODEL_CONFIG_FILE, TOKENIZER_FILE } from '../layout/file-names.ts';
import { writeSafetensors } from '../safetensors/writer.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { effectiveRows, encodeRows, type ExportDtype } from './rows.ts';

export const MODEL2VEC_WEIGHTS_FILE = 'model.safetensors';
export const MODULES_FILE = 'modules.json';

export interface ExportOptions {
  /** Storage type of the rows (default f32, model2vec's own default). */
  dtype?: ExportDtype;
}

/** Write `model` as a model2vec folder; returns the files written (relative to `dir`). */
export async function toModel2Vec(model: StaticModel, dir: string, opts: ExportOptions = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const dim = model.dim;
  const rows = model.info.vocabSize;
  const enc = encodeRows(effectiveRows(model), rows, dim, opts.dtype ?? 'f32');
  await writeSafetensors(join(dir, MODEL2VEC_WEIGHTS_FILE), [{ name: MODEL2VEC_TENSOR, dtype: enc.dtype, shape: [rows, dim], data: enc.bytes }]);
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
