import { UserError } from '../../util/errors.js';
import { ggmlTypeName } from './ggml-types.js';
import { halfToFloat } from './half.js';
import { K_QUANT_LAYOUTS } from './k-quants.js';

export { halfToFloat };

/**
 * Dequantization of GGUF tensor data to float32, one ggml block at a time, so a caller can feed
 * arbitrary byte chunks of a huge tensor without holding it whole. Layouts follow ggml's
 * block_* structs (ggml-common.h) and the reference dequantize_row_* routines (ggml-quants.c).
 */

/** ggml_type ids as written in a GGUF tensor-info record. */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  BF16: 30,
} as const;

export type GgmlTypeName = keyof typeof GGML_TYPE;

export interface BlockLayout {
  /** Values per block. */
  readonly values: number;
  /** Bytes per block. */
  readonly bytes: number;
  /** Writes `values` floats decoded from the block at `src[offset]` into `out[outOffset]`. */
  readonly decode: (src: DataView, offset: number, out: Float32Array, outOffset: number) => void;
}

const f16Scratch = new DataView(new ArrayBuffer(4));

function bf16ToFloat(bits: number): number {
  f16Scratch.setUint32(0, bits << 16, true);
  return f16Scratch.getFloat32(0, true);
}

const QK = 32;
const HALF = QK / 2;

const LAYOUTS: Record<GgmlTypeName, BlockLayout> = {
  F32: { values: 1, bytes: 4, decode: (s, o, out, p) => void (out[p] = s.getFloat32(o, true)) },
  F16: { values: 1, bytes: 2, decode: (s, o, out, p) => void (out[p] = halfToFloat(s.getUint16(o, true))) },
  BF16: { values: 1, bytes: 2, decode: (s, o, out, p) => void (out[p] = bf16ToFloat(s.getUint16(o, true))) },
  // block_q8_0: f16 scale, 32 × int8.
  Q8_0: {
    values: QK,
    bytes: 2 + QK,
    decode(s, o, out, p) {
      const d = halfToFloat(s.getUint16(o, true));
      for (let j = 0; j < QK; j++) out[p + j] = s.getInt8(o + 2 + j) * d;
    },
  },
  // block_q4_0: f16 scale, 16 bytes of nibbles; low nibbles are values 0..15, high ones 16..31, offset by 8.
  Q4_0: {
    values: QK,
    bytes: 2 + HALF,
    decode(s, o, out, p) {
      const d = halfToFloat(s.getUint16(o, true));
      for (let j = 0; j < HALF; j++) {
        const q = s.getUint8(o + 2 + j);
        out[p + j] = ((q & 0x0f) - 8) * d;
        out[p + j + HALF] = ((q >> 4) - 8) * d;
      }
    },
  },
  // block_q4_1: f16 scale, f16 minimum, 16 bytes of unsigned nibbles.
  Q4_1: {
    values: QK,
    bytes: 4 + HALF,
    decode(s, o, out, p) {
      const d = halfToFloat(s.getUint16(o, true));
      const m = halfToFloat(s.getUint16(o + 2, true));
      for (let j = 0; j < HALF; j++) {
        const q = s.getUint8(o + 4 + j);
        out[p + j] = (q & 0x0f) * d + m;
        out[p + j + HALF] = (q >> 4) * d + m;
      }
    },
  },
  // block_q5_0: f16 scale, 32 fifth bits (uint32 LE), 16 bytes of nibbles; 5-bit values offset by 16.
  Q5_0: {
    values: QK,
    bytes: 2 + 4 + HALF,
    decode(s, o, out, p) {
      const d = halfToFloat(s.getUint16(o, true));
      const qh = s.getUint32(o + 2, true);
      for (let j = 0; j < HALF; j++) {
        const q = s.getUint8(o + 6 + j);
        const hi0 = ((qh >>> j) & 1) << 4;
        const hi1 = ((qh >>> (j + HALF)) & 1) << 4;
        out[p + j] = (((q & 0x0f) | hi0) - 16) * d;
        out[p + j + HALF] = (((q >> 4) | hi1) - 16) * d;
      }
    },
  },
  // block_q5_1: f16 scale, f16 minimum, fifth bits, nibbles; unsigned 5-bit values.
  Q5_1: {
    values: QK,
    bytes: 4 + 4 + HALF,
    decode(s, o, out, p) {
      const d = halfToFloat(s.getUint16(o, true));
      const m = halfToFloat(s.getUint16(o + 2, true));
      const qh = s.getUint32(o + 4, true);
      for (let j = 0; j < HALF; j++) {
        const q = s.getUint8(o + 8 + j);
        const hi0 = ((qh >>> j) & 1) << 4;
        const hi1 = ((qh >>> (j + HALF)) & 1) << 4;
        out[p + j] = ((q & 0x0f) | hi0) * d + m;
        out[p + j + HALF] = ((q >> 4) | hi1) * d + m;
      }
    },
  },
  ...K_QUANT_LAYOUTS,
};

const NAME_BY_ID = new Map<number, GgmlTypeName>(Object.entries(GGML_TYPE).map(([name, id]) => [id, name as GgmlTypeName]));

export const SUPPORTED_TYPES: readonly GgmlTypeName[] = Object.keys(LAYOUTS) as GgmlTypeName[];

/** Block layout for a ggml type id; unsupported ids are a one-line UserError listing what is supported. */
export function blockLayout(typeId: number, where: string): BlockLayout & { readonly name: GgmlTypeName } {
  const name = NAME_BY_ID.get(typeId);
  if (name === undefined) {
    throw new UserError(
      `${where}: tensor type ${typeId} (${ggmlTypeName(typeId)}) is not supported for dequantization; supported: ${SUPPORTED_TYPES.join(', ')}`,
    );
  }
  return { name, ...LAYOUTS[name] };
}

/** Bytes a row of `columns` values takes in the given type (columns must be a multiple of the block size). */
export function rowBytes(typeId: number, columns: number, where: string): number {
  const layout = blockLayout(typeId, where);
  if (columns % layout.values !== 0) {
    throw new UserError(`${where}: row length ${columns} is not a multiple of the ${layout.name} block size ${layout.values}`);
  }
  return (columns / layout.values) * layout.bytes;
}

/** Dequantizes whole blocks in `bytes` (its length must be a multiple of the block size in bytes). */
export function dequantize(typeId: number, bytes: Uint8Array, where: string): Float32Array {
  const layout = blockLayout(typeId, where);
  if (bytes.byteLength % layout.bytes !== 0) {
    throw new UserError(`${where}: ${bytes.byteLength} bytes is not a whole number of ${layout.name} blocks`);
  }
  const blocks = bytes.byteLength / layout.bytes;
  const out = new Float32Array(blocks * layout.values);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) layout.decode(view, b * layout.bytes, out, b * layout.values);
  return out;
}
