import type { BlockLayout } from './dequantize.js';
import { halfToFloat } from './half.js';

/**
 * K-quant super-blocks (QK_K = 256 values), laid out as ggml-common.h's block_q2_K .. block_q8_K and
 * decoded as ggml-quants.c's reference dequantize_row_*_K. Products are rounded to float32 step by
 * step (Math.fround) the way the C code's float arithmetic is, so values match ggml bit for bit.
 */
const QK_K = 256;
const f = Math.fround;

/** 6-bit scale and min of sub-block j from the 12 packed bytes at `o` (ggml's get_scale_min_k4). */
function scaleMinK4(s: DataView, o: number, j: number): [scale: number, min: number] {
  if (j < 4) return [s.getUint8(o + j) & 63, s.getUint8(o + j + 4) & 63];
  const hi = s.getUint8(o + j + 4);
  return [(hi & 0x0f) | ((s.getUint8(o + j - 4) >> 6) << 4), (hi >> 4) | ((s.getUint8(o + j) >> 6) << 4)];
}

/** Signed 6-bit scale j of Q3_K from its 12 packed bytes: low nibbles in bytes 0-7, top two bits in bytes 8-11. */
function q3Scale(s: DataView, o: number, j: number): number {
  const low = j < 8 ? s.getUint8(o + j) & 0x0f : s.getUint8(o + j - 8) >> 4;
  const high = (s.getUint8(o + 8 + (j % 4)) >> (2 * Math.floor(j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// block_q2_K: scales[16] (low nibble scale, high nibble min), qs[64] (2-bit), f16 d, f16 dmin.
const Q2_K: BlockLayout = {
  values: QK_K,
  bytes: 16 + 64 + 4,
  decode(s, o, out, p) {
    const d = halfToFloat(s.getUint16(o + 80, true));
    const min = halfToFloat(s.getUint16(o + 82, true));
    for (let half = 0; half < 2; half++) {
      for (let j = 0; j < 4; j++) {
        for (let part = 0; part < 2; part++) {
          const sc = s.getUint8(o + half * 8 + j * 2 + part);
          const dl = f(d * (sc & 0x0f));
          const ml = f(min * (sc >> 4));
          const base = p + half * 128 + j * 32 + part * 16;
          for (let l = 0; l < 16; l++) {
            const q = (s.getUint8(o + 16 + half * 32 + part * 16 + l) >> (2 * j)) & 3;
            out[base + l] = f(dl * q) - ml;
          }
        }
      }
    }
  },
};

// block_q3_K: hmask[32] (third bit, clear = subtract 4), qs[64] (low 2 bits), scales[12] (6-bit, −32), f16 d.
const Q3_K: BlockLayout = {
  values: QK_K,
  bytes: 32 + 64 + 12 + 2,
  decode(s, o, out, p) {
    const d = halfToFloat(s.getUint16(o + 108, true));
    for (let half = 0; half < 2; half++) {
      for (let j = 0; j < 4; j++) {
        const bit = 1 << (half * 4 + j);
        for (let part = 0; part < 2; part++) {
          const dl = f(d * q3Scale(s, o + 96, half * 8 + j * 2 + part));
          const base = p + half * 128 + j * 32 + part * 16;
          for (let l = 0; l < 16; l++) {
            const low = (s.getUint8(o + 32 + half * 32 + part * 16 + l) >> (2 * j)) & 3;
            const high = s.getUint8(o + part * 16 + l) & bit ? 0 : 4;
            out[base + l] = dl * (low - high);
          }
        }
      }
    }
  },
};

/**
 * Q4_K and Q5_K share their super-block scales and nibble layout: f16 d, f16 dmin, scales[12] (eight 6-bit
 * scale/min pairs), then 4-bit values, 64 per 32 bytes of qs. Q5_K adds qh[32] (at o + 16) before qs: bit 2j of
 * qh[l] is the fifth bit of value 64j + l, bit 2j+1 of value 64j + 32 + l.
 */
function decodeScaledNibbles(s: DataView, o: number, out: Float32Array, p: number, fifthBit: boolean): void {
  const d = halfToFloat(s.getUint16(o, true));
  const min = halfToFloat(s.getUint16(o + 2, true));
  const qs = o + (fifthBit ? 48 : 16);
  for (let j = 0; j < 4; j++) {
    const [sc1, m1] = scaleMinK4(s, o + 4, 2 * j);
    const [sc2, m2] = scaleMinK4(s, o + 4, 2 * j + 1);
    const d1 = f(d * sc1),
      min1 = f(min * m1),
      d2 = f(d * sc2),
      min2 = f(min * m2);
    for (let l = 0; l < 32; l++) {
      const q = s.getUint8(qs + j * 32 + l);
      const qh = fifthBit ? s.getUint8(o + 16 + l) : 0;
      out[p + j * 64 + l] = f(d1 * ((q & 0x0f) + ((qh >> (2 * j)) & 1 ? 16 : 0))) - min1;
      out[p + j * 64 + 32 + l] = f(d2 * ((q >> 4) + ((qh >> (2 * j + 1)) & 1 ? 16 : 0))) - min2;
    }
  }
}

const Q4_K: BlockLayout = {
  values: QK_K,
  bytes: 4 + 12 + 128,
  decode: (s, o, out, p) => decodeScaledNibbles(s, o, out, p, false),
};

const Q5_K: BlockLayout = {
  values: QK_K,
  bytes: 4 + 12 + 32 + 128,
  decode: (s, o, out, p) => decodeScaledNibbles(s, o, out, p, true),
};

// block_q6_K: ql[128] (low nibbles), qh[64] (two high bits each), int8 scales[16], f16 d; values are 6-bit − 32.
const Q6_K: BlockLayout = {
  values: QK_K,
  bytes: 128 + 64 + 16 + 2,
  decode(s, o, out, p) {
    const d = halfToFloat(s.getUint16(o + 208, true));
    for (let half = 0; half < 2; half++) {
      const ql = o + half * 64;
      const qh = o + 128 + half * 32;
      const sc = o + 192 + half * 8;
      const y = p + half * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = s.getUint8(qh + l);
        const a = s.getUint8(ql + l);
        const b = s.getUint8(ql + l + 32);
        out[y + l] = f(d * s.getInt8(sc + is)) * (((a & 0x0f) | ((h & 3) << 4)) - 32);
        out[y + l + 32] = f(d * s.getInt8(sc + is + 2)) * (((b & 0x0f) | (((h >> 2) & 3) << 4)) - 32);
        out[y + l + 64] = f(d * s.getInt8(sc + is + 4)) * (((a >> 4) | (((h >> 4) & 3) << 4)) - 32);
        out[y + l + 96] = f(d * s.getInt8(sc + is + 6)) * (((b >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  },
};

// block_q8_K: f32 d, int8 qs[256], int16 bsums[16] (sums for dot products, unused here).
const Q8_K: BlockLayout = {
  values: QK_K,
  bytes: 4 + 256 + 32,
  decode(s, o, out, p) {
    const d = s.getFloat32(o, true);
    for (let j = 0; j < QK_K; j++) out[p + j] = d * s.getInt8(o + 4 + j);
  },
};

export const K_QUANT_LAYOUTS = { Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K } as const;
