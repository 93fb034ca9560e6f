import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from './header.js';

/** A local file as a ByteSource; `close()` releases the handle. */
export async function openFileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    name: basename(path),
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${path}: file shrank while reading (wanted bytes ${offset}-${offset + length})`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/** True when `path` is a file that starts with the GGUF magic (Ollama's blobs have no .gguf extension). */
export function isGgufFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    const fd = openSync(path, 'r');
    try {
      const magic = new Uint8Array(4);
      return readSync(fd, magic, 0, 4, 0) === 4 && new TextDecoder().decode(magic) === 'GGUF';
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}
