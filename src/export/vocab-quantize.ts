/**
 * model2vec's vocabulary quantization (model2vec/vocabulary_quantization.py `quantize_vocabulary`): every token
 * keeps its own scale (its row's norm) and shares a direction with the tokens of its cluster. The rows are
 * divided by their norms, k-means groups the unit rows into N clusters, and the files hold the N centers
 * ("embeddings"), the token → cluster index ("mapping") and the norms ("weights"); a token's row is then
 * `embeddings[mapping[id]] * weights[id]`, which is how model2vec's StaticModel (and our loader) read it back.
 * Clustering reuses the library's k-means (src/embed/kmeans.ts), seeded, so an export is reproducible.
 */
import { kmeans } from '../embed/kmeans.ts';
import { cosine, row } from '../embed/similarity.ts';
import type { StaticModel } from '../embed/model.ts';
import { UserError } from '../util/errors.ts';

export interface QuantizedVocabulary {
  /** Cluster centers, [clusters, dim] row-major (unit-row means, so not unit themselves). */
  embeddings: Float32Array;
  clusters: number;
  /** Token id → row of `embeddings` (int32, as sklearn's KMeans.predict returns it). */
  mapping: Int32Array;
  /** Token id → its row's norm (+1e-32 as model2vec adds, so a zero row divides safely). */
  weights: Float32Array;
  /** k-means inertia of the unit rows around their centers. */
  inertia: number;
}

export interface VocabQuantizeOptions {
  /** k-means seed (default 42, model2vec's random_state). */
  seed?: number;
  /** Lloyd iterations at most (default 100). */
  maxIterations?: number;
  /** A progress line before the clustering starts. */
  log?: (line: string) => void;
}

/** Refuse a cluster count that cannot shrink the vocabulary, naming the flag. */
function checkClusterCount(clusters: number, vocab: number, where = 'export: --vocab-quantize'): void {
  if (!Number.isInteger(clusters) || clusters < 1) throw new UserError(`${where} ${clusters}: the number of clusters must be a positive integer`);
  if (clusters >= vocab) {
    throw new UserError(`${where} ${clusters}: must be below the vocabulary size (${vocab} tokens), or there is nothing to share; use at most ${vocab - 1}`);
  }
}

/** Cluster `n` rows of width `dim` (row-major `rows`) into `clusters` shared directions. */
export function quantizeVocabulary(rows: Float32Array, n: number, dim: number, clusters: number, opts: VocabQuantizeOptions = {}): QuantizedVocabulary {
  checkClusterCount(clusters, n);
  opts.log?.(`clustering ${n} token rows into ${clusters}`);
  const weights = new Float32Array(n);
  const unit = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += rows[i * dim + j]! * rows[i * dim + j]!;
    // model2vec: the norm is the informative part kept per token; dividing by it keeps long rows from
    // dominating the clustering.
    const w = Math.fround(Math.sqrt(s) + 1e-32);
    weights[i] = w;
    for (let j = 0; j < dim; j++) unit[i * dim + j] = rows[i * dim + j]! / w;
  }
  // One seeded run: the vocabulary is large enough that restarts move the result little and cost linearly.
  const fit = kmeans({ data: unit, rows: n, dim }, clusters, { seed: opts.seed ?? 42, nInit: 1, maxIterations: opts.maxIterations ?? 100 });
  return { embeddings: fit.centers, clusters, mapping: Int32Array.from(fit.labels), weights, inertia: fit.inertia };
}

export interface QuantizationQuality {
  /** Mean over texts of cos(original embedding, quantized embedding). */
  meanCosine: number;
  minCosine: number;
  /** Texts compared (those with at least one counted token). */
  texts: number;
}

/** How close the quantized model's text embeddings stay to the original model's, on `texts`. */
export function quantizationQuality(original: StaticModel, quantized: StaticModel, texts: readonly string[]): QuantizationQuality {
  if (texts.length === 0) throw new UserError('export: no sample texts to measure the vocabulary quantization on');
  const a = original.embed(texts, { norm: false });
  const b = quantized.embed(texts, { norm: false, dim: original.dim });
  let sum = 0;
  let min = Infinity;
  let counted = 0;
  for (let i = 0; i < texts.length; i++) {
    const ra = row(a, i);
    // A text with no token the model counts embeds as zero in both models: nothing to compare.
    if (ra.every((v) => v === 0)) continue;
    const c = cosine(ra, row(b, i));
    sum += c;
    counted++;
    if (c < min) min = c;
  }
  if (counted === 0) throw new UserError('export: none of the sample texts has a token the model counts; pass other --texts');
  return { meanCosine: sum / counted, minCosine: min, texts: counted };
}
