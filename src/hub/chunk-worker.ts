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

/**
 * BF16 → F16 in place over a chunk, two elements per 32-bit word. Both formats keep the sign bit on top; a BF16
 * magnitude in F16's normal range (2^-14 ≤ |x| < 2^16, 15-bit magnitude in [0x3880, 0x4780)) converts exactly
 * by re-biasing the exponent and shifting the 7-bit mantissa into the 10-bit one (no rounding needed): for a
 * word whose two halves are both such (or zero), that is one subtraction and one shift for both, with no
 * carry between halves. Everything else (subnormal results that round, overflows, Inf/NaN) goes through the
 * 65536-entry table built by the round-to-nearest-even encoder. Real embedding values (|x| ~ 1e-3..1) take
 * the fast path; results equal the table's for every input (test/hub-units.test.ts). Returns the overflows
 * (finite → ±Inf). Plain JS, shared with the worker.
 */
const CONVERT_SOURCE = `
function bf16ToF16InPlace(buffer, byteOffset, length, table) {
  let overflows = 0;
  const words = length >> 2;
  const w32 = new Uint32Array(buffer, byteOffset, words);
  for (let i = 0; i < words; i++) {
    const w = w32[i];
    const lo = w & 0x7fff;
    const hi = (w >>> 16) & 0x7fff;
    if ((lo - 0x3880) >>> 0 < 0x0f00 && (hi - 0x3880) >>> 0 < 0x0f00) {
      w32[i] = ((w & 0x80008000) | (((w & 0x7fff7fff) - 0x38003800) << 3)) >>> 0;
    } else if ((w & 0x7fff7fff) === 0) {
      // ±0 in both halves: unchanged
    } else {
      const a = table[w & 0xffff];
      const b = table[w >>> 16];
      if ((a & 0x7fff) === 0x7c00 && (w & 0x7f80) !== 0x7f80) overflows++;
      if ((b & 0x7fff) === 0x7c00 && ((w >>> 16) & 0x7f80) !== 0x7f80) overflows++;
      w32[i] = (a | (b << 16)) >>> 0;
    }
  }
  if (length & 2) {
    const u = new Uint16Array(buffer, byteOffset + words * 4, 1);
    const x = u[0];
    const h = table[x];
    u[0] = h;
    if ((h & 0x7fff) === 0x7c00 && (x & 0x7f80) !== 0x7f80) overflows++;
  }
  return overflows;
}`;

/** The worker's conversion, compiled for the main thread (tests compare it to the table on every input). */
export const bf16ToF16InPlace = new Function(`${CONVERT_SOURCE}; return bf16ToF16InPlace;`)() as (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
  table: Uint16Array,
) => number;

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
${CONVERT_SOURCE}
parentPort.on('message', (job) => {
  try {
    const bytes = new Uint8Array(job.buffer, 0, job.length);
    const overflows = table ? bf16ToF16InPlace(job.buffer, 0, job.length, table) : 0;
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
