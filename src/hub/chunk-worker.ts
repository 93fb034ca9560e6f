/**
 * The per-byte work of a downloaded chunk — dtype conversion, the positional write, the fingerprint that lets a
 * resume trust it — on a worker thread (chunk-worker-thread.ts), so the main thread only moves HTTP bytes. Chunk
 * buffers live in SharedArrayBuffers (the downloader's pool), so nothing is copied between threads. On a 2-core
 * machine this puts the second core to work; results are identical to the main-thread path (the same
 * bf16ToF16InPlace and chunkFingerprint run on both).
 */
import type { Worker } from 'node:worker_threads';
import { startWorker, workerModule } from '../util/worker.ts';

/** What the worker does to the bytes before writing: nothing, or BF16 → F16 in place through a table. */
export type WorkerMode = 'same' | 'bf16-f16';

export interface ChunkJob {
  buffer: SharedArrayBuffer;
  /** Bytes of the chunk at the start of `buffer`. */
  length: number;
  fd: number;
  position: number;
}

export class ChunkWorker {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: { overflows: number; hash: string }) => void; reject: (e: Error) => void }>();

  constructor(mode: WorkerMode, bf16ToF16?: Uint16Array) {
    const module = workerModule(import.meta.url, 'chunk-worker-thread');
    if (!module) throw new Error(`chunk worker: chunk-worker-thread is missing beside ${import.meta.url}`);
    this.worker = startWorker(module, { workerData: { table: mode === 'bf16-f16' ? bf16ToF16 : undefined } });
    this.worker.on('message', (m: { id: number; overflows: number; hash: string; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`chunk worker: ${m.error}`));
      else p.resolve({ overflows: m.overflows, hash: m.hash });
    });
    this.worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** Convert (per mode), write at `position` and fingerprint; resolves with the f16 overflows and the fingerprint. */
  process(job: ChunkJob): Promise<{ overflows: number; hash: string }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...job });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
