/**
 * The per-byte work of a downloaded chunk — dtype conversion, the positional write, the fingerprint that lets a
 * resume trust it — on a worker thread, so the main thread only moves HTTP bytes. Chunk buffers live in
 * SharedArrayBuffers (the downloader's pool), so nothing is copied between threads. On a 2-core machine this
 * puts the second core to work; results are identical to the main-thread path (same table, same fingerprint).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** What the worker does to the bytes before writing: nothing, or BF16 → F16 in place through a table. */
export type WorkerMode = 'same' | 'bf16-f16';

export interface ChunkJob {
  buffer: SharedArrayBuffer;
  /** Bytes of the chunk at the start of `buffer`. */
  length: number;
  fd: number;
  position: number;
}

/**
 * A chunk's fingerprint: SHA-1 over the chunk length and 8 bytes of every 512-byte block (1.6% of the bytes).
 * It is what a resume checks a recorded chunk against: pages lost or zeroed by a crash before writeback change
 * it, while hashing every byte would cost as much CPU as the download itself. (What was received is already
 * guaranteed by the HTTP checks: status, Content-Range, exact length, ETag.) Plain JS, shared with the worker.
 */
const FINGERPRINT_SOURCE = `
function fingerprint(bytes) {
  const n = bytes.length;
  const blocks = Math.ceil(n / 512);
  const sample = new Uint8Array(8 + blocks * 8);
  new DataView(sample.buffer).setFloat64(0, n, true);
  for (let b = 0; b < blocks; b++) {
    const at = b * 512;
    const take = Math.min(8, n - at);
    for (let k = 0; k < take; k++) sample[8 + b * 8 + k] = bytes[at + k];
  }
  return require('node:crypto').createHash('sha1').update(sample).digest('hex');
}`;

/** The same source, compiled here for the main thread (resume checks, conversions not done by the worker). */
export const chunkFingerprint = new Function('require', `${FINGERPRINT_SOURCE}; return fingerprint;`)(createRequire(import.meta.url)) as (
  bytes: Uint8Array,
) => string;

// Plain JS (CommonJS): a worker started with `eval` does not go through tsx.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { writeSync } = require('node:fs');
const table = workerData.table ? new Uint16Array(workerData.table) : undefined;
${FINGERPRINT_SOURCE}
parentPort.on('message', (job) => {
  try {
    const bytes = new Uint8Array(job.buffer, 0, job.length);
    let overflows = 0;
    if (table) {
      const u = new Uint16Array(job.buffer, 0, job.length >> 1);
      for (let i = 0; i < u.length; i++) {
        const b = u[i];
        const h = table[b];
        u[i] = h;
        if ((h & 0x7fff) === 0x7c00 && (b & 0x7f80) !== 0x7f80) overflows++;
      }
    }
    let off = 0;
    while (off < bytes.length) off += writeSync(job.fd, bytes, off, bytes.length - off, job.position + off);
    parentPort.postMessage({ id: job.id, overflows, hash: fingerprint(bytes) });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String((err && err.message) || err) });
  }
});
`;

export class ChunkWorker {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: { overflows: number; hash: string }) => void; reject: (e: Error) => void }>();

  constructor(mode: WorkerMode, bf16ToF16?: Uint16Array) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { table: mode === 'bf16-f16' ? bf16ToF16 : undefined } });
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
