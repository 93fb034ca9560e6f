/** Plain data types of the embedding library (browser-safe). */

/** Row-major float32 matrix: `rows` embeddings of `dim` values each. */
export interface Embeddings {
  data: Float32Array;
  rows: number;
  dim: number;
}

/**
 * Sign bits packed into 32-bit words, row-major: bit for value `j` of a row lives in word `j >> 5`. Inside a
 * word the bytes follow NumPy's `packbits` (big-endian bit order per byte, bytes little-endian), so the byte view
 * of `data` equals `np.packbits(x > 0, axis=1)` (WordLlama's binary layout) when `bits` is a multiple of 32.
 */
export interface BinaryCodes {
  data: Uint32Array;
  rows: number;
  /** Meaningful bits per row (the embedding dim). */
  bits: number;
  /** 32-bit words per row: ceil(bits / 32). Padding bits are zero. */
  words: number;
}

/** A dense similarity matrix `rows × cols` (row-major). */
export interface SimilarityMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export interface EmbedOptions {
  /** L2-normalise each embedding (default: the model's `normalize` setting). */
  norm?: boolean;
  /** Matryoshka truncation: keep the first `dim` values (before normalisation). */
  dim?: number;
  /**
   * Accepted for WordLlama API compatibility; no effect: texts are tokenized and pooled one at a time into the
   * output, no padded [batch, tokens, dim] block is ever built.
   */
  batchSize?: number;
  /** Keep at most this many tokens per text (default: the model's max_length; 0 = no limit). */
  maxLength?: number;
}

export interface RankedDoc {
  doc: string;
  score: number;
  /** Position of `doc` in the input list. */
  index: number;
}

export interface ClusterOptions {
  maxIterations?: number;
  tolerance?: number;
  nInit?: number;
  minIterations?: number;
  /** Seed of the k-means++ initialisation (default 0: results are reproducible). */
  seed?: number;
}

export interface ClusterResult {
  labels: number[];
  inertia: number;
}

export interface SplitOptions {
  /** Maximum characters (UTF-16 code units) per chunk; default 1536. */
  targetSize?: number;
  windowSize?: number;
  polyOrder?: number;
  savgolWindow?: number;
  cleanupSize?: number;
  intermediateSize?: number;
}
