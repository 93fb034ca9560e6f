import { GGUF_VALUE_TYPE } from '../../src/sources/gguf/header.js';

/**
 * Minimal GGUF v3 writer for tests, following the layout of ggml's gguf.cpp writer: magic, version,
 * tensor count, metadata count (u64s), key/values, tensor infos, padding to the alignment, then each
 * tensor's bytes at an aligned offset. Overrides let a test write a header that lies.
 */
export interface MetaEntry {
  key: string;
  type: number;
  /** Element type when type is ARRAY (nested arrays: itemTypes in order of depth). */
  itemType?: number | number[];
  value: unknown;
}

export interface TensorEntry {
  name: string;
  dims: number[];
  type: number;
  data: Uint8Array;
}

export interface GgufOverrides {
  version?: number;
  tensorCount?: bigint;
  kvCount?: bigint;
  /** Offset written for a tensor instead of the real one. */
  offsets?: Record<string, bigint>;
  /** Bytes to drop from the end of the file. */
  truncate?: number;
}

/** Bytes appended in order; small values collect in `pending`, large tensor data is kept as its own chunk. */
class Out {
  private chunks: Uint8Array[] = [];
  private pending: number[] = [];
  private size = 0;
  get length(): number {
    return this.size;
  }
  private flush(): void {
    if (this.pending.length > 0) this.chunks.push(Uint8Array.from(this.pending));
    this.pending = [];
  }
  bytes(b: ArrayLike<number>): void {
    if (b instanceof Uint8Array && b.byteLength > 4096) {
      this.flush();
      this.chunks.push(b);
    } else {
      for (let i = 0; i < b.length; i++) this.pending.push(b[i]!);
    }
    this.size += b.length;
  }
  num(n: number | bigint, kind: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'u64' | 'i64' | 'f64'): void {
    const size = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 }[kind];
    const v = new DataView(new ArrayBuffer(size));
    if (kind === 'u8') v.setUint8(0, Number(n));
    else if (kind === 'i8') v.setInt8(0, Number(n));
    else if (kind === 'u16') v.setUint16(0, Number(n), true);
    else if (kind === 'i16') v.setInt16(0, Number(n), true);
    else if (kind === 'u32') v.setUint32(0, Number(n), true);
    else if (kind === 'i32') v.setInt32(0, Number(n), true);
    else if (kind === 'f32') v.setFloat32(0, Number(n), true);
    else if (kind === 'f64') v.setFloat64(0, Number(n), true);
    else if (kind === 'u64') v.setBigUint64(0, BigInt(n), true);
    else v.setBigInt64(0, BigInt(n), true);
    this.bytes(new Uint8Array(v.buffer));
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.num(b.length, 'u64');
    this.bytes(b);
  }
  pad(alignment: number): void {
    while (this.size % alignment !== 0) this.bytes([0]);
  }
  done(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

const T = GGUF_VALUE_TYPE;
const KIND: Record<number, 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'u64' | 'i64' | 'f64'> = {
  [T.UINT8]: 'u8',
  [T.INT8]: 'i8',
  [T.UINT16]: 'u16',
  [T.INT16]: 'i16',
  [T.UINT32]: 'u32',
  [T.INT32]: 'i32',
  [T.FLOAT32]: 'f32',
  [T.UINT64]: 'u64',
  [T.INT64]: 'i64',
  [T.FLOAT64]: 'f64',
};

function writeValue(out: Out, type: number, value: unknown, itemTypes: number[]): void {
  if (type === T.STRING) out.str(value as string);
  else if (type === T.BOOL) out.num(value ? 1 : 0, 'u8');
  else if (type === T.ARRAY) {
    const [itemType, ...rest] = itemTypes;
    const items = value as unknown[];
    out.num(itemType!, 'u32');
    out.num(items.length, 'u64');
    for (const item of items) writeValue(out, itemType!, item, rest);
  } else out.num(value as number | bigint, KIND[type] ?? 'u8'); // unknown types: one byte, for lying-header tests
}

export function writeGguf(metadata: MetaEntry[], tensors: TensorEntry[], overrides: GgufOverrides = {}): Uint8Array {
  const alignEntry = metadata.find((m) => m.key === 'general.alignment');
  const alignment = alignEntry ? Number(alignEntry.value) : 32;
  const out = new Out();
  out.bytes([0x47, 0x47, 0x55, 0x46]);
  out.num(overrides.version ?? 3, 'u32');
  out.num(overrides.tensorCount ?? BigInt(tensors.length), 'u64');
  out.num(overrides.kvCount ?? BigInt(metadata.length), 'u64');
  for (const m of metadata) {
    out.str(m.key);
    out.num(m.type, 'u32');
    const itemTypes = m.itemType === undefined ? [] : Array.isArray(m.itemType) ? m.itemType : [m.itemType];
    writeValue(out, m.type, m.value, itemTypes);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    offset = Math.ceil((offset + t.data.byteLength) / alignment) * alignment;
  }
  tensors.forEach((t, i) => {
    out.str(t.name);
    out.num(t.dims.length, 'u32');
    for (const d of t.dims) out.num(d, 'u64');
    out.num(t.type, 'u32');
    out.num(overrides.offsets?.[t.name] ?? BigInt(offsets[i]!), 'u64');
  });
  out.pad(alignment);
  const dataStart = out.length;
  tensors.forEach((t, i) => {
    if (out.length < dataStart + offsets[i]!) out.bytes(new Uint8Array(dataStart + offsets[i]! - out.length));
    out.bytes(t.data);
  });
  if (tensors.length > 0) out.pad(alignment);
  const bytes = out.done();
  return overrides.truncate ? bytes.subarray(0, bytes.byteLength - overrides.truncate) : bytes;
}

/** An in-memory ByteSource that counts what was read. */
export function memorySource(
  bytes: Uint8Array,
  name = 'model.gguf',
): { name: string; size: number; reads: Array<[number, number]>; read(o: number, n: number): Promise<Uint8Array> } {
  const reads: Array<[number, number]> = [];
  return {
    name,
    size: bytes.byteLength,
    reads,
    read(o: number, n: number) {
      reads.push([o, n]);
      return Promise.resolve(bytes.slice(o, o + n));
    },
  };
}
