/**
 * A matrix on disk, read by row blocks. Extracted sources, concatenations (which may pass 2^31 elements) and
 * saved models are all read through this, so no stage ever holds a whole large matrix in memory.
 */
import { SafetensorsFile } from '../safetensors/file.ts';
import { SafetensorsError, rowWidth } from '../safetensors/header.ts';

export interface RowMatrix {
  readonly rows: number;
  readonly dim: number;
  /** Human-readable origin for messages. */
  readonly label: string;
  /** Rows `[start, start+count)` as float32 row-major (`out` reused when given, length ≥ count·dim). */
  readRows(start: number, count: number, out?: Float32Array): Promise<Float32Array>;
  close(): Promise<void>;
}

/** One 2-D tensor of a safetensors file as a RowMatrix. */
export async function openSafetensorsMatrix(path: string, tensor?: string): Promise<RowMatrix & { file: SafetensorsFile }> {
  const file = await SafetensorsFile.open(path);
  try {
    const names = file.tensorNames;
    const name = tensor ?? (names.length === 1 ? names[0]! : undefined);
    if (name === undefined) {
      throw new SafetensorsError(`${path}: holds ${names.length} tensors (${names.join(', ')}); say which one to read`);
    }
    const info = file.tensor(name);
    if (info.shape.length !== 2) throw new SafetensorsError(`${path}: tensor "${name}" has shape ${JSON.stringify(info.shape)}, expected 2-D`);
    return {
      file,
      rows: info.shape[0]!,
      dim: rowWidth(info),
      label: `${path}#${name}`,
      readRows: (start, count, out) => file.readRowsF32(name, start, count, out),
      close: () => file.close(),
    };
  } catch (err) {
    await file.close();
    throw err;
  }
}
