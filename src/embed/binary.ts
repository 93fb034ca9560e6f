/** Sign-bit codes and Hamming similarity (WordLlama's binary mode). Pure, browser-safe. */
import { UserError } from '../util/errors.ts';
import type { BinaryCodes, Embeddings, SimilarityMatrix } from './types.ts';
import { wasmHammingSimilarity } from './kernels/index.ts';

/**
 * Pack `x > 0` into 32-bit words. Value j goes to word j>>5, byte (j>>3)&3 of it, bit 7-(j&7) of that byte,
 * so the byte view equals NumPy's `packbits` (WordLlama's `binarize_and_packbits`).
 */
export function binarize(e: Embeddings): BinaryCodes {
  const words = Math.ceil(e.dim / 32);
  const out = new Uint32Array(e.rows * words);
  for (let r = 0; r < e.rows; r++) {
    const o = r * e.dim;
    const w0 = r * words;
    for (let j = 0; j < e.dim; j++) {
      if (e.data[o + j]! > 0) out[w0 + (j >> 5)]! |= 1 << (((j >> 3) & 3) * 8 + (7 - (j & 7)));
    }
  }
  return { data: out, rows: e.rows, bits: e.dim, words };
}

/** Bits set in a 32-bit integer (SWAR). */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function checkCompatible(a: BinaryCodes, b: BinaryCodes): void {
  if (a.bits !== b.bits || a.words !== b.words) {
    throw new UserError(`hamming: codes have different widths (${a.bits} vs ${b.bits} bits)`);
  }
}

/** Hamming distance between row i of a and row k of b. */
export function hammingDistance(a: BinaryCodes, i: number, b: BinaryCodes, k: number): number {
  checkCompatible(a, b);
  let d = 0;
  const oa = i * a.words;
  const ob = k * b.words;
  for (let w = 0; w < a.words; w++) d += popcount32(a.data[oa + w]! ^ b.data[ob + w]!);
  return d;
}

/**
 * All-pairs Hamming similarity `1 − 2·distance/bits` (WordLlama's definition: 1 for equal codes, −1 for
 * complementary ones): the WebAssembly kernel (64-bit XOR + popcnt) when it can run, else the JS reference.
 */
export function hammingSimilarity(a: BinaryCodes, b: BinaryCodes): SimilarityMatrix {
  checkCompatible(a, b);
  return wasmHammingSimilarity(a, b) ?? hammingSimilarityJs(a, b);
}

/** The JS reference of `hammingSimilarity` (SWAR popcount), which the kernel is tested against bit for bit. */
export function hammingSimilarityJs(a: BinaryCodes, b: BinaryCodes): SimilarityMatrix {
  checkCompatible(a, b);
  const words = a.words;
  const out = new Float32Array(a.rows * b.rows);
  const scale = 2 / a.bits;
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < a.rows; i++) {
    const oa = i * words;
    const orow = i * b.rows;
    for (let k = 0; k < b.rows; k++) {
      const ob = k * words;
      let d = 0;
      for (let w = 0; w < words; w++) {
        let x = ad[oa + w]! ^ bd[ob + w]!;
        x = x - ((x >>> 1) & 0x55555555);
        x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
        x = (x + (x >>> 4)) & 0x0f0f0f0f;
        d += Math.imul(x, 0x01010101) >>> 24;
      }
      out[orow + k] = 1 - d * scale;
    }
  }
  return { data: out, rows: a.rows, cols: b.rows };
}

/** The packed bytes of the codes, `ceil(bits/8)` per row (NumPy packbits layout, for .npy uint8 output). */
export function packedBytes(c: BinaryCodes): Uint8Array {
  const perRow = Math.ceil(c.bits / 8);
  const all = new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  if (perRow === c.words * 4) return all.slice();
  const out = new Uint8Array(c.rows * perRow);
  for (let r = 0; r < c.rows; r++) out.set(all.subarray(r * c.words * 4, r * c.words * 4 + perRow), r * perRow);
  return out;
}
