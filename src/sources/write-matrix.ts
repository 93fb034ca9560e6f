/**
 * The extracted-source file (the contract every later stage reads): one 2-D tensor `embedding` [n_vocab, dim]
 * in f16/f32/bf16 with provenance in `__metadata__`. Helpers to check a tensor's shape against the config,
 * build the header, convert chunks while streaming, and write from a RowMatrix or a raw byte reader by row
 * blocks (never the whole matrix in memory). Output goes through SafetensorsWriter: temp file + rename.
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { DTYPE_BYTES, bf16ToF16InPlace, convertFloatBytes, type DType, type FloatDType } from '../safetensors/dtype.ts';
import { encodeHeader } from '../safetensors/header.ts';
import { SafetensorsWriter } from '../safetensors/writer.ts';
import { ConfigError } from '../config/schema.ts';
import type { SourceConfig } from '../config/types.ts';
import { UserError } from '../util/errors.ts';
import { EXTRACTED_TENSOR } from '../layout/tensor-names.ts';
import { NonFiniteRows, describeNonFiniteRows, type ScannedDType } from '../util/non-finite.ts';

const FLOAT_SOURCES: readonly DType[] = ['F32', 'F16', 'BF16', 'F64'];

export type SourceKind = 'hub' | 'local' | 'tfjs';

export interface Provenance {
  repo: string;
  revision: string;
  tensor: string;
  source_dtype: string;
  source_kind: SourceKind;
}

/** Where in the config a source's keys live, for error messages (`[model]` or `[[sources]] #2`). */
export interface SourceWhere {
  configFile: string;
  table: string;
  /** Table holding n_vocab (always [model]). */
  vocabTable: string;
}

/**
 * Check a source tensor against the config: 2-D, a float dtype, row width = `dim`, rows = `n_vocab` (or more,
 * dropped only with `drop_extra_rows`). Returns the number of rows to keep. Errors name the config key.
 */
export function checkSourceTensor(shape: readonly number[], dtype: string, source: SourceConfig, where: SourceWhere, label: string): number {
  if (shape.length !== 2) {
    throw new UserError(
      `${label}: shape ${JSON.stringify(shape)} is not a 2-D [rows, dim] matrix; set tensor = "..." in ${where.configFile} ${where.table} to the token-embedding tensor`,
    );
  }
  if (!FLOAT_SOURCES.includes(dtype as DType)) {
    throw new UserError(`${label}: dtype ${dtype} is not a float type (F32/F16/BF16); quantized embeddings are not supported`);
  }
  return checkSourceShape(shape[0]!, shape[1]!, source, where, label);
}

/**
 * Check a [rows, dim] token matrix against the config (any stored type: GGUF sources dequantize): row width =
 * `dim`, rows = `n_vocab` (or more, dropped only with `drop_extra_rows`). Returns the number of rows to keep.
 */
export function checkSourceShape(rows: number, dim: number, source: SourceConfig, where: SourceWhere, label: string): number {
  if (dim !== source.dim) {
    throw new ConfigError(where.configFile, `${where.table} dim`, `${source.dim} contradicts the tensor: ${label} is [${rows}, ${dim}]; set dim = ${dim}`);
  }
  if (rows < source.n_vocab) {
    throw new ConfigError(
      where.configFile,
      `${where.vocabTable} n_vocab`,
      `${source.n_vocab} is more than the tensor's ${rows} rows (${label}); set n_vocab ≤ ${rows}`,
    );
  }
  if (rows > source.n_vocab && !source.drop_extra_rows) {
    throw new ConfigError(
      where.configFile,
      `${where.vocabTable} n_vocab`,
      `${source.n_vocab} but the tensor has ${rows} rows (${label}); if the checkpoint pads its matrix beyond the tokenizer, set drop_extra_rows = true, else set n_vocab = ${rows}`,
    );
  }
  return source.n_vocab;
}

export function outputMetadata(p: Provenance, rows: number, dim: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    format: 'pt',
    repo: p.repo,
    revision: p.revision,
    tensor: p.tensor,
    source_dtype: p.source_dtype,
    shape: JSON.stringify([rows, dim]),
    source_kind: p.source_kind,
    ...extra,
  };
}

/** The [rows, dim] that `outputMetadata` recorded. */
export function metadataShape(metadata: Record<string, string>): { rows: number; dim: number } {
  const [rows, dim] = JSON.parse(metadata.shape ?? '[0, 0]') as [number, number];
  return { rows, dim };
}

