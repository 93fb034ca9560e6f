/**
 * Streaming safetensors writer: the header (all tensor specs known up front) goes first, then data is
 * appended in order in blocks of any size. Output is a temp file renamed into place by `commit()`, so a
 * crash or `abort()` never leaves a file that looks complete.
 */
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPathFor } from '../util/atomic.ts';
import { DTYPE_BYTES, encodeFromF32, type DType, type FloatDType } from './dtype.ts';
import { SafetensorsError, elementCount, encodeHeader } from './header.ts';

export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

export class SafetensorsWriter {
  /** Finite values that overflowed to ±Inf when converting to F16 (callers report them). */
  overflows = 0;
  private written = 0;
  private tensorIndex = 0;
  private tensorWritten = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    readonly tempPath: string,
    private readonly fh: FileHandle,
    private readonly specs: TensorSpec[],
    private readonly dataStart: number,
    readonly dataLength: number,
  ) {}

  static async create(path: string, specs: TensorSpec[], metadata?: Record<string, string>): Promise<SafetensorsWriter> {
    const { bytes, dataLength } = encodeHeader(specs, metadata);
    await mkdir(dirname(path), { recursive: true });
    const tempPath = tempPathFor(path);
    const fh = await open(tempPath, 'w');
    try {
      await fh.write(bytes, 0, bytes.byteLength, 0);
    } catch (err) {
      await fh.close();
      await rm(tempPath, { force: true });
      throw err;
    }
    return new SafetensorsWriter(path, tempPath, fh, specs, bytes.byteLength, dataLength);
  }

  /** The tensor the next bytes belong to. */
  get current(): TensorSpec | undefined {
    return this.specs[this.tensorIndex];
  }

  /** Append raw bytes (already in the current tensor's dtype); may span tensor boundaries. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new SafetensorsError(`${this.path}: write after commit/abort`);
    if (this.written + bytes.byteLength > this.dataLength) {
      throw new SafetensorsError(`${this.path}: ${this.written + bytes.byteLength} bytes written, header declares ${this.dataLength}`);
    }
    let off = 0;
    while (off < bytes.byteLength) {
      const { bytesWritten } = await this.fh.write(bytes, off, bytes.byteLength - off, this.dataStart + this.written);
      off += bytesWritten;
      this.written += bytesWritten;
    }
    this.advance(bytes.byteLength);
  }

  /** Append float32 values converted (round-to-nearest-even) to the current tensor's float dtype. */
  async writeF32(values: Float32Array): Promise<void> {
    const spec = this.current;
    if (!spec) throw new SafetensorsError(`${this.path}: all tensors already written`);
    if (spec.dtype !== 'F32' && spec.dtype !== 'F16' && spec.dtype !== 'BF16') {
      throw new SafetensorsError(`${this.path}: writeF32 into ${spec.dtype} tensor "${spec.name}"`);
    }
    const { bytes, overflows } = encodeFromF32(values, spec.dtype as FloatDType);
    this.overflows += overflows;
    await this.write(bytes);
  }

  private advance(n: number): void {
    this.tensorWritten += n;
    while (this.current) {
      const size = elementCount(this.current.shape) * DTYPE_BYTES[this.current.dtype];
      if (this.tensorWritten < size) break;
      this.tensorWritten -= size;
      this.tensorIndex++;
    }
  }

  /** Verify every declared byte was written, flush, and rename into place. */
  async commit(): Promise<void> {
    if (this.written !== this.dataLength) {
      await this.abort();
      throw new SafetensorsError(`${this.path}: only ${this.written} of ${this.dataLength} data bytes were written`);
    }
    this.closed = true;
    try {
      await this.fh.sync();
      await this.fh.close();
      await rename(this.tempPath, this.path);
    } catch (err) {
      await rm(this.tempPath, { force: true });
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
    await rm(this.tempPath, { force: true });
  }
}

/** Write tensors held in memory (small files: tests, fixtures, saved models) in one go. */
export async function writeSafetensors(
  path: string,
  tensors: { name: string; dtype: DType; shape: number[]; data: Uint8Array | Float32Array }[],
  metadata?: Record<string, string>,
): Promise<void> {
  const w = await SafetensorsWriter.create(
    path,
    tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
    metadata,
  );
  try {
    for (const t of tensors) {
      if (t.data instanceof Float32Array) await w.writeF32(t.data);
      else await w.write(t.data);
    }
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
