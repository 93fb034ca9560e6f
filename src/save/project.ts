/**
 * Project token rows into the saved model: row_t = gelu(w_t)·E_t·W + b (+ D_t with token_delta; then ·T_d per
 * dim with whitening) (WordLlama's layout, so the mean of a
 * sentence's saved rows equals the trained model's pooled output before normalisation). Pure JS over a row
 * block, float64 accumulation, cache-friendly i-k-j loop order; the vocabulary is visited block by block.
 */
import { gelu } from '../model/gelu.ts';
import type * as tfTypes from '@tensorflow/tfjs';
import type { ModelParams } from '../model/params.ts';
import { applyWhitening } from '../model/whitening.ts';

/**
 * Rows `[start, start+count)` of the projected vocabulary, width `dimOut`, from the input `block`
 * ([count, dimIn] row-major). `out` is reused when long enough.
 */
export function projectBlock(params: ModelParams, block: Float32Array, start: number, count: number, out?: Float32Array): Float32Array {
  const { dimIn, dimOut, kernel, bias, tokenWeights, tokenDelta } = params;
  const res = out && out.length >= count * dimOut ? out : new Float32Array(count * dimOut);
  const acc = new Float64Array(dimOut);
  for (let r = 0; r < count; r++) {
    const g = tokenWeights ? gelu(tokenWeights[start + r]!) : 1;
    acc.fill(0);
    const base = r * dimIn;
    for (let i = 0; i < dimIn; i++) {
      const x = block[base + i]!;
      if (x === 0) continue;
      const k = i * dimOut;
      for (let j = 0; j < dimOut; j++) acc[j]! += x * kernel[k + j]!;
    }
    const o = r * dimOut;
    for (let j = 0; j < dimOut; j++) res[o + j] = g * acc[j]! + bias[j]!;
  }
  addDeltaRows(tokenDelta, start, count, dimOut, res);
  return res;
}

/** res[r] += D[start + r] for the learned token offsets (`token_delta`); no-op without them. */
function addDeltaRows(delta: Float32Array | undefined, start: number, count: number, dim: number, res: Float32Array): void {
  if (!delta) return;
  const src = delta.subarray(start * dim, (start + count) * dim);
  for (let i = 0; i < src.length; i++) res[i]! += src[i]!;
}

/** Columns `[0, dim)` of a [rows, width] block (a copy, contiguous). */
export function truncateColumns(block: Float32Array, rows: number, width: number, dim: number, out?: Float32Array): Float32Array {
  if (dim === width) return block.subarray(0, rows * width);
  const res = out && out.length >= rows * dim ? out : new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) res.set(block.subarray(r * width, r * width + dim), r * dim);
  return res.subarray(0, rows * dim);
}

/** Projects row blocks; `dispose` frees backend memory. */
export interface BlockProjector {
  readonly engine: string;
  project(block: Float32Array, start: number, count: number, out?: Float32Array): Float32Array;
  /** rows·T for a [count, d] block and the dim's whitening T [d, d] (model/whitening.ts). */
  whiten(block: Float32Array, count: number, d: number, T: Float32Array, out?: Float32Array): Float32Array;
  dispose(): void;
}

/** Plain-JS projector (exact float64 accumulation; fine for small vocabularies and tests). */
export function jsProjector(params: ModelParams): BlockProjector {
  return { engine: 'js', project: (b, s, c, o) => projectBlock(params, b, s, c, o), whiten: (b, c, d, T, o) => applyWhitening(b, c, d, d, T, o), dispose() {} };
}

/**
 * TF.js projector: rows scaled by gelu(w) in JS, then one matMul per block on the chosen backend (wasm SIMD
 * reaches several GFLOP/s where the JS loop manages a fraction of one: Gemma-2 2B's 256000 × 2304 × 1024
 * projection takes minutes instead of an hour).
 */
export function tfProjector(tf: typeof import('@tensorflow/tfjs'), params: ModelParams, engine: string): BlockProjector {
  const { dimIn, dimOut, tokenWeights } = params;
  const kernel = tf.tensor2d(params.kernel, [dimIn, dimOut]);
  const bias = tf.tensor1d(params.bias);
  let scaled = new Float32Array(0);
  const transforms = new Map<Float32Array, tfTypes.Tensor2D>();
  return {
    engine,
    whiten(block, count, d, T, out) {
      let t = transforms.get(T);
      if (!t) transforms.set(T, (t = tf.tensor2d(T, [d, d])));
      const y = tf.tidy(() => tf.matMul(tf.tensor2d(block.subarray(0, count * d), [count, d]), t));
      const data = y.dataSync() as Float32Array;
      y.dispose();
      const res = out && out.length >= count * d ? out : new Float32Array(count * d);
      res.set(data);
      return res.subarray(0, count * d);
    },
    project(block, start, count, out) {
      if (scaled.length < count * dimIn) scaled = new Float32Array(count * dimIn);
      for (let r = 0; r < count; r++) {
        const g = tokenWeights ? gelu(tokenWeights[start + r]!) : 1;
        const base = r * dimIn;
        for (let i = 0; i < dimIn; i++) scaled[base + i] = block[base + i]! * g;
      }
      const y = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(scaled.subarray(0, count * dimIn), [count, dimIn]), kernel), bias));
      const data = y.dataSync() as Float32Array;
      y.dispose();
      const res = out && out.length >= count * dimOut ? out : new Float32Array(count * dimOut);
      res.set(data.subarray(0, count * dimOut));
      addDeltaRows(params.tokenDelta, start, count, dimOut, res);
      return res;
    },
    dispose() {
      kernel.dispose();
      bias.dispose();
      for (const t of transforms.values()) t.dispose();
    },
  };
}
