/**
 * The Web Worker's code (browser): scripts/build-kernels.ts bundles this file and what it imports (the
 * kernels, the tile driver) into one classic script, kept as a string in web-worker.generated.ts, which
 * src/embed/web-workers.ts starts from a Blob URL: no worker file for a page to serve beside the bundle. It
 * computes rows [r0, r1) of a cosine matrix into the shared output, as the Node worker (kernels/worker-entry.ts)
 * does for `cosineMatrixThreads`.
 */
import { cosineRowsInto } from './similarity.ts';

/** A request from web-workers.ts: rows [r0, r1) of a × b into `out` (all views on SharedArrayBuffers). */
export interface WebWorkerRequest {
  id: number;
  a: Float32Array;
  b: Float32Array;
  bRows: number;
  dim: number;
  out: Float32Array;
  r0: number;
  r1: number;
}

interface WorkerScope {
  onmessage: ((e: { data: WebWorkerRequest }) => void) | null;
  postMessage(m: { id: number; error?: string }): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = ({ data: m }) => {
  try {
    const a = { data: m.a.subarray(m.r0 * m.dim, m.r1 * m.dim), rows: m.r1 - m.r0, dim: m.dim };
    cosineRowsInto(a, { data: m.b, rows: m.bRows, dim: m.dim }, m.out, m.r0 * m.bRows);
    scope.postMessage({ id: m.id });
  } catch (err) {
    scope.postMessage({ id: m.id, error: String((err as Error)?.message ?? err) });
  }
};
