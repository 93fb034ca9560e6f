/**
 * WordLlama's files: one `<config>_<dim>.safetensors` with "embedding.weight" [n_vocab, dim] beside the
 * tokenizer.json, the names WordLlama.load looks for (src/wordllama/wordllama.py). No config.json: WordLlama
 * keeps its settings in its own TOML, and our loader then applies WordLlama's defaults (plain mean, no norm).
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { StaticModel } from '../embed/model.ts';
import { SAVED_TENSOR } from '../layout/tensor-names.ts';
import { TOKENIZER_FILE, savedFileName } from '../layout/file-names.ts';
import { writeSafetensors } from '../safetensors/writer.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { effectiveRows, encodeRows } from './rows.ts';
import type { ExportOptions } from './model2vec.ts';

export async function toWordLlama(model: StaticModel, dir: string, name: string, opts: ExportOptions = {}): Promise<string[]> {
  const dtype = opts.dtype ?? 'f16';
  if (dtype === 'int8') throw new UserError('export: WordLlama files hold float rows; use --dtype f16 (its own) or f32');
  if (opts.vocabQuantize !== undefined) throw new UserError('export: --vocab-quantize is for --format model2vec (WordLlama files hold one row per token)');
  await mkdir(dir, { recursive: true });
  const rows = model.info.vocabSize;
  const enc = encodeRows(effectiveRows(model), rows, model.dim, dtype);
  const file = savedFileName(name, model.dim);
  await writeSafetensors(join(dir, file), [{ name: SAVED_TENSOR, dtype: enc.dtype, shape: [rows, model.dim], data: enc.bytes }]);
  await writeFileAtomic(join(dir, TOKENIZER_FILE), JSON.stringify(model.tokenizer.json));
  return [file, TOKENIZER_FILE];
}
