import { describe, expect, it } from 'vitest';
import { GGML_TYPE, dequantize, halfToFloat, rowBytes } from '../../src/sources/gguf/dequantize.js';

// Block layouts mirror ggml's ggml-common.h (block_q4_0, block_q4_1, block_q5_0, block_q5_1, block_q8_0);
// expected values are worked by hand from the reference dequantize_row_* formulas in ggml-quants.c.

/** f16 bits for small exact values used as scales. */
const F16 = { half: 0x3800, one: 0x3c00, two: 0x4000, minusOne: 0xbc00 } as const;

function block(parts: Array<[kind: 'u16' | 'u32' | 'bytes', value: number | number[]]>): Uint8Array {
  const out: number[] = [];
  for (const [kind, value] of parts) {
    if (kind === 'u16') out.push((value as number) & 0xff, ((value as number) >> 8) & 0xff);
    else if (kind === 'u32') for (let i = 0; i < 4; i++) out.push(((value as number) >>> (8 * i)) & 0xff);
    else out.push(...(value as number[]));
  }
  return Uint8Array.from(out);
}

const nibbles = Array.from({ length: 16 }, (_, j) => (j & 0x0f) | ((15 - j) << 4));

describe('GGUF dequantization', () => {
  it('decodes f16 including subnormals and infinities', () => {
    expect(halfToFloat(F16.one)).toBe(1);
    expect(halfToFloat(F16.minusOne)).toBe(-1);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Number.POSITIVE_INFINITY);
  });

  it('F32, F16 and BF16 rows', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -2.25]).buffer);
    expect(Array.from(dequantize(GGML_TYPE.F32, f32, 't'))).toEqual([1.5, -2.25]);
    expect(
      Array.from(
        dequantize(
          GGML_TYPE.F16,
          block([
            ['u16', F16.two],
            ['u16', F16.half],
          ]),
          't',
        ),
      ),
    ).toEqual([2, 0.5]);
    // bf16 0x3fc0 = upper half of f32 1.5; 0xc010 = -2.25.
    expect(
      Array.from(
        dequantize(
          GGML_TYPE.BF16,
          block([
            ['u16', 0x3fc0],
            ['u16', 0xc010],
          ]),
          't',
        ),
      ),
    ).toEqual([1.5, -2.25]);
  });

  it('Q8_0: scale × int8', () => {
    const qs = Array.from({ length: 32 }, (_, j) => (j - 16) & 0xff);
    const out = dequantize(
      GGML_TYPE.Q8_0,
      block([
        ['u16', F16.half],
        ['bytes', qs],
      ]),
      't',
    );
    expect(Array.from(out)).toEqual(Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5));
  });

  it('Q4_0: low nibbles first, offset 8', () => {
    const out = dequantize(
      GGML_TYPE.Q4_0,
      block([
        ['u16', F16.two],
        ['bytes', nibbles],
      ]),
      't',
    );
    const low = Array.from({ length: 16 }, (_, j) => (j - 8) * 2);
    const high = Array.from({ length: 16 }, (_, j) => (15 - j - 8) * 2);
    expect(Array.from(out)).toEqual([...low, ...high]);
  });

  it('Q4_1: scale × nibble + min', () => {
    const out = dequantize(
      GGML_TYPE.Q4_1,
      block([
        ['u16', F16.half],
        ['u16', F16.minusOne],
        ['bytes', nibbles],
      ]),
      't',
    );
    const low = Array.from({ length: 16 }, (_, j) => j * 0.5 - 1);
    const high = Array.from({ length: 16 }, (_, j) => (15 - j) * 0.5 - 1);
    expect(Array.from(out)).toEqual([...low, ...high]);
  });

  it('Q5_0 and Q5_1: fifth bit from qh, bit j for value j and bit j+16 for value j+16', () => {
    const qh = 0x8001_0003; // values 0, 1, 16 and 31 get the fifth bit
    const fifth = (i: number): number => ((qh >>> i) & 1) << 4;
    const raw = Array.from({ length: 32 }, (_, i) => (i < 16 ? i : 31 - i) | fifth(i));
    const q50 = dequantize(
      GGML_TYPE.Q5_0,
      block([
        ['u16', F16.one],
        ['u32', qh],
        ['bytes', nibbles],
      ]),
      't',
    );
    expect(Array.from(q50)).toEqual(raw.map((v) => v - 16));
    expect(q50[0]).toBe(0);
    expect(q50[16]).toBe(15 - 16 + 16);
    const q51 = dequantize(
      GGML_TYPE.Q5_1,
      block([
        ['u16', F16.two],
        ['u16', F16.minusOne],
        ['u32', qh],
        ['bytes', nibbles],
      ]),
      't',
    );
    expect(Array.from(q51)).toEqual(raw.map((v) => v * 2 - 1));
  });

  it('row sizes and refusals are one line naming the type and the supported ones', () => {
    expect(rowBytes(GGML_TYPE.Q8_0, 64, 't')).toBe(68);
    expect(rowBytes(GGML_TYPE.Q4_0, 4096, 't')).toBe(128 * 18);
    expect(() => rowBytes(GGML_TYPE.Q4_0, 40, 'x.gguf')).toThrow(/x\.gguf: row length 40 is not a multiple of the Q4_0 block size 32/);
    expect(() => dequantize(16, new Uint8Array(0), 'x.gguf')).toThrow(
      'x.gguf: tensor type 16 (IQ2_XXS) is not supported for dequantization; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K',
    );
    expect(() => dequantize(GGML_TYPE.Q8_0, new Uint8Array(33), 'x.gguf')).toThrow(/33 bytes is not a whole number of Q8_0 blocks/);
  });
});
