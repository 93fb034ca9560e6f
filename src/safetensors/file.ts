/**
 * Safetensors on disk, read by file descriptor in row blocks: a 20 GB matrix is never read whole, and
 * positions are plain numbers (exact to 2^53), so files past 2 GB work.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { DTYPE_BYTES, decodeToF32 } from './dtype.ts';
import { SafetensorsError, parseHeader, readHeaderLength, rowWidth, type SafetensorsHeader, type TensorInfo } from './header.ts';

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly header: SafetensorsHeader,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const size = (await stat(path)).size;
    const fh = await open(path, 'r');
    try {
      const first8 = await readExactly(fh, 0, Math.min(8, size), path);
      const n = readHeaderLength(first8, path, size);
      const json = await readExactly(fh, 8, n, path);
      return new SafetensorsFile(path, parseHeader(json, path, size), fh);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get tensorNames(): string[] {
    return [...this.header.tensors.keys()];
  }

  tensor(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) throw new SafetensorsError(`${this.path}: no tensor "${name}" (has: ${this.tensorNames.join(', ') || 'none'})`);
    return t;
  }

  /** Raw bytes `[byteStart, byteStart + byteLength)` of a tensor's data. */
  async readBytes(t: TensorInfo, byteStart: number, byteLength: number): Promise<Uint8Array> {
    if (byteStart < 0 || byteStart + byteLength > t.end - t.begin) {
      throw new SafetensorsError(`${this.path}: read of ${byteLength} bytes at ${byteStart} is outside tensor "${t.name}"`);
    }
    return readExactly(this.fh, this.header.dataStart + t.begin + byteStart, byteLength, this.path);
  }

  /** Rows `[start, start + count)` of a 2-D (or higher) tensor as float32, row-major. */
  async readRowsF32(name: string, start: number, count: number, out?: Float32Array): Promise<Float32Array> {
    const t = this.tensor(name);
    const rows = t.shape[0] ?? 1;
    if (start < 0 || count < 0 || start + count > rows) {
      throw new SafetensorsError(`${this.path}: rows ${start}..${start + count} outside "${name}" with ${rows} rows`);
    }
    const width = rowWidth(t);
    const rowBytes = width * DTYPE_BYTES[t.dtype];
    const bytes = await this.readBytes(t, start * rowBytes, count * rowBytes);
    return decodeToF32(bytes, t.dtype, out);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Positional read that loops until `length` bytes arrive (a single read may return fewer). */
export async function readExactly(fh: FileHandle, position: number, length: number, path: string): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    // Node caps one read at 2 GB; row blocks are far smaller, but stay safe.
    const chunk = Math.min(length - got, 1 << 30);
    const { bytesRead } = await fh.read(buf, got, chunk, position + got);
    if (bytesRead === 0) throw new SafetensorsError(`${path}: unexpected end of file at byte ${position + got}`);
    got += bytesRead;
  }
  return buf;
}
