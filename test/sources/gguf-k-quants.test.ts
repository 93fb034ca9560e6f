import { describe, expect, it } from 'vitest';
import { GGML_TYPE, dequantize, rowBytes } from '../../src/sources/gguf/dequantize.js';

// Super-block layouts mirror ggml's ggml-common.h (block_q2_K .. block_q8_K); the expected
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

  it('Q2_K: 4-bit scale and min per 16 values, 2-bit quants four to a byte', () => {
    const scales = Array.from({ length: 16 }, (_, k) => ((k * 5) % 16) | (((k * 3 + 1) % 16) << 4));
    const qs = Array.from({ length: 64 }, (_, k) => (k * 37 + 11) & 0xff);
    const block = Uint8Array.from([...scales, ...qs, 0x00, 0x3c, 0x00, 0x34]); // d = 1, dmin = 0.25
    const expected = Array.from({ length: 256 }, (_, i) => {
      const n = i >> 7;
      const within = i & 127;
      const j = within >> 5;
      const part = (within >> 4) & 1;
      const l = within & 15;
      const sc = scales[n * 8 + j * 2 + part]!;
      const q = (qs[n * 32 + part * 16 + l]! >> (2 * j)) & 3;
      return (sc & 0x0f) * q - 0.25 * (sc >> 4);
    });
    expect(Array.from(dequantize(GGML_TYPE.Q2_K, block, 't'))).toEqual(expected);
  });

  it('Q3_K: 6-bit signed scales unpacked from 12 bytes, third bit from hmask (clear = minus 4)', () => {
    const hmask = Array.from({ length: 32 }, (_, k) => (k * 29 + 3) & 0xff);
    const qs = Array.from({ length: 64 }, (_, k) => (k * 53 + 7) & 0xff);
    const sc = Array.from({ length: 12 }, (_, k) => (k * 71 + 13) & 0xff);
    const block = Uint8Array.from([...hmask, ...qs, ...sc, 0x00, 0x38]); // d = 0.5
    // The scales as ggml's aux[] words unpack them: scale `is` is byte (is & 3) of word (is >> 2).
    const scale = (is: number) => {
      const w = is >> 2;
      const b = is & 3;
      const low = w === 0 ? sc[b]! & 0x0f : w === 1 ? sc[4 + b]! & 0x0f : w === 2 ? sc[b]! >> 4 : sc[4 + b]! >> 4;
      return (low | (((sc[8 + b]! >> (2 * w)) & 3) << 4)) - 32;
    };
    const expected = Array.from({ length: 256 }, (_, i) => {
      const n = i >> 7;
      const within = i & 127;
      const j = within >> 5;
      const part = (within >> 4) & 1;
      const l = within & 15;
      const q = (qs[n * 32 + part * 16 + l]! >> (2 * j)) & 3;
      const high = hmask[part * 16 + l]! & (1 << (n * 4 + j)) ? 0 : 4;
      return 0.5 * scale(n * 8 + j * 2 + part) * (q - high);
    });
    expect(Array.from(dequantize(GGML_TYPE.Q3_K, block, 't'))).toEqual(expected);
  });

  it('Q5_K: Q4_K scales and nibbles plus a fifth bit per value from qh', () => {
    const sc = [3, 1, 4, 1, 5, 9, 26, 53];
    const m = [2, 7, 1, 8, 28, 1, 8, 2];
    const scales = new Array<number>(12).fill(0);
    for (let j = 0; j < 4; j++) {
      scales[j] = sc[j]! | ((sc[j + 4]! >> 4) << 6);
      scales[j + 4] = m[j]! | ((m[j + 4]! >> 4) << 6);
      scales[j + 8] = (sc[j + 4]! & 0x0f) | ((m[j + 4]! & 0x0f) << 4);
    }
    const qh = Array.from({ length: 32 }, (_, k) => (k * 19 + 5) & 0xff);
    const qs = Array.from({ length: 128 }, (_, k) => (k * 41 + 3) & 0xff);
    const block = Uint8Array.from([0x00, 0x3c, 0x00, 0x38, ...scales, ...qh, ...qs]); // d = 1, dmin = 0.5
    const expected = Array.from({ length: 256 }, (_, i) => {
      const j = i >> 6;
      const hi = (i & 63) >> 5;
      const l = i & 31;
      const byte = qs[j * 32 + l]!;
      const q = (hi ? byte >> 4 : byte & 0x0f) + ((qh[l]! >> (2 * j + hi)) & 1 ? 16 : 0);
      return sc[2 * j + hi]! * q - 0.5 * m[2 * j + hi]!;
    });
    expect(Array.from(dequantize(GGML_TYPE.Q5_K, block, 't'))).toEqual(expected);
  });

  it('Q8_K: f32 scale × int8, block sums ignored', () => {
    const d = new Uint8Array(new Float32Array([0.25]).buffer);
    const qs = Array.from({ length: 256 }, (_, j) => (j - 128) & 0xff);
    const block = Uint8Array.from([...d, ...qs, ...new Array<number>(32).fill(0x7f)]);
    expect(Array.from(dequantize(GGML_TYPE.Q8_K, block, 't'))).toEqual(Array.from({ length: 256 }, (_, j) => (j - 128) * 0.25));
  });
});
