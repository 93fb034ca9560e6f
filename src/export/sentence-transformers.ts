/**
 * sentence-transformers' folder for a StaticEmbedding model, as `SentenceTransformer.save` lays it out with
 * `StaticEmbedding.save` (sentence_transformers/models/StaticEmbedding.py): modules.json and
 * config_sentence_transformers.json at the top, 0_StaticEmbedding/{model.safetensors ("embedding.weight", the
 * EmbeddingBag's state dict), tokenizer.json}, then a Normalize module when the model normalises.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { StaticModel } from '../embed/model.ts';
import { SAVED_TENSOR } from '../layout/tensor-names.ts';
import { TOKENIZER_FILE } from '../layout/file-names.ts';
import { writeSafetensors } from '../safetensors/writer.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { effectiveRows, encodeRows } from './rows.ts';
import { MODEL2VEC_WEIGHTS_FILE, MODULES_FILE, type ExportOptions } from './model2vec.ts';

export const STATIC_EMBEDDING_DIR = '0_StaticEmbedding';
export const ST_CONFIG_FILE = 'config_sentence_transformers.json';

export async function toSentenceTransformers(model: StaticModel, dir: string, opts: ExportOptions = {}): Promise<string[]> {
  const dtype = opts.dtype ?? 'f32';
  // torch's EmbeddingBag takes float weights only.
  if (dtype === 'int8') throw new UserError('export: --dtype int8 is not loadable by sentence-transformers (its EmbeddingBag needs floats); use f32 or f16');
  if (opts.vocabQuantize !== undefined) {
    throw new UserError('export: --vocab-quantize is for --format model2vec (a StaticEmbedding holds one row per token, no mapping)');
  }
  const moduleDir = join(dir, STATIC_EMBEDDING_DIR);
  await mkdir(moduleDir, { recursive: true });
  const rows = model.info.vocabSize;
  const enc = encodeRows(effectiveRows(model), rows, model.dim, dtype);
  await writeSafetensors(join(moduleDir, MODEL2VEC_WEIGHTS_FILE), [{ name: SAVED_TENSOR, dtype: enc.dtype, shape: [rows, model.dim], data: enc.bytes }]);
  await writeFileAtomic(join(moduleDir, TOKENIZER_FILE), JSON.stringify(model.tokenizer.json));
  await writeJsonAtomic(join(dir, MODULES_FILE), [
    { idx: 0, name: '0', path: STATIC_EMBEDDING_DIR, type: 'sentence_transformers.models.StaticEmbedding' },
    ...(model.normalize ? [{ idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' }] : []),
  ]);
  await writeJsonAtomic(join(dir, ST_CONFIG_FILE), {
    __version__: { sentence_transformers: '3.3.1' },
    prompts: {},
    default_prompt_name: null,
    similarity_fn_name: 'cosine',
  });
  return [MODULES_FILE, ST_CONFIG_FILE, `${STATIC_EMBEDDING_DIR}/${MODEL2VEC_WEIGHTS_FILE}`, `${STATIC_EMBEDDING_DIR}/${TOKENIZER_FILE}`];
}
