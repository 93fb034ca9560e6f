/**
 * Safetensors dtypes and exact float conversions. Pure functions, no Node built-ins (the browser uses them).
 * All byte buffers are little-endian, as the safetensors format requires (and as every platform JS runs on is).
 */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;

export type DType = keyof typeof DTYPE_BYTES;

/** The float dtypes the pipeline converts between (`--dtype` and extracted/saved matrices). */
export type FloatDType = 'F32' | 'F16' | 'BF16';

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

/** Parse a user-facing dtype name (`f16`, `float16`, `bf16`, `f32`, `float32`) into the safetensors name. */
export function parseFloatDType(name: string): FloatDType | undefined {
  switch (name.toLowerCase()) {
    case 'f16':
    case 'fp16':
    case 'float16':
      return 'F16';
    case 'bf16':
    case 'bfloat16':
      return 'BF16';
    case 'f32':
    case 'fp32':
    case 'float32':
      return 'F32';
    default:
      return undefined;
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 bits → float16 bits, round-to-nearest-even; overflow gives ±Inf (callers count those). */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or zero): value = m · 2^-24 with m = (1.mant) · 2^(e-14+23) shifted.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const full = mant | 0x800000;
    const shift = 14 - e;
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (m & 1) !== 0)) m++;
    return sign | m; // m may carry into 0x400: the smallest normal, which is correct
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carry may reach 0x7c00 = Inf (overflow)
  return sign | h;
}

export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  return f32BitsToF16Bits(u32Scratch[0]!);
}

let f16Table: Float32Array | undefined;
/**
 * All 65536 float16 values as float32: decoding becomes one table lookup per element (256 kB, stays in cache;
 * the embedding library pools f16 rows through it).
 */
export function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero and subnormals are exact in f32
    } else if (exp === 0x1f) {
      bits[h] = sign | 0x7f800000 | (mant << 13);
    } else {
      bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    }
  }
  f16Table = table;
  return table;
}

export function f16BitsToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff]!;
}

/** float32 bits → bfloat16 bits, round-to-nearest-even; NaN stays a (quiet) NaN. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0]!;
}

let bf16F16: Uint16Array | undefined;
/** BF16 bits → F16 bits (round to nearest even) for all 65536 inputs: conversion becomes one lookup. */
export function bf16ToF16Table(): Uint16Array {
  if (!bf16F16) {
    bf16F16 = new Uint16Array(65536);
    for (let b = 0; b < 65536; b++) bf16F16[b] = f32BitsToF16Bits(b << 16);
  }
  return bf16F16;
}

/** ±Inf in F16 from a finite BF16 input (its exponent not all ones): an overflow. */
function overflowed(bf16: number, f16: number): boolean {
  return (f16 & 0x7fff) === 0x7c00 && (bf16 & 0x7f80) !== 0x7f80;
}

/**
 * BF16 → F16 in place over `length` bytes of `buffer` from `byteOffset` (even), returning the overflows
 * (finite → ±Inf). Results equal `bf16ToF16Table()` for every input; the hub download converts gigabytes with
 * it, so it works two elements per 32-bit word. Both formats keep the sign bit on top; a BF16 magnitude in
 * F16's normal range (2^-14 ≤ |x| < 2^16, 15-bit magnitude in [0x3880, 0x4780)) converts exactly by
 * re-biasing the exponent and shifting the 7-bit mantissa into the 10-bit one (no rounding needed): for a
 * word whose two halves are both such, that is one subtraction and one shift for both, with no carry between
 * halves. Everything else (subnormal results that round, overflows, Inf/NaN) goes through the table. Real
 * embedding values (|x| ~ 1e-3..1) take the fast path.
 */
export function bf16ToF16InPlace(buffer: ArrayBufferLike, byteOffset: number, length: number, table = bf16ToF16Table()): number {
  if (byteOffset % 2 !== 0 || length % 2 !== 0) throw new Error(`bf16ToF16InPlace: offset ${byteOffset} and length ${length} must be even`);
  let overflows = 0;
  const one = (at: number) => {
    const u = new Uint16Array(buffer, at, 1);
    const b = u[0]!;
    const h = table[b]!;
    u[0] = h;
    if (overflowed(b, h)) overflows++;
  };
  // A Uint32Array view needs a 4-byte aligned start: convert a leading element on its own.
  if (byteOffset % 4 !== 0 && length > 0) {
    one(byteOffset);
    byteOffset += 2;
    length -= 2;
  }
  const words = length >> 2;
  const w32 = new Uint32Array(buffer, byteOffset, words);
  for (let i = 0; i < words; i++) {
    const w = w32[i]!;
    const lo = w & 0x7fff;
    const hi = (w >>> 16) & 0x7fff;
    if ((lo - 0x3880) >>> 0 < 0x0f00 && (hi - 0x3880) >>> 0 < 0x0f00) {
      w32[i] = ((w & 0x80008000) | (((w & 0x7fff7fff) - 0x38003800) << 3)) >>> 0;
    } else if ((w & 0x7fff7fff) !== 0) {
      // (±0 in both halves stays as it is.)
      const a = table[w & 0xffff]!;
      const b = table[w >>> 16]!;
      if (overflowed(w & 0xffff, a)) overflows++;
      if (overflowed(w >>> 16, b)) overflows++;
      w32[i] = (a | (b << 16)) >>> 0;
    }
  }
  if (length & 2) one(byteOffset + words * 4);
  return overflows;
}

