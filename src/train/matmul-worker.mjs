// A second TF.js wasm instance on its own thread (src/train/parallel.ts drives it). TF.js cannot start wasm
// threads under Node, but a worker_thread with its own wasm instance runs truly in parallel with the main
// thread: the trainer gives it the bottom half of the batch's rows for the projection's three matMuls.
// Plain JavaScript so it starts the same from the TypeScript sources (tsx) and from dist/.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';

wasm.setWasmPaths(workerData.wasmDir);
if (!(await tf.setBackend('wasm'))) throw new Error('matmul worker: the wasm backend failed to initialise');
await tf.ready();

let x; // [rows, dimIn] of the current step
let w; // [dimIn, dimOut]

parentPort.on('message', (m) => {
  try {
    if (m.op === 'forward') {
      tf.dispose([x, w]);
      x = tf.tensor2d(m.x, [m.rows, m.dimIn]);
      w = tf.tensor2d(m.w, [m.dimIn, m.dimOut]);
      const y = tf.matMul(x, w);
      const data = y.dataSync();
      y.dispose();
      parentPort.postMessage({ y: data }, [data.buffer]);
    } else if (m.op === 'backward') {
      // Plain matMuls of explicit transposes: wasm's transposed matMul leaves the fast kernel (loss.ts fastMatMul).
      // tidy returns tensors, read afterwards: tidy walks a returned object looking for tensors, element by
      // element through typed arrays (seconds for a few million values).
      const t = tf.tidy(() => {
        const dy = tf.tensor2d(m.dy, [x.shape[0], w.shape[1]]);
        return { dw: tf.matMul(tf.transpose(x), dy), dx: m.needDx ? tf.matMul(dy, tf.transpose(w)) : undefined };
      });
      const out = { dw: t.dw.dataSync(), dx: t.dx ? t.dx.dataSync() : undefined };
      tf.dispose([t.dw, t.dx]);
      tf.dispose([x, w]);
      x = w = undefined;
      parentPort.postMessage(out, [out.dw.buffer, ...(out.dx ? [out.dx.buffer] : [])]);
    }
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.stack ? err.stack : err) });
  }
});
parentPort.postMessage({ ready: true });
