/**
 * A training step on two threads. The batch's sentences split in two halves: the main thread pools, projects
 * and back-propagates the top half, a worker_thread running its own TF.js wasm instance (matmul-worker.ts) the
 * bottom half, from the batch's rows in shared memory: the three big products (Y = X·W, dW = Xᵀ·dY,
 * dX = dY·Wᵀ; about 14 GFLOP at Gemma-2 2B's shape) and the two O(tokens × dim) JS loops (pooling and the
 * token-weight dot products) are halved; dW and the token-weight gradient are the sums of the two parts. The loss
 * itself (small: [sentences, dim_out]) stays on the main thread. Only for the wasm backend (tfjs-node is already multi-threaded; cpu is too slow to
 * matter) and only for batches large enough to pay for copying the halves (tens of MB per step at Gemma's shape).
 */
import type { Worker } from 'node:worker_threads';
import { startWorker, workerModule } from '../util/worker.ts';
import { wasmDir } from '../tfjs/backend.ts';
import type { BatchRows } from './step/pool-kernels.ts';

/** Below this many multiply-adds per matMul the copies cost more than the second thread saves. */
export const PARALLEL_MIN_MACS = 2e8;

export class MatmulHelper {
  /** Batches split so far (tests check the split really happened). */
  splits = 0;
  private pending?: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };
  private dead?: Error;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Record<string, unknown>) => {
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (typeof m.error === 'string') p.reject(new Error(`matmul worker: ${m.error.split('\n')[0]}`));
      else p.resolve(m);
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`matmul worker exited (${code})`)));
  }

  /** Start the worker; undefined (single-threaded) when it cannot start, with the reason in `why`. */
  static async start(why?: (reason: string) => void): Promise<MatmulHelper | undefined> {
    const module = workerModule(import.meta.url, 'matmul-worker');
    if (!module) {
      why?.(`matmul-worker is missing beside ${import.meta.url}`);
      return undefined;
    }
    const worker = startWorker(module, { workerData: { wasmDir: wasmDir() } });
    const helper = new MatmulHelper(worker);
    try {
      await helper.call({ op: 'ready' }, true);
      return helper;
    } catch (err) {
      why?.((err as Error).message);
      await worker.terminate();
      return undefined;
    }
  }

  private fail(err: Error): void {
    this.dead ??= err;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  /** Post `msg` (unless `waitOnly`) and wait for the worker's answer. One request at a time. */
  private call(msg: Record<string, unknown>, waitOnly = false): Promise<Record<string, unknown>> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new Error('matmul worker: a request is already pending'));
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => (this.pending = { resolve, reject }));
    if (!waitOnly) this.worker.postMessage(msg);
    return answer;
  }

  /**
   * A [n] float32 view on memory the worker shares: gather the batch's rows into it so the worker pools its
   * sentences from them without a copy (tens of MB per step at Gemma's shape).
   */
  sharedRows(n: number): Float32Array<ArrayBufferLike> {
    if (this.shared.length < n) this.shared = new Float32Array(new SharedArrayBuffer(Math.ceil(n * 1.25) * 4));
    return this.shared.subarray(0, n);
  }
  private shared: Float32Array<ArrayBufferLike> = new Float32Array(0);

  /** Whether the worker can read `rows` without a copy: any shared memory (this one's, or the prefetch buffers). */
  isShared(rows: ArrayBufferView): boolean {
    return rows.buffer instanceof SharedArrayBuffer;
  }

  /**
   * Pool sentences [s0, s1) of the plan on the worker (rows from the shared memory: gathered f32 rows, or the held
   * f16 matrix with `uniq` the plan's unique token ids; `coef` = gelu(w) per unique token) and start their projection X_bottom·W; the worker keeps both for `backward`.
   */
  forward(a: {
    offsets: Int32Array;
    local: Int32Array;
    rows: BatchRows;
    uniq: Int32Array;
    coef: Float32Array;
    s0: number;
    s1: number;
    dimIn: number;
    w: Float32Array;
    dimOut: number;
    nUniq: number;
  }): Promise<Float32Array> {
    this.splits++;
    return this.call({ op: 'forward', ...a }).then((m) => m.y as Float32Array);
  }

  /** X_bottomᵀ·dY_bottom, and with `needDots` the bottom sentences' part of the token-weight dot products (pooling.ts tokenDots). */
  backward(dy: Float32Array, needDots: boolean): Promise<{ dw: Float32Array; g?: Float64Array }> {
    return this.call({ op: 'backward', dy, needDots }).then((m) => ({ dw: m.dw as Float32Array, g: m.g as Float64Array | undefined }));
  }

  async close(): Promise<void> {
    this.dead ??= new Error('matmul worker closed');
    await this.worker.terminate();
  }
}
