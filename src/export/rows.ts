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

/**
 * Encode rows in `dtype`. int8 scales the whole matrix so its largest magnitude becomes 127 and rounds, the
 * way model2vec's quantize_embeddings does: directions (hence cosine scores) survive, absolute lengths do not.
 */
export function encodeRows(values: Float32Array, rows: number, dim: number, dtype: ExportDtype): EncodedRows {
  if (dtype === 'int8') {
    let max = 0;
    for (const v of values) if (Math.abs(v) > max) max = Math.abs(v);
    const scale = max > 0 ? 127 / max : 0;
    const q = new Int8Array(values.length);
    for (let i = 0; i < values.length; i++) q[i] = Math.round(values[i]! * scale);
    return { rows, dim, dtype: 'I8', bytes: new Uint8Array(q.buffer) };
  }
  const enc = encodeFromF32(values, dtype === 'f32' ? 'F32' : 'F16');
  return { rows, dim, dtype: dtype === 'f32' ? 'F32' : 'F16', bytes: enc.bytes };
}
