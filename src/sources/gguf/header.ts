import { UserError } from '../../util/errors.js';
import { ggmlStorage, ggmlTypeName } from './ggml-types.js';

/**
 * GGUF header parser: magic, version, metadata key/values and tensor-info records, up to the start
 * of tensor data. It reads through an abstract ByteSource (a local file, or HTTP Range slices of a
 * hub file), asking for a growing prefix until the header fits, so a multi-GB model costs only its
 * header to inspect. Every count, length and offset is checked against the file size before use,
 * so a lying header is one line naming the file and the field, never a huge allocation.
 * Layout follows ggml's gguf.cpp reader and docs/gguf.md of the ggml repository (little-endian).
 */

/** Random access to a file's bytes. */
export interface ByteSource {
  /** What to call the file in messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes starting at `offset` (the caller keeps offset + length ≤ size). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export const GGUF_VALUE_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** Scalars as JS values; 64-bit integers become numbers when they are exact, bigints otherwise. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufScalar[] | GgufValue[];

export interface GgufMetadataEntry {
  readonly type: number;
  /** Element type when `type` is ARRAY. */
  readonly itemType?: number;
  readonly value: GgufValue;
}

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] (ne0) is the fastest-varying, i.e. the row length. */
  readonly dims: readonly number[];
  readonly type: number;
  /** Offset relative to the start of the tensor data section. */
  readonly offset: number;
  /** Absolute offset in the file. */
  readonly fileOffset: number;
  /** Size in bytes, when the type's storage is known. */
  readonly byteLength?: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufMetadataEntry>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute file offset where tensor data starts (end of header, padded to `alignment`). */
  readonly dataOffset: number;
  readonly fileSize: number;
  /** Bytes read from the source to parse the header (the grown prefix). */
  readonly bytesRead: number;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
const DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
const MAX_DIMS = 4;
/** Smallest possible encodings, used to bound counts by the bytes left in the file. */
const MIN_KV_BYTES = 8 + 4 + 1; // empty key, value type, one-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // empty name, n_dims, one dim, type, offset
const MAX_ARRAY_DEPTH = 8;
const INITIAL_WINDOW = 64 * 1024;

/**
 * Thrown inside the parser when the current prefix ends before the header does: `until` is the end of what the
 * parser needs now, `estimate` (when the parser was inside a list) where that list probably ends.
 */
class NeedMore {
  constructor(
    readonly until: number,
    readonly estimate?: number,
  ) {}
}

/**
 * Where a list of `count` items starting at `start` probably ends, from the `done` items that fit in the prefix
 * (they end at `doneEnd`), plus 2% and 4 KiB of margin. The token and merge lists are nearly all of a header, so
 * jumping to their estimated ends reads the header in a few requests with little beyond it; doubling the prefix
 * instead could read up to twice the header.
 */
function extrapolatedEnd(start: number, doneEnd: number, done: number, count: number): number {
  return doneEnd + Math.ceil(((doneEnd - start) / done) * (count - done) * 1.02) + 4096;
}

/** Runs `read` for item `i` of a list; a prefix that runs out inside it names where the list probably ends. */
function withListEstimate<T>(read: () => T, start: number, itemStart: number, i: number, count: number): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof NeedMore && err.estimate === undefined && i > 0) throw new NeedMore(err.until, extrapolatedEnd(start, itemStart, i, count));
    throw err;
  }
}

const SCALAR_BYTES: Record<number, number> = {
  [GGUF_VALUE_TYPE.UINT8]: 1,
  [GGUF_VALUE_TYPE.INT8]: 1,
  [GGUF_VALUE_TYPE.BOOL]: 1,
  [GGUF_VALUE_TYPE.UINT16]: 2,
  [GGUF_VALUE_TYPE.INT16]: 2,
  [GGUF_VALUE_TYPE.UINT32]: 4,
  [GGUF_VALUE_TYPE.INT32]: 4,
  [GGUF_VALUE_TYPE.FLOAT32]: 4,
  [GGUF_VALUE_TYPE.UINT64]: 8,
  [GGUF_VALUE_TYPE.INT64]: 8,
  [GGUF_VALUE_TYPE.FLOAT64]: 8,
};

/** Cursor over a prefix of the file; running off the prefix asks for more, off the file is an error. */
class Cursor {
  private readonly view: DataView;
  pos = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly name: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(what: string): never {
    throw new UserError(`${this.name}: invalid GGUF header: ${what}; the file is damaged or not GGUF (re-download it)`);
  }

