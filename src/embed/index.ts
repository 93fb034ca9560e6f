/**
 * wordllama-ts embedding library (browser-safe entry; Node path loading is in `./node.ts`).
 *
 *   const model = loadModelFromBuffers({ safetensors, tokenizerJson, configJson });
 *   const e = model.embed(['a sentence', 'another one']);   // { data: Float32Array, rows, dim }
 *   model.similarity('a', 'b'); model.rank(query, docs); model.deduplicate(docs); model.cluster(docs, 5);
 */
export { loadModelFromBuffers, type LoadOptions, type ModelBuffers } from './load.ts';
export { loadFromHub, loadFromUrl, type BrowserLoadOptions, type HubBrowserOptions, type ResponseCache } from './browser-load.ts';
export { StaticModel, type ModelInfo, type ScoreKey, type DeduplicateOptions } from './model.ts';
export type { ModelFormat, Precision } from './formats.ts';
export type { Embeddings, BinaryCodes, SimilarityMatrix, EmbedOptions, RankedDoc, ClusterOptions, ClusterResult, SplitOptions } from './types.ts';
export { cosine, cosineMatrix, normalizeRows } from './similarity.ts';
export { binarize, hammingSimilarity, hammingDistance, packedBytes } from './binary.ts';
export { deduplicateRows, type DedupeResult } from './dedupe.ts';
export { topkRows, topkCodes, searchRows, type TopK, type TopKOptions, type SearchOptions } from './topk.ts';
export { kmeans } from './kmeans.ts';
// Both cores in a cross-origin-isolated page (Web Workers); one thread elsewhere, with the same values.
export { cosineMatrixWorkers, webWorkersAvailable } from './web-workers.ts';
export { semanticSplit } from './split.ts';
// `StaticModel.encoder` is public: its type is part of the API.
export type { FastEncoder } from '../tokenize/fast-encode.ts';
export { UserError } from '../util/errors.ts';
