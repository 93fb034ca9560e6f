/**
 * A second TF.js wasm instance on its own thread (parallel.ts drives it). TF.js cannot start wasm threads under
 * Node, but a worker_thread with its own wasm instance runs truly in parallel with the main thread: the trainer
 * gives it the bottom half of the batch's sentences, which it pools (from the batch's rows in shared memory),
 * projects, and back-propagates through the projection, returning its part of dW and of the token-weight
 * gradient.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { poolBatch, tokenDotsBatch, type BatchRows } from './step/pool-kernels.ts';

/** The forward request: the worker's sentences [s0, s1) of the batch plan, the rows and the projection. */
interface Forward {
  op: 'forward';
  offsets: Int32Array;
  local: Int32Array;
  rows: BatchRows;
  uniq: Int32Array;
  coef: Float32Array;
  w: Float32Array;
  s0: number;
  s1: number;
  dimIn: number;
  dimOut: number;
  nUniq: number;
}

interface Backward {
  op: 'backward';
  dy: Float32Array;
  needDots: boolean;
}

const port = parentPort!;
wasm.setWasmPaths((workerData as { wasmDir: string }).wasmDir);
if (!(await tf.setBackend('wasm'))) throw new Error('matmul worker: the wasm backend failed to initialise');
await tf.ready();

/** The current batch: its request and the two tensors backward needs. */
let step: (Forward & { x: tf.Tensor2D; wt: tf.Tensor2D }) | undefined;

function forward(m: Forward): void {
  if (step) tf.dispose([step.x, step.wt]);
  const n = m.s1 - m.s0;
  const pooled = poolBatch({ ...m, dim: m.dimIn, out: new Float32Array(n * m.dimIn) });
  step = { ...m, x: tf.tensor2d(pooled, [n, m.dimIn]), wt: tf.tensor2d(m.w, [m.dimIn, m.dimOut]) };
  const y = tf.matMul(step.x, step.wt);
  const data = y.dataSync() as Float32Array;
  y.dispose();
  port.postMessage({ y: data }, [data.buffer as ArrayBuffer]);
}

function backward(m: Backward): void {
  const s = step;
  if (!s) throw new Error('backward without a forward');
  // tidy returns tensors, read afterwards: tidy walks a returned object looking for tensors, element by element
  // through typed arrays (seconds for a few million values). Plain matMuls of explicit transposes keep wasm on
  // its fast kernel (step/loss.ts fastMatMul).
  const t = tf.tidy(() => {
    const dy = tf.tensor2d(m.dy, [s.x.shape[0], s.wt.shape[1]]);
    return { dw: tf.matMul(tf.transpose(s.x), dy), dx: m.needDots ? tf.matMul(dy, tf.transpose(s.wt)) : undefined };
  });
  const dw = t.dw.dataSync() as Float32Array;
  const g = t.dx ? tokenDotsBatch({ ...s, dim: s.dimIn, gradPooled: t.dx.dataSync(), g: new Float64Array(s.nUniq) }) : undefined;
  tf.dispose([t.dw, ...(t.dx ? [t.dx] : []), s.x, s.wt]);
  step = undefined;
  port.postMessage({ dw, g }, [dw.buffer as ArrayBuffer, ...(g ? [g.buffer] : [])]);
}

port.on('message', (m: Forward | Backward) => {
  try {
    if (m.op === 'forward') forward(m);
    else if (m.op === 'backward') backward(m);
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
port.postMessage({ ready: true });
