/**
 * The projection's matMuls on two threads. The step's three big products (Y = X·W, dW = Xᵀ·dY, dX = dY·Wᵀ;
 * about 14 GFLOP at Gemma-2 2B's shape) split by rows of X: the main thread's TF.js takes the top rows, a
 * worker_thread running its own TF.js wasm instance (matmul-worker.mjs) the bottom rows, and dW is the sum of
 * the two partial products. Only for the wasm backend (tfjs-node is already multi-threaded; cpu is too slow to
 * matter) and only for batches large enough to pay for copying the halves (tens of MB per step at Gemma's shape).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { wasmDir } from './backend.ts';

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
    const file = fileURLToPath(new URL('./matmul-worker.mjs', import.meta.url));
    if (!existsSync(file)) {
      why?.(`${file} is missing`);
      return undefined;
    }
    const worker = new Worker(file, { workerData: { wasmDir: wasmDir() } });
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

  /** Start X_bottom·W on the worker (it keeps X_bottom and W for `backward`). */
  forward(x: Float32Array, rows: number, dimIn: number, w: Float32Array, dimOut: number): Promise<Float32Array> {
    this.splits++;
    return this.call({ op: 'forward', x, rows, dimIn, w, dimOut }).then((m) => m.y as Float32Array);
  }

  /** X_bottomᵀ·dY_bottom and, when `needDx`, dY_bottom·Wᵀ, for the rows and W of the last `forward`. */
  backward(dy: Float32Array, needDx: boolean): Promise<{ dw: Float32Array; dx?: Float32Array }> {
    return this.call({ op: 'backward', dy, needDx }).then((m) => ({ dw: m.dw as Float32Array, dx: m.dx as Float32Array | undefined }));
  }

  async close(): Promise<void> {
    this.dead ??= new Error('matmul worker closed');
    await this.worker.terminate();
  }
}
