import { describe, expect, it } from 'vitest';
import { GGML_TYPE, dequantize, rowBytes } from '../../src/sources/gguf/dequantize.js';

// Super-block layouts mirror ggml's ggml-common.h (block_q4_K, block_q6_K, block_q8_K); the expected
// values below are written per output index from the reference dequantize_row_*_K in ggml-quants.c,
// a different walk from the decoder's loops, with scales chosen so the packed high bits matter.

describe('GGUF K-quant dequantization', () => {
  it('Q4_K: 6-bit packed scale/min pairs, low then high nibbles per 64 values', () => {
    const sc = [1, 2, 3, 4, 5, 40, 7, 8];
    const m = [0, 1, 2, 3, 4, 5, 33, 7];
    const scales = new Array<number>(12).fill(0);
    for (let j = 0; j < 4; j++) {
      scales[j] = sc[j]! | ((sc[j + 4]! >> 4) << 6);
      scales[j + 4] = m[j]! | ((m[j + 4]! >> 4) << 6);
      scales[j + 8] = (sc[j + 4]! & 0x0f) | ((m[j + 4]! & 0x0f) << 4);
    }
    const qs = Array.from({ length: 128 }, (_, k) => ((k % 32) % 16) | ((((k % 32) + Math.floor(k / 32)) % 16) << 4));
    const block = Uint8Array.from([0x00, 0x3c, 0x00, 0x38, ...scales, ...qs]); // d = 1, dmin = 0.5
    const expected = Array.from({ length: 256 }, (_, i) => {
      const j = i >> 6;
      const within = i & 63;
      const l = within & 31;
      const sub = within < 32 ? 2 * j : 2 * j + 1;
      const q = within < 32 ? l % 16 : (l + j) % 16;
      return sc[sub]! * q - 0.5 * m[sub]!;
    });
    expect(Array.from(dequantize(GGML_TYPE.Q4_K, block, 't'))).toEqual(expected);
    expect(rowBytes(GGML_TYPE.Q4_K, 4096, 't')).toBe(16 * 144);
  });

  it('Q6_K: low nibbles from ql, two high bits from qh, signed 8-bit scales', () => {
    const ql = Array.from({ length: 128 }, (_, k) => (k * 7) & 0xff);
    const qh = Array.from({ length: 64 }, (_, k) => (k * 13) & 0xff);
    const sc = Array.from({ length: 16 }, (_, k) => k - 8);
    const block = Uint8Array.from([...ql, ...qh, ...sc.map((v) => v & 0xff), 0x00, 0x38]); // d = 0.5
    const expected = Array.from({ length: 256 }, (_, n) => {
      const half = n >> 7;
      const quarter = (n & 127) >> 5;
      const l = n & 31;
      const byte = ql[half * 64 + l + (quarter % 2) * 32]!;
      const low = quarter < 2 ? byte & 0x0f : byte >> 4;
      const high = (qh[half * 32 + l]! >> (2 * quarter)) & 3;
      return 0.5 * sc[half * 8 + (l >> 4) + 2 * quarter]! * ((low | (high << 4)) - 32);
    });
    expect(Array.from(dequantize(GGML_TYPE.Q6_K, block, 't'))).toEqual(expected);
  });

  it('Q8_K: f32 scale × int8, block sums ignored', () => {
    const d = new Uint8Array(new Float32Array([0.25]).buffer);
    const qs = Array.from({ length: 256 }, (_, j) => (j - 128) & 0xff);
    const block = Uint8Array.from([...d, ...qs, ...new Array<number>(32).fill(0x7f)]);
    expect(Array.from(dequantize(GGML_TYPE.Q8_K, block, 't'))).toEqual(Array.from({ length: 256 }, (_, j) => (j - 128) * 0.25));
  });
});
