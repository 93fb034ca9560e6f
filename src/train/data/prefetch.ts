/**
 * Prefetching a batch's rows: a worker_thread (gather-worker.ts) gathers the next batch's rows into shared memory
 * while this thread computes the current step, so the step waits for its rows only when the worker is behind.
 * Two buffers alternate: the one handed out by `take` stays untouched while the worker fills the other. The
 * worker runs the same gather as the main thread (row-gatherer.ts gatherRawRows) over the same bytes, so the
 * rows, and the training that uses them, are identical with and without prefetch.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker, workerModule } from '../../util/worker.ts';
import type { RawRowsSpec } from './row-gatherer.ts';

interface Pending {
  ids: Int32Array;
  slot: number;
  out: Float32Array;
  done: Promise<void>;
}

const sameIds = (a: Int32Array, b: Int32Array): boolean => a === b || (a.length === b.length && a.every((v, i) => v === b[i]));

export class RowPrefetcher {
  private readonly buffers: Float32Array[] = [new Float32Array(new SharedArrayBuffer(0)), new Float32Array(new SharedArrayBuffer(0))];
  /** The buffer the last `take` returned: in use by the current step, never written meanwhile. */
  private handedOut = 1;
  private pending?: Pending;
  private seq = 0;
  private readonly waiters = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private dead?: Error;

  private constructor(
    private readonly worker: Worker,
    private readonly dim: number,
  ) {
    worker.on('message', (m: { seq: number; error?: string }) => {
      const w = this.waiters.get(m.seq);
      this.waiters.delete(m.seq);
      if (m.error !== undefined) w?.reject(new Error(`gather worker: ${m.error.split('\n')[0]}`));
      else w?.resolve();
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`gather worker exited (${code})`)));
  }

  /** Start the worker over `spec`'s rows; undefined when the worker module is missing (then gathers stay on this thread). */
  static async start(spec: RawRowsSpec, dim: number): Promise<RowPrefetcher | undefined> {
    const module = workerModule(import.meta.url, 'gather-worker');
    if (!module) return undefined;
    const worker = startWorker(module, { workerData: { spec } });
    const p = new RowPrefetcher(worker, dim);
    try {
      await p.request(undefined);
      return p;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
  }

  /** Post a gather of `ids` into `out` (both undefined: the worker's ready signal) and resolve when it is done. */
  private request(job: { ids: Int32Array; out: Float32Array } | undefined): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const seq = this.seq++;
    const done = new Promise<void>((resolve, reject) => this.waiters.set(seq, { resolve, reject }));
    if (job) this.worker.postMessage({ seq, ...job });
    return done;
  }

  /** Gather `ids` in the background into the buffer not handed out (an earlier prefetch never taken is dropped). */
  prefetch(ids: Int32Array): void {
    const slot = 1 - this.handedOut;
    const n = ids.length * this.dim;
    // A fresh buffer when it grows: the worker may still be writing a dropped prefetch into the old one.
    if (this.buffers[slot]!.length < n) this.buffers[slot] = new Float32Array(new SharedArrayBuffer(Math.ceil(n * 1.25) * 4));
    const out = this.buffers[slot]!.subarray(0, n);
    const done = this.request({ ids, out });
    done.catch(() => {}); // reported by take; a dropped prefetch's failure surfaces on the next request
    this.pending = { ids, slot, out, done };
  }

  /** Whether the pending prefetch is of exactly `ids`. */
  pendingFor(ids: Int32Array): boolean {
    return this.pending !== undefined && sameIds(this.pending.ids, ids);
  }

  /** The prefetched rows when the pending prefetch is of exactly `ids`, else undefined (gather them yourself). */
  take(ids: Int32Array): Promise<Float32Array> | undefined {
    const p = this.pending;
    if (!p || !this.pendingFor(ids)) return undefined;
    this.pending = undefined;
    this.handedOut = p.slot;
    return p.done.then(() => p.out);
  }

  async close(): Promise<void> {
    this.dead ??= new Error('gather worker closed');
    await this.worker.terminate();
  }
}
