/**
 * GGUF model files for extract tests and benchmarks: a token matrix `token_embd.weight` (ggml [dim, vocab]) in a
 * chosen type whose every dequantized value is known exactly, with tensors before and after it and metadata as
 * llama.cpp writes it (general.architecture, <arch>.embedding_length, arrays). Block layouts follow ggml-common.h
 * (block_q8_0, block_q4_0, block_q4_K); the expected values are written from ggml-quants.c's reference
 * dequantize_row_* as a formula per (row, column), not by running our decoder.
 */
import { GGML_TYPE } from '../../src/sources/gguf/dequantize.ts';
import { GGUF_VALUE_TYPE as T } from '../../src/sources/gguf/header.ts';
import { f32ToF16Bits } from '../../src/safetensors/dtype.ts';
import { writeGguf, type GgufOverrides, type MetaEntry, type TensorEntry } from './gguf-writer.ts';

export type TestGgufType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K';

/** Q4_K's eight 6-bit sub-block scales and mins (some above 15, so the packed high bits matter). */
const K_SC = [1, 2, 3, 4, 5, 40, 7, 8];
const K_M = [0, 1, 2, 3, 4, 5, 33, 7];

/** The exact value of token `r`, column `c` (all are exact in f16 too, so f16 output is exact). */
export function expectedValue(type: TestGgufType, r: number, c: number, dim: number): number {
  switch (type) {
    case 'F32':
    case 'F16':
    case 'BF16':
      return (((r * dim + c) % 97) - 48) / 16;
    case 'Q8_0':
      return ((((r * 7 + c) % 21) - 10) * 0.5) as number;
    case 'Q4_0': {
      const j = c % 32;
      const q = j < 16 ? (r + j) % 16 : (r * 3 + j - 16) % 16;
      return (q - 8) * 2;
    }
    case 'Q4_K': {
      const i = c % 256;
      const j = i >> 6;
      const within = i & 63;
      const l = within & 31;
      const sub = within < 32 ? 2 * j : 2 * j + 1;
      const q = within < 32 ? (l + r) % 16 : (l + j + r) % 16;
      return K_SC[sub]! * q - 0.5 * K_M[sub]!;
    }
  }
}

const BLOCK: Record<TestGgufType, { values: number; bytes: number }> = {
  F32: { values: 1, bytes: 4 },
  F16: { values: 1, bytes: 2 },
  BF16: { values: 1, bytes: 2 },
  Q8_0: { values: 32, bytes: 34 },
  Q4_0: { values: 32, bytes: 18 },
  Q4_K: { values: 256, bytes: 144 },
};

/** Stored bytes of one row of `dim` values. */
export const ggufRowBytes = (type: TestGgufType, dim: number) => (dim / BLOCK[type].values) * BLOCK[type].bytes;

/** The stored bytes of rows [0, vocab) of the token matrix. */
export function tokenMatrixBytes(type: TestGgufType, vocab: number, dim: number): Uint8Array {
  const rowBytes = ggufRowBytes(type, dim);
  const out = new Uint8Array(vocab * rowBytes);
  const v = new DataView(out.buffer);
  for (let r = 0; r < vocab; r++) {
    let o = r * rowBytes;
    if (type === 'F32' || type === 'F16' || type === 'BF16') {
      for (let c = 0; c < dim; c++) {
        const x = expectedValue(type, r, c, dim);
        if (type === 'F32') v.setFloat32(o + 4 * c, x, true);
        else if (type === 'F16') v.setUint16(o + 2 * c, f32ToF16Bits(x), true);
        else v.setUint16(o + 2 * c, new Uint32Array(new Float32Array([x]).buffer)[0]! >>> 16, true);
      }
    } else if (type === 'Q8_0') {
      for (let b = 0; b < dim / 32; b++, o += 34) {
        v.setUint16(o, 0x3800, true); // d = 0.5
        for (let j = 0; j < 32; j++) v.setInt8(o + 2 + j, ((r * 7 + b * 32 + j) % 21) - 10);
      }
    } else if (type === 'Q4_0') {
      for (let b = 0; b < dim / 32; b++, o += 18) {
        v.setUint16(o, 0x4000, true); // d = 2
        for (let j = 0; j < 16; j++) out[o + 2 + j] = ((r + j) % 16) | (((r * 3 + j) % 16) << 4);
      }
    } else {
      for (let b = 0; b < dim / 256; b++, o += 144) {
        v.setUint16(o, 0x3c00, true); // d = 1
        v.setUint16(o + 2, 0x3800, true); // dmin = 0.5
        for (let j = 0; j < 4; j++) {
          out[o + 4 + j] = K_SC[j]! | ((K_SC[j + 4]! >> 4) << 6);
          out[o + 8 + j] = K_M[j]! | ((K_M[j + 4]! >> 4) << 6);
          out[o + 12 + j] = (K_SC[j + 4]! & 0x0f) | ((K_M[j + 4]! & 0x0f) << 4);
        }
        for (let k = 0; k < 128; k++) {
          const l = k % 32;
          const j = k >> 5;
          out[o + 16 + k] = ((l + r) % 16) | (((l + j + r) % 16) << 4);
        }
      }
    }
  }
  return out;
}

