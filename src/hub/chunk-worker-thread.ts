/**
 * The chunk worker's thread (started by chunk-worker.ts): converts a downloaded chunk in place, writes it at its
 * position and fingerprints it, so the main thread only moves HTTP bytes. Chunk buffers are SharedArrayBuffers:
 * nothing is copied between threads.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { bf16ToF16InPlace } from '../safetensors/dtype.ts';
import { chunkFingerprint } from './chunk-fingerprint.ts';

interface Job {
  id: number;
  buffer: SharedArrayBuffer;
  length: number;
  fd: number;
  position: number;
}

const data = workerData as { table?: Uint16Array };
const table = data.table ? new Uint16Array(data.table) : undefined;
const port = parentPort!;

port.on('message', (job: Job) => {
  try {
    const bytes = new Uint8Array(job.buffer, 0, job.length);
    const overflows = table ? bf16ToF16InPlace(job.buffer, 0, job.length, table) : 0;
    let off = 0;
    while (off < bytes.length) off += writeSync(job.fd, bytes, off, bytes.length - off, job.position + off);
    port.postMessage({ id: job.id, overflows, hash: chunkFingerprint(bytes) });
  } catch (err) {
    port.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
});
