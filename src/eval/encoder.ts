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

/** Sign codes packed 32 per word (bit = component > 0), with a flag for rows that are all zero (no token). */
export interface PackedCodes {
  data: Uint32Array;
  words: number;
  bits: number;
  zero: Uint8Array;
}

export function packSigns(emb: Embeddings, dim: number): PackedCodes {
  if (dim > emb.dim) throw new Error(`packSigns: dim ${dim} exceeds the encoder's ${emb.dim}`);
  const words = Math.ceil(dim / 32);
  const data = new Uint32Array(emb.rows * words);
  const zero = new Uint8Array(emb.rows);
  for (let r = 0; r < emb.rows; r++) {
    const src = r * emb.dim;
    let any = false;
    for (let j = 0; j < dim; j++) {
      const x = emb.data[src + j]!;
      if (x !== 0) any = true;
      if (x > 0) data[r * words + (j >>> 5)]! |= 1 << (j & 31);
    }
    zero[r] = any ? 0 : 1;
  }
  return { data, words, bits: dim, zero };
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Hamming similarity 1 − 2·hamming/bits of rows a and b (the dot product of their ±1/√bits codes); 0 when
 * either row had no token, like the zero vector's cosine.
 */
export function hammingSim(c: PackedCodes, a: number, b: number): number {
  if (c.zero[a] || c.zero[b]) return 0;
  let d = 0;
  const oa = a * c.words;
  const ob = b * c.words;
  for (let w = 0; w < c.words; w++) d += popcount32(c.data[oa + w]! ^ c.data[ob + w]!);
  return 1 - (2 * d) / c.bits;
}