  /** Bytes from the cursor to the end of the file. */
  remaining(): number {
    return this.fileSize - this.pos;
  }

  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize) this.fail(`${what} at byte ${this.pos} needs ${n} bytes but the file has ${this.fileSize}`);
    if (end > this.bytes.byteLength) throw new NeedMore(end);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** uint64 that must be an exact JS number (sizes, counts, offsets). */
  size(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is ${v}, larger than any file`);
    return Number(v);
  }
  string(what: string): string {
    const length = this.size(`${what} length`);
    if (length > this.remaining()) this.fail(`${what} length ${length} runs past the end of the file (${this.fileSize} bytes)`);
    this.need(length, what);
    // ignoreBOM keeps a leading U+FEFF: it is text here (Gemma-3 has a token "\uFEFF#"), not a byte-order mark.
    const s = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return s;
  }
  scalar(type: number, what: string): GgufScalar {
    if (type === GGUF_VALUE_TYPE.STRING) return this.string(what);
    const n = SCALAR_BYTES[type];
    if (n === undefined) this.fail(`${what} has value type ${type}, not a GGUF type (0-12)`);
    this.need(n, what);
    const v = this.view;
    const p = this.pos;
    this.pos += n;
    switch (type) {
      case GGUF_VALUE_TYPE.UINT8:
        return v.getUint8(p);
      case GGUF_VALUE_TYPE.INT8:
        return v.getInt8(p);
      case GGUF_VALUE_TYPE.BOOL: {
        const b = v.getUint8(p);
        if (b > 1) this.fail(`${what} is a bool with byte value ${b}`);
        return b === 1;
      }
      case GGUF_VALUE_TYPE.UINT16:
        return v.getUint16(p, true);
      case GGUF_VALUE_TYPE.INT16:
        return v.getInt16(p, true);
      case GGUF_VALUE_TYPE.UINT32:
        return v.getUint32(p, true);
      case GGUF_VALUE_TYPE.INT32:
        return v.getInt32(p, true);
      case GGUF_VALUE_TYPE.FLOAT32:
        return v.getFloat32(p, true);
      case GGUF_VALUE_TYPE.FLOAT64:
        return v.getFloat64(p, true);
      case GGUF_VALUE_TYPE.UINT64:
        return exactNumber(v.getBigUint64(p, true));
      default:
        return exactNumber(v.getBigInt64(p, true));
    }
  }
}

function exactNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function readArray(c: Cursor, what: string, depth: number): { itemType: number; value: GgufValue } {
  if (depth > MAX_ARRAY_DEPTH) c.fail(`${what} nests arrays deeper than ${MAX_ARRAY_DEPTH}`);
  const itemType = c.u32(`${what} array item type`);
  const length = c.size(`${what} array length`);
  // Every item takes at least one byte (8 for strings and arrays, their length prefix).
  const minItem = itemType === GGUF_VALUE_TYPE.STRING || itemType === GGUF_VALUE_TYPE.ARRAY ? 8 : (SCALAR_BYTES[itemType] ?? 1);
  if (length * minItem > c.remaining()) {
    c.fail(`${what} array length ${length} needs at least ${length * minItem} bytes but ${c.remaining()} remain in the file`);
  }
  const items: GgufValue[] = new Array<GgufValue>(length);
  const start = c.pos;
  for (let i = 0; i < length; i++) {
    const read = () => (itemType === GGUF_VALUE_TYPE.ARRAY ? readArray(c, `${what}[${i}]`, depth + 1).value : c.scalar(itemType, `${what}[${i}]`));
    items[i] = withListEstimate(read, start, c.pos, i, length);
  }
  return { itemType, value: items };
}

/** One entry of the tensor-info table, checked against the alignment and the file size. */
function readTensorInfo(c: Cursor, i: number, names: Set<string>, alignment: number, fileSize: number): Omit<GgufTensorInfo, 'fileOffset'> {
  const tensorName = c.string(`tensor ${i} name`);
  if (names.has(tensorName)) c.fail(`tensor "${tensorName}" appears twice`);
  names.add(tensorName);
  const nDims = c.u32(`tensor "${tensorName}" dimension count`);
  if (nDims < 1 || nDims > MAX_DIMS) c.fail(`tensor "${tensorName}" has ${nDims} dimensions (1-${MAX_DIMS} allowed)`);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const ne = c.size(`tensor "${tensorName}" dimension ${d}`);
    if (ne === 0) c.fail(`tensor "${tensorName}" has dimension ${d} of size 0`);
    dims.push(ne);
    elements *= ne;
    if (elements > fileSize * 8) c.fail(`tensor "${tensorName}" shape [${dims.join(', ')}] is larger than the file`);
  }
  const type = c.u32(`tensor "${tensorName}" type`);
  const offset = c.size(`tensor "${tensorName}" offset`);
  if (offset % alignment !== 0) c.fail(`tensor "${tensorName}" offset ${offset} is not a multiple of the alignment ${alignment}`);
  const storage = ggmlStorage(type);
  let byteLength: number | undefined;
  if (storage) {
    if (dims[0]! % storage.blockValues !== 0) {
      c.fail(`tensor "${tensorName}" row length ${dims[0]} is not a multiple of the ${storage.name} block size ${storage.blockValues}`);
    }
    byteLength = (elements / storage.blockValues) * storage.blockBytes;
  }
  return { name: tensorName, dims, type, offset, ...(byteLength === undefined ? {} : { byteLength }) };
}

function parsePrefix(bytes: Uint8Array, fileSize: number, name: string, bytesRead: number): GgufHeader {
  const c = new Cursor(bytes, fileSize, name);
  if (fileSize < 4 || (bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) !== MAGIC)) {
    throw new UserError(`${name}: not a GGUF file (it does not start with the bytes "GGUF")`);
  }
  c.u32('magic');
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    // A big-endian file's version 2 or 3 reads as 0x02000000 / 0x03000000 here.
    if (version === 0x02000000 || version === 0x03000000) {
      throw new UserError(`${name}: big-endian GGUF is not supported; use the little-endian file of the model`);
    }
    throw new UserError(`${name}: GGUF version ${version} is not supported (versions 2 and 3 are); convert it with a current llama.cpp`);
  }
  const tensorCount = c.size('tensor count');
  const kvCount = c.size('metadata count');
  if (kvCount * MIN_KV_BYTES > c.remaining()) c.fail(`metadata count ${kvCount} cannot fit in a ${fileSize}-byte file`);
  if (tensorCount * MIN_TENSOR_INFO_BYTES > c.remaining()) c.fail(`tensor count ${tensorCount} cannot fit in a ${fileSize}-byte file`);

  const metadata = new Map<string, GgufMetadataEntry>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`);
    if (metadata.has(key)) c.fail(`metadata key "${key}" appears twice`);
    const type = c.u32(`type of metadata "${key}"`);
    if (type === GGUF_VALUE_TYPE.ARRAY) {
      const { itemType, value } = readArray(c, `metadata "${key}"`, 1);
      metadata.set(key, { type, itemType, value });
    } else {
      metadata.set(key, { type, value: c.scalar(type, `metadata "${key}"`) });
    }
  }

  const alignment = readAlignment(metadata, c);
  const infos: Array<Omit<GgufTensorInfo, 'fileOffset'>> = [];
  const names = new Set<string>();
  const infoStart = c.pos;
  for (let i = 0; i < tensorCount; i++) {
    infos.push(withListEstimate(() => readTensorInfo(c, i, names, alignment, fileSize), infoStart, c.pos, i, tensorCount));
  }

  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  if (tensorCount > 0 && dataOffset > fileSize) c.fail(`tensor data would start at byte ${dataOffset}, past the end of the file (${fileSize} bytes)`);
  const tensors = infos.map((t): GgufTensorInfo => {
    const fileOffset = dataOffset + t.offset;
    const end = fileOffset + (t.byteLength ?? 0);
    if (fileOffset > fileSize || end > fileSize) {
      c.fail(`tensor "${t.name}" (${ggmlTypeName(t.type)} [${t.dims.join(', ')}]) spans bytes ${fileOffset}-${end} but the file has ${fileSize}`);
    }
    return { ...t, fileOffset };
  });
  return { version, metadata, tensors, alignment, dataOffset, fileSize, bytesRead };
}

