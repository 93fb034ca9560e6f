/**
 * The safetensors header: `u64 LE length` + JSON `{name: {dtype, shape, data_offsets}, __metadata__?}`.
 * Parsing validates everything a hostile or truncated file could get wrong, so later reads can trust offsets.
 * Pure: no Node built-ins (shared by the file reader, the HTTP reader and the browser loader).
 */
import { UserError } from '../util/errors.ts';
import { DTYPE_BYTES, isDType, type DType } from './dtype.ts';

/** Real headers are < 1 MB even for 1000+ tensors; the reference implementation caps at 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte offsets relative to the start of the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Bytes of JSON after the 8-byte length prefix. */
  headerLength: number;
  /** Absolute file offset where tensor data starts (8 + headerLength). */
  dataStart: number;
  /** Bytes of tensor data (the last tensor's end). */
  dataLength: number;
}

/** Bad or unexpected file content: a user-facing, one-line error. */
export class SafetensorsError extends UserError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'SafetensorsError';
  }
}

/** Read the header length from the first 8 bytes, rejecting absurd values before anything is allocated. */
export function readHeaderLength(first8: Uint8Array, source: string, fileSize?: number): number {
  if (first8.byteLength < 8) throw new SafetensorsError(`${source}: not a safetensors file (shorter than 8 bytes)`);
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const len = view.getBigUint64(0, true);
  if (len === 0n || len > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${source}: not a safetensors file (header length ${len} is outside 1..${MAX_HEADER_BYTES})`);
  }
  const n = Number(len);
  if (fileSize !== undefined && 8 + n > fileSize) {
    throw new SafetensorsError(`${source}: not a safetensors file (header length ${n} runs past the file's ${fileSize} bytes)`);
  }
  return n;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Parse and validate the JSON header. `fileSize`, when known (local file, or Content-Range total of a remote
 * one), must equal header + data exactly.
 */
export function parseHeader(jsonBytes: Uint8Array, source: string, fileSize?: number): SafetensorsHeader {
  const headerLength = jsonBytes.byteLength;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(jsonBytes));
  } catch (err) {
    throw new SafetensorsError(`${source}: header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SafetensorsError(`${source}: header is not a JSON object`);
  }
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new SafetensorsError(`${source}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new SafetensorsError(`${source}: __metadata__.${k} must be a string`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    tensors.set(name, parseTensorEntry(name, value, source));
  }
  // Offsets must tile the data section exactly: sorted, contiguous, no overlap, no gaps.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of sorted) {
    if (t.begin !== cursor) {
      throw new SafetensorsError(
        t.begin < cursor
          ? `${source}: tensor "${t.name}" overlaps the previous tensor (starts at ${t.begin}, previous ends at ${cursor})`
          : `${source}: gap before tensor "${t.name}" (starts at ${t.begin}, previous ends at ${cursor})`,
      );
    }
    cursor = t.end;
  }
  const dataStart = 8 + headerLength;
  if (fileSize !== undefined && dataStart + cursor !== fileSize) {
    throw new SafetensorsError(`${source}: file is ${fileSize} bytes but header and tensors need ${dataStart + cursor} (truncated or corrupt)`);
  }
  return { tensors, metadata, headerLength, dataStart, dataLength: cursor };
}

function parseTensorEntry(name: string, value: unknown, source: string): TensorInfo {
  const where = `${source}: tensor "${name}"`;
  if (value === null || typeof value !== 'object') throw new SafetensorsError(`${where} is not an object`);
  const v = value as Record<string, unknown>;
  if (!isDType(v.dtype)) throw new SafetensorsError(`${where} has unknown dtype ${JSON.stringify(v.dtype)}`);
  if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`${where} has an invalid shape ${JSON.stringify(v.shape)}`);
  }
  const offs = v.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || (offs[1] as number) < (offs[0] as number)) {
    throw new SafetensorsError(`${where} has invalid data_offsets ${JSON.stringify(offs)}`);
  }
  const shape = v.shape as number[];
  const [begin, end] = offs as [number, number];
  const expected = elementCount(shape) * DTYPE_BYTES[v.dtype];
  if (end - begin !== expected) {
    throw new SafetensorsError(`${where}: shape ${JSON.stringify(shape)} × ${v.dtype} is ${expected} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype: v.dtype, shape, begin, end };
}

/** Elements per row (product of all but the first dimension). */
export function rowWidth(t: TensorInfo): number {
  return elementCount(t.shape.slice(1));
}

/** Build the header bytes for a writer: JSON padded with spaces so the data section starts 8-byte aligned. */
export function encodeHeader(
  specs: readonly { name: string; dtype: DType; shape: readonly number[] }[],
  metadata?: Record<string, string>,
): { bytes: Uint8Array; dataLength: number } {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) obj.__metadata__ = metadata;
  let offset = 0;
  for (const s of specs) {
    if (s.name === '__metadata__') throw new SafetensorsError('a tensor cannot be named __metadata__');
    if (Object.prototype.hasOwnProperty.call(obj, s.name)) throw new SafetensorsError(`duplicate tensor name "${s.name}"`);
    const size = elementCount(s.shape) * DTYPE_BYTES[s.dtype];
    obj[s.name] = { dtype: s.dtype, shape: [...s.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(obj);
  const utf8 = new TextEncoder();
  let jsonBytes = utf8.encode(json);
  const pad = (8 - ((8 + jsonBytes.byteLength) % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    jsonBytes = utf8.encode(json);
  }
  const bytes = new Uint8Array(8 + jsonBytes.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  bytes.set(jsonBytes, 8);
  return { bytes, dataLength: offset };
}
