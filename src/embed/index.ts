/**
 * wordllama-ts embedding library (browser-safe entry; Node path loading is in `./node.ts`).
 *
 *   const model = loadModelFromBuffers({ safetensors, tokenizerJson, configJson });
 *   const e = model.embed(['a sentence', 'another one']);   // { data: Float32Array, rows, dim }
 *   model.similarity('a', 'b'); model.rank(query, docs); model.deduplicate(docs); model.cluster(docs, 5);
 */
export { loadModelFromBuffers, type LoadOptions, type ModelBuffers } from './load.ts';
export { StaticModel, medianTokenLength, type ModelInfo, type ScoreKey, type DeduplicateOptions } from './model.ts';
export type { ModelFormat, Precision } from './formats.ts';
export type {
  Embeddings,
  BinaryCodes,
  SimilarityMatrix,
  EmbedOptions,
  RankedDoc,
  ClusterOptions,
  ClusterResult,
  SplitOptions,
} from './types.ts';
export { cosine, cosineMatrix, normalizeRows, row, takeRows } from './similarity.ts';
export { binarize, hammingSimilarity, hammingDistance, popcount32, packedBytes } from './binary.ts';
export { deduplicateRows, type DedupeResult } from './dedupe.ts';
export { kmeans } from './kmeans.ts';
export { semanticSplit } from './split.ts';
export { createFastEncoder, analyzeTokenizer, type FastEncoder, type TokenizerAnalysis } from '../tokenize/fast-encode.ts';
export { UserError } from '../util/errors.ts';