function readAlignment(metadata: ReadonlyMap<string, GgufMetadataEntry>, c: Cursor): number {
  const entry = metadata.get('general.alignment');
  if (entry === undefined) return DEFAULT_ALIGNMENT;
  const v = entry.value;
  if (entry.type !== GGUF_VALUE_TYPE.UINT32 || typeof v !== 'number' || v === 0 || (v & (v - 1)) !== 0) {
    c.fail(`general.alignment must be a power-of-two uint32, got ${String(v)}`);
  }
  return v;
}

/**
 * Parses the header of `source`, reading a growing prefix (from 64 KiB) until the header fits, each read
 * continuing where the last ended. Inside a list the prefix grows to the list's estimated end; elsewhere it
 * doubles while it is small (under 1 MiB) and then grows by a quarter, so what is read past the header's end stays
 * a small share of it. Re-parsing each larger prefix keeps the parser synchronous.
 */
export async function readGgufHeader(source: ByteSource, initialWindow = INITIAL_WINDOW): Promise<GgufHeader> {
  let prefix = new Uint8Array(0);
  let want = Math.min(source.size, Math.max(16, initialWindow));
  for (;;) {
    if (want > prefix.byteLength) {
      const more = await source.read(prefix.byteLength, want - prefix.byteLength);
      const grown = new Uint8Array(want);
      grown.set(prefix);
      grown.set(more, prefix.byteLength);
      prefix = grown;
    }
    try {
      return parsePrefix(prefix, source.size, source.name, prefix.byteLength);
    } catch (err) {
      if (!(err instanceof NeedMore)) throw err;
      // An estimate is trusted up to 4x the prefix: a list whose first items are long (or a lying header) must not
      // make one read of the whole multi-GB file.
      const doubled = prefix.byteLength < 1 << 20 ? prefix.byteLength * 2 : Math.ceil(prefix.byteLength * 1.25);
      const grown = err.estimate === undefined ? doubled : Math.min(err.estimate, prefix.byteLength * 4);
      want = Math.min(source.size, Math.max(err.until, grown));
    }
  }
}
