/**
 * Both cores in the browser: `cosineMatrixWorkers` is `cosineMatrixThreads` over Web Workers. Inputs and the
 * output live in SharedArrayBuffers, which a page only has when it is cross-origin isolated (served with
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`); when
 * `crossOriginIsolated` is false, or there is no `Worker`, it computes on the calling thread (the same values):
 * copying the blocks to workers and back would cost about what it saves. Browser-safe (no Node built-ins);
 * in Node there is no global `Worker`, so it is `cosineMatrix` there (use cosineMatrixThreads).
 */
import { UserError } from '../util/errors.ts';
import { cosineMatrix } from './similarity.ts';
import { MIN_PARALLEL_PAIRS } from './worker-limits.ts';
import type { Embeddings, SimilarityMatrix } from './types.ts';
import type { WebWorkerRequest } from './web-worker-entry.ts';
import { WEB_WORKER_SOURCE } from './web-worker.generated.ts';

interface WebWorker {
  onmessage: ((e: { data: { id: number; error?: string } }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
  postMessage(m: WebWorkerRequest): void;
}
interface BrowserGlobals {
  Worker?: new (url: string) => WebWorker;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  URL: { createObjectURL(b: unknown): string };
  Blob?: new (parts: string[], opts: { type: string }) => unknown;
}
const g = globalThis as unknown as BrowserGlobals;

/** Whether Web Workers can share memory here (a cross-origin-isolated page with Worker and SharedArrayBuffer). */
export function webWorkersAvailable(): boolean {
  return typeof g.Worker === 'function' && g.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && typeof g.Blob === 'function';
}

let scriptUrl: string | undefined;
const pool: { worker: WebWorker; pending: Map<number, (error?: string) => void> }[] = [];
let nextId = 0;

function webWorkers(n: number) {
  scriptUrl ??= g.URL.createObjectURL(new g.Blob!([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
  while (pool.length < n) {
    const entry = { worker: new g.Worker!(scriptUrl), pending: new Map<number, (error?: string) => void>() };
    entry.worker.onmessage = ({ data }) => {
      const done = entry.pending.get(data.id);
      entry.pending.delete(data.id);
      done?.(data.error);
    };
    entry.worker.onerror = (e) => {
      for (const done of entry.pending.values()) done(e.message ?? 'web worker failed');
      entry.pending.clear();
    };
    pool.push(entry);
  }
  return pool.slice(0, n);
}

function sharedCopy(m: Float32Array): Float32Array {
  if (m.buffer instanceof SharedArrayBuffer) return m;
  const s = new Float32Array(new SharedArrayBuffer(m.byteLength));
  s.set(m);
  return s;
}

/**
 * `cosineMatrix(a, b)` with the rows of a split across Web Workers and this thread: the same values as one
 * thread. `threads` defaults to navigator.hardwareConcurrency; below MIN_PARALLEL_PAIRS pairs, or when
 * `webWorkersAvailable()` is false, one thread.
 */
export async function cosineMatrixWorkers(a: Embeddings, b: Embeddings, opts: { threads?: number; minPairs?: number } = {}): Promise<SimilarityMatrix> {
  if (a.dim !== b.dim) throw new UserError(`cosineMatrix: dims differ (${a.dim} vs ${b.dim})`);
  const t = opts.threads ?? g.navigator?.hardwareConcurrency ?? 1;
  if (!Number.isInteger(t) || t < 1) throw new UserError(`threads must be a positive integer, got ${t}`);
  const threads = Math.min(t, a.rows);
  if (threads === 1 || a.rows * b.rows < (opts.minPairs ?? MIN_PARALLEL_PAIRS) || !webWorkersAvailable()) return cosineMatrix(a, b);
  const out = new Float32Array(new SharedArrayBuffer(a.rows * b.rows * 4));
  const sa = sharedCopy(a.data.subarray(0, a.rows * a.dim));
  const sb = sharedCopy(b.data.subarray(0, b.rows * b.dim));
  const cut = (p: number) => Math.floor((a.rows * p) / threads);
  const done = webWorkers(threads - 1).map(
    (w, i) =>
      new Promise<void>((resolve, reject) => {
        const id = nextId++;
        w.pending.set(id, (error) => (error === undefined ? resolve() : reject(new Error(`web worker: ${error}`))));
        w.worker.postMessage({ id, a: sa, b: sb, bRows: b.rows, dim: a.dim, out, r0: cut(i + 1), r1: cut(i + 2) });
      }),
  );
  const mine = cosineMatrix({ data: sa.subarray(0, cut(1) * a.dim), rows: cut(1), dim: a.dim }, b);
  out.set(mine.data, 0);
  await Promise.all(done);
  return { data: out, rows: a.rows, cols: b.rows };
}
