/**
 * The rows an export writes: the model's effective token rows (vocabulary-quantized mapping and scale applied,
 * truncated to the model's dim), stored in the dtype the user chose.
 */
import { encodeFromF32, type DType } from '../safetensors/dtype.ts';
import type { StaticModel } from '../embed/model.ts';
import { UserError } from '../util/errors.ts';

/** Storage types an export can write. */
export const EXPORT_DTYPES = ['f32', 'f16', 'int8'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

export function parseExportDtype(value: string, where: string): ExportDtype {
  if (!(EXPORT_DTYPES as readonly string[]).includes(value)) {
    throw new UserError(`${where}: dtype "${value}" is not one of ${EXPORT_DTYPES.join(', ')}`);
  }
  return value as ExportDtype;
}

export interface EncodedRows {
  rows: number;
  dim: number;
  dtype: DType;
  bytes: Uint8Array;
}

/** Every token's row as float32, [vocabSize, dim] row-major. */
export function effectiveRows(model: StaticModel): Float32Array {
  const rows = model.info.vocabSize;
  const dim = model.dim;
  const data = new Float32Array(rows * dim);
  for (let id = 0; id < rows; id++) data.set(model.tokenVector(id), id * dim);
  return data;
}

/** Largest |value| of `values`, folded into `max` (so a matrix streamed in blocks gets one maximum). */
export function maxAbs(values: ArrayLike<number>, max = 0): number {
  for (let i = 0; i < values.length; i++) if (Math.abs(values[i]!) > max) max = Math.abs(values[i]!);
  return max;
}

/** The int8 step of a matrix whose largest |value| is `max`: value ≈ code × step, codes in -127..127. */
export const int8Step = (max: number): number => (max > 0 ? max / 127 : 1);

/**
 * int8 codes of `values` for a step from int8Step: the whole matrix shares one step so its largest magnitude
 * becomes 127 (symmetric), the way model2vec's quantize_embeddings does.
 */
export function encodeInt8(values: Float32Array, step: number): Uint8Array {
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(values[i]! / step)));
  return new Uint8Array(q.buffer);
}

/**
 * Encode rows in `dtype`. int8 as encodeInt8 with the matrix's own step: directions (hence cosine scores)
 * survive, absolute lengths do not (model2vec's files keep no step).
 */
export function encodeRows(values: Float32Array, rows: number, dim: number, dtype: ExportDtype): EncodedRows {
  if (dtype === 'int8') return { rows, dim, dtype: 'I8', bytes: encodeInt8(values, int8Step(maxAbs(values))) };
  const enc = encodeFromF32(values, dtype === 'f32' ? 'F32' : 'F16');
  return { rows, dim, dtype: dtype === 'f32' ? 'F32' : 'F16', bytes: enc.bytes };
}