/** View `bytes` as a typed array of `T`, copying only when the offset is not aligned for it. */
function aligned<T>(bytes: Uint8Array, width: number, make: (buf: ArrayBufferLike, off: number, len: number) => T): T {
  const n = bytes.byteLength / width;
  if (bytes.byteOffset % width === 0) return make(bytes.buffer, bytes.byteOffset, n);
  const copy = bytes.slice();
  return make(copy.buffer, 0, n);
}

/**
 * Decode `bytes` of `dtype` into float32 (`out` when given, else a new array). Integers convert by value
 * (model2vec's int8 matrices, vocabulary mappings); I64 must fit in a double exactly.
 */
export function decodeToF32(bytes: Uint8Array, dtype: DType, out?: Float32Array): Float32Array {
  const width = DTYPE_BYTES[dtype];
  if (bytes.byteLength % width !== 0) throw new Error(`byte length ${bytes.byteLength} is not a multiple of ${dtype} size ${width}`);
  const n = bytes.byteLength / width;
  const dst = out ?? new Float32Array(n);
  if (dst.length < n) throw new Error(`output holds ${dst.length} values, need ${n}`);
  switch (dtype) {
    case 'F32':
      dst.set(aligned(bytes, 4, (b, o, l) => new Float32Array(b, o, l)));
      break;
    case 'F16': {
      const src = aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      const table = f16ToF32Table();
      for (let i = 0; i < n; i++) dst[i] = table[src[i]!]!;
      break;
    }
    case 'BF16': {
      const src = aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l));
      const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
      break;
    }
    case 'F64':
      dst.set(aligned(bytes, 8, (b, o, l) => new Float64Array(b, o, l)));
      break;
    case 'I64': {
      const src = aligned(bytes, 8, (b, o, l) => new BigInt64Array(b, o, l));
      for (let i = 0; i < n; i++) dst[i] = Number(src[i]!);
      break;
    }
    case 'I32':
      dst.set(aligned(bytes, 4, (b, o, l) => new Int32Array(b, o, l)));
      break;
    case 'I16':
      dst.set(aligned(bytes, 2, (b, o, l) => new Int16Array(b, o, l)));
      break;
    case 'I8':
      dst.set(new Int8Array(bytes.buffer, bytes.byteOffset, n));
      break;
    case 'U8':
    case 'BOOL':
      dst.set(bytes);
      break;
  }
  return dst;
}

export interface EncodeResult {
  bytes: Uint8Array;
  /** Finite inputs that became ±Inf (only possible for F16). */
  overflows: number;
}

/** Encode float32 values as `dtype` bytes with round-to-nearest-even, counting f16 overflows. */
export function encodeFromF32(values: Float32Array, dtype: FloatDType): EncodeResult {
  const n = values.length;
  if (dtype === 'F32') {
    return { bytes: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + n * 4)), overflows: 0 };
  }
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  const out = new Uint16Array(n);
  let overflows = 0;
  if (dtype === 'F16') {
    for (let i = 0; i < n; i++) {
      const x = bits[i]!;
      const h = f32BitsToF16Bits(x);
      out[i] = h;
      if ((h & 0x7fff) === 0x7c00 && (x & 0x7f800000) !== 0x7f800000) overflows++;
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = f32BitsToBf16Bits(bits[i]!);
  }
  return { bytes: new Uint8Array(out.buffer), overflows };
}

/**
 * Convert raw bytes between float dtypes without a detour when they match (BF16 → F32 is exact; the
 * extract stage uses this while streaming).
 */
export function convertFloatBytes(bytes: Uint8Array, from: DType, to: FloatDType): EncodeResult {
  if (from === to) return { bytes, overflows: 0 };
  return encodeFromF32(decodeToF32(bytes, from), to);
}
