// A second TF.js wasm instance on its own thread (src/train/parallel.ts drives it). TF.js cannot start wasm
// threads under Node, but a worker_thread with its own wasm instance runs truly in parallel with the main
// thread: the trainer gives it the bottom half of the batch's sentences, which it pools (from the batch's
// rows in shared memory), projects, and back-propagates through the projection, returning its part of dW and
// of the token-weight gradient. Plain JavaScript so it starts the same from the TypeScript sources (tsx) and
// from dist/.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { poolSentences, tokenDots } from './pool-kernels.mjs';

wasm.setWasmPaths(workerData.wasmDir);
if (!(await tf.setBackend('wasm'))) throw new Error('matmul worker: the wasm backend failed to initialise');
await tf.ready();

let step; // the current batch: { x, w tensors, plan arrays, rows, s0, s1, dimIn, nUniq }

parentPort.on('message', (m) => {
  try {
    if (m.op === 'forward') {
      if (step) tf.dispose([step.x, step.w]);
      const n = m.s1 - m.s0;
      const pooled = poolSentences(m.offsets, m.local, null, m.rows, m.dimIn, m.coef, m.s0, m.s1, new Float32Array(n * m.dimIn));
      step = { ...m, x: tf.tensor2d(pooled, [n, m.dimIn]), w: tf.tensor2d(m.w, [m.dimIn, m.dimOut]) };
      const y = tf.matMul(step.x, step.w);
      const data = y.dataSync();
      y.dispose();
      parentPort.postMessage({ y: data }, [data.buffer]);
    } else if (m.op === 'backward') {
      // tidy returns tensors, read afterwards: tidy walks a returned object looking for tensors, element by
      // element through typed arrays (seconds for a few million values). Plain matMuls of explicit transposes
      // keep wasm on its fast kernel (loss.ts fastMatMul).
      const t = tf.tidy(() => {
        const dy = tf.tensor2d(m.dy, [step.x.shape[0], step.w.shape[1]]);
        return { dw: tf.matMul(tf.transpose(step.x), dy), dx: m.needDots ? tf.matMul(dy, tf.transpose(step.w)) : undefined };
      });
      const dw = t.dw.dataSync();
      const g = t.dx ? tokenDots(step.offsets, step.local, step.rows, step.dimIn, t.dx.dataSync(), step.s0, step.s1, new Float64Array(step.nUniq)) : undefined;
      tf.dispose([t.dw, t.dx, step.x, step.w]);
      step = undefined;
      parentPort.postMessage({ dw, g }, [dw.buffer, ...(g ? [g.buffer] : [])]);
    }
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.stack ? err.stack : err) });
  }
});
parentPort.postMessage({ ready: true });
