/**
 * What eval needs from anything that turns texts into vectors: the saved model, the raw extracted rows, a
 * WordLlama/model2vec baseline, or the USE-lite transformer. Every encoder returns full-width vectors once;
 * Matryoshka widths and binary codes are derived from them here (see `prepareVectors`), because truncating
 * a mean of rows equals the mean of truncated rows, and rescaling never changes a direction or a sign.
 */

export interface Embeddings {
  data: Float32Array;
  rows: number;
  dim: number;
}

export interface SentenceEncoder {
  /** Name in tables and results ("model", "raw", "use-lite", a baseline's folder name). */
  name: string;
  /** Width of `embed` output. */
  dim: number;
  /** Widths to evaluate: Matryoshka prefixes ≤ dim, largest first. */
  dims: number[];
  /** Full-width sentence vectors (any scale). */
  embed(texts: string[]): Promise<Embeddings>;
  close?(): Promise<void>;
}

/** Powers of two below `dim` down to `min` (plus `dim` itself first): the default Matryoshka ladder. */
export function defaultDims(dim: number, min = 32): number[] {
  const dims = [dim];
  let p = 1;
  while (p * 2 < dim) p *= 2;
  for (; p >= min; p /= 2) if (p < dim) dims.push(p);
  return dims;
}

/**
 * Rows of `emb` cut to the first `dim` columns and made unit length (dense), or turned into sign codes
 * ±1/√dim (binary: component > 0 → +1, else −1, WordLlama's binarisation). Both are unit vectors, so a dot
 * product is the cosine for dense and 1 − 2·hamming/dim for binary: every metric then ranks binary pairs
 * exactly as Hamming similarity would. A zero vector (a text with no known token) stays zero.
 */
export function prepareVectors(emb: Embeddings, dim: number, binary: boolean): Float32Array {
  if (dim > emb.dim) throw new Error(`prepareVectors: dim ${dim} exceeds the encoder's ${emb.dim}`);
  const out = new Float32Array(emb.rows * dim);
  const unit = 1 / Math.sqrt(dim);
  for (let r = 0; r < emb.rows; r++) {
    const src = r * emb.dim;
    const dst = r * dim;
    if (binary) {
      let any = false;
      for (let j = 0; j < dim; j++) if (emb.data[src + j] !== 0) any = true;
      if (any) for (let j = 0; j < dim; j++) out[dst + j] = emb.data[src + j]! > 0 ? unit : -unit;
      continue;
    }
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += emb.data[src + j]! * emb.data[src + j]!;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < dim; j++) out[dst + j] = emb.data[src + j]! * scale;
  }
  return out;
}

/** Dot product of row a of `x` with row b of `y` (both `dim` wide). */
export function rowDot(x: Float32Array, a: number, y: Float32Array, b: number, dim: number): number {
  let s = 0;
  const oa = a * dim;
  const ob = b * dim;
  for (let j = 0; j < dim; j++) s += x[oa + j]! * y[ob + j]!;
  return s;
}