export function outputHeader(rows: number, dim: number, dtype: FloatDType, metadata: Record<string, string>): Uint8Array {
  return encodeHeader([{ name: EXTRACTED_TENSOR, dtype, shape: [rows, dim] }], metadata).bytes;
}

/**
 * Element-wise conversion of one chunk (BF16 → F32 is exact; → F16 rounds to nearest even, overflows counted).
 * The common hub cases (BF16 → F16/F32) convert bit patterns directly, without a float32 intermediate array:
 * it halves the memory per in-flight chunk and keeps conversion well ahead of the network.
 */
export function chunkConverter(from: DType, to: FloatDType) {
  if (from === 'BF16' && to === 'F16') {
    return (bytes: Uint8Array) => {
      // Same element width: convert in place (the downloader reuses its chunk buffers).
      const b = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
      const overflows = bf16ToF16InPlace(b.buffer, b.byteOffset, b.byteLength);
      return { bytes: b, overflows };
    };
  }
  if (from === 'BF16' && to === 'F32') {
    return (bytes: Uint8Array) => {
      const src = u16View(bytes);
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
      return { bytes: new Uint8Array(out.buffer), overflows: 0 };
    };
  }
  return (bytes: Uint8Array) => convertFloatBytes(bytes, from, to);
}

function u16View(bytes: Uint8Array): Uint16Array {
  const b = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}

/** Refuse a source whose rows hold NaN/±Inf (counted over the whole stream, so the message has the total). */
export function refuseNonFinite(found: NonFiniteRows, rows: number, path: string): void {
  if (found.count === 0) return;
  throw new UserError(`${path}: the source matrix is broken: ${describeNonFiniteRows(found, rows)}; nothing was written (use another revision or source)`);
}

export interface WriteResult {
  path: string;
  overflows: number;
  bytes: number;
}

/** Rows per block so one block is ~`targetBytes` of float32 (at least one row). */
function blockRowsFor(dim: number, targetBytes = 16 * 1024 * 1024): number {
  return Math.max(1, Math.floor(targetBytes / (dim * 4)));
}

/** Write rows [0, rows) of a RowMatrix (TF.js sources, concatenations) into the contract file. */
export async function writeMatrixFromRows(
  m: RowMatrix,
  path: string,
  rows: number,
  dtype: FloatDType,
  metadata: Record<string, string>,
  onRows?: (done: number) => void,
): Promise<WriteResult> {
  const w = await SafetensorsWriter.create(path, [{ name: EXTRACTED_TENSOR, dtype, shape: [rows, m.dim] }], metadata);
  const nonFinite = new NonFiniteRows(m.dim);
  try {
    const block = blockRowsFor(m.dim);
    const buf = new Float32Array(block * m.dim);
    for (let start = 0; start < rows; start += block) {
      const count = Math.min(block, rows - start);
      const values = (await m.readRows(start, count, buf)).subarray(0, count * m.dim);
      nonFinite.addF32(values, start);
      await w.writeF32(values);
      onRows?.(start + count);
    }
    refuseNonFinite(nonFinite, rows, path);
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
  return { path, overflows: w.overflows, bytes: w.dataLength };
}

/** Write rows [0, rows) from a raw reader of the source tensor's bytes (local safetensors), converting dtype. */
export async function writeMatrixFromBytes(
  read: (byteStart: number, byteLength: number) => Promise<Uint8Array>,
  srcDtype: DType,
  dim: number,
  path: string,
  rows: number,
  dtype: FloatDType,
  metadata: Record<string, string>,
  onBytes?: (done: number) => void,
): Promise<WriteResult> {
  const w = await SafetensorsWriter.create(path, [{ name: EXTRACTED_TENSOR, dtype, shape: [rows, dim] }], metadata);
  let overflows = 0;
  const nonFinite = new NonFiniteRows(dim);
  try {
    const rowBytes = dim * DTYPE_BYTES[srcDtype];
    const block = Math.max(1, Math.floor((16 * 1024 * 1024) / rowBytes));
    const convert = chunkConverter(srcDtype, dtype);
    for (let start = 0; start < rows; start += block) {
      const count = Math.min(block, rows - start);
      const src = await read(start * rowBytes, count * rowBytes);
      nonFinite.addBytes(src, srcDtype as ScannedDType, start); // before conversion: F16 overflows are counted apart
      const out = convert(src);
      overflows += out.overflows;
      await w.write(out.bytes);
      onBytes?.((start + count) * rowBytes);
    }
    refuseNonFinite(nonFinite, rows, path);
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
  return { path, overflows, bytes: w.dataLength };
}