/** Expected rows [0, rows) row-major as float32. */
export function expectedRows(type: TestGgufType, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dim; c++) out[r * dim + c] = expectedValue(type, r, c, dim);
  return out;
}

export interface TestGgufOptions {
  type: TestGgufType;
  vocab: number;
  dim: number;
  arch?: string;
  /** `<arch>.embedding_length` written (default: dim; a different value makes the file inconsistent). */
  embeddingLength?: number;
  alignment?: number;
  overrides?: GgufOverrides;
  extraMeta?: MetaEntry[];
  /** Rows of the F32 tensor `blk.0.ffn_up.weight` before the token matrix (default 8): a big file around a small matrix. */
  fillerRows?: number;
}

/**
 * A GGUF v3 model: metadata with scalars and arrays, then tensors `blk.0.attn_norm.weight` and `blk.0.ffn_up.weight`
 * before the token matrix and `output_norm.weight` after it (the order llama.cpp files do not guarantee).
 */
export function testGguf(o: TestGgufOptions): Uint8Array {
  const arch = o.arch ?? 'llama';
  const meta: MetaEntry[] = [
    { key: 'general.architecture', type: T.STRING, value: arch },
    { key: 'general.name', type: T.STRING, value: 'test model' },
    { key: 'general.alignment', type: T.UINT32, value: o.alignment ?? 64 },
    { key: `${arch}.embedding_length`, type: T.UINT32, value: o.embeddingLength ?? o.dim },
    { key: `${arch}.block_count`, type: T.UINT32, value: 1 },
    { key: 'tokenizer.ggml.model', type: T.STRING, value: 'gpt2' },
    { key: 'tokenizer.ggml.tokens', type: T.ARRAY, itemType: T.STRING, value: Array.from({ length: 8 }, (_, i) => `tok${i}`) },
    { key: 'tokenizer.ggml.token_type', type: T.ARRAY, itemType: T.INT32, value: Array.from({ length: 8 }, () => 1) },
    ...(o.extraMeta ?? []),
  ];
  const f32 = (n: number, fill: number) => new Uint8Array(new Float32Array(n).fill(fill).buffer);
  const tensors: TensorEntry[] = [
    { name: 'blk.0.attn_norm.weight', dims: [o.dim], type: GGML_TYPE.F32, data: f32(o.dim, 1) },
    { name: 'blk.0.ffn_up.weight', dims: [o.dim, o.fillerRows ?? 8], type: GGML_TYPE.F32, data: f32(o.dim * (o.fillerRows ?? 8), 0.25) },
    { name: 'token_embd.weight', dims: [o.dim, o.vocab], type: GGML_TYPE[o.type], data: tokenMatrixBytes(o.type, o.vocab, o.dim) },
    { name: 'output_norm.weight', dims: [o.dim], type: GGML_TYPE.F32, data: f32(o.dim, 2) },
  ];
  return writeGguf(meta, tensors, o.overrides);
}
