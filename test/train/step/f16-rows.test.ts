/**
 * Pooling from the held f16 matrix in place (step/pool-kernels.ts poolSentencesF16 / tokenDotsF16, BatchRows)
 * must give exactly what the gathered f32 rows give: the kernels bit for bit, computeGradients' loss and every
 * gradient bit for bit on one thread and on two (the matMul worker reads the shared f16 bits), and the loss and
 * gradients to 1e-5 of an independent TF.js autodiff of pool-then-project over the decoded matrix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type * as tfTypes from '@tensorflow/tfjs';
import { MatmulHelper } from '../../../src/train/parallel.ts';
import { selectBackend } from '../../../src/tfjs/backend.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../../src/safetensors/dtype.ts';
import { matryoshkaMnrl } from '../../../src/train/step/loss.ts';
import { initParams } from '../../../src/train/start/init-params.ts';
import { planBatch } from '../../../src/train/step/pooling.ts';
import { poolSentences, poolSentencesF16, tokenDots, tokenDotsF16 } from '../../../src/train/step/pool-kernels.ts';
import { computeGradients, type LossOptions, type StepGradients } from '../../../src/train/step/gradients.ts';
import { Rng } from '../../../src/util/random.ts';

const V = 50;
const D = 16;
const O = 8;
const B = 6;

function problem(seed: number) {
  const rng = new Rng(seed);
  // Normal values, a subnormal, zero and negative zero among the f16 bits.
  const bits = Uint16Array.from({ length: V * D }, () => f32ToF16Bits(rng.normal() * 0.5));
  bits[3] = 0x0001;
  bits[4] = 0x0000;
  bits[5] = 0x8000;
  const decoded = Float32Array.from(bits, (h) => f16BitsToF32(h));
  const params = initParams({ nVocab: V, dimIn: D, dimOut: O, rng, tokenWeights: true, stopwordIds: [1, 2], stopwordWeight: 0.1 });
  for (let i = 0; i < V; i++) params.tokenWeights![i] = rng.normal() * 1.2;
  const seqs = Array.from({ length: 2 * B }, () => Int32Array.from({ length: 1 + rng.int(6) }, () => rng.int(V)));
  seqs[0] = Int32Array.from([0, 0, 9]); // row 0 holds the subnormal, zeros; a repeated token counts twice
  seqs[B + 1] = new Int32Array(0); // an empty sentence pools to zero
  const plan = planBatch(seqs);
  const gathered = new Float32Array(plan.uniq.length * D);
  plan.uniq.forEach((t, u) => gathered.set(decoded.subarray(t * D, (t + 1) * D), u * D));
  return { bits, decoded, params, seqs, plan, gathered };
}

const opts: LossOptions = { dims: [8, 4, 2], dimWeights: [1, 1, 0.5], scale: 20, norm: false, binarize: 'none', tokenWeights: 'learned' };

describe('f16 kernels = f32 kernels on the gathered rows, bit for bit', () => {
  it('poolSentencesF16 and tokenDotsF16', () => {
    const { bits, plan, gathered } = problem(1);
    const rng = new Rng(2);
    const coef = Float32Array.from({ length: plan.uniq.length }, () => rng.normal());
    const range = { offsets: plan.offsets, local: plan.local, s0: 2, s1: plan.sentences };
    const n = plan.sentences - 2;
    const want = poolSentences({ ...range, rows: gathered, dim: D, coef, out: new Float32Array(n * D) });
    const got = poolSentencesF16({ ...range, rowIds: plan.uniq, bits, dim: D, coef, out: new Float32Array(n * D) });
    expect(got).toEqual(want);
    expect(want.some((x) => x !== 0)).toBe(true);
    const gradPooled = Float32Array.from({ length: n * D }, () => rng.normal());
    const dots = tokenDots({ ...range, rows: gathered, dim: D, gradPooled, g: new Float64Array(plan.uniq.length) });
    expect(tokenDotsF16({ ...range, rowIds: plan.uniq, bits, dim: D, gradPooled, g: new Float64Array(plan.uniq.length) })).toEqual(dots);
    expect(dots.some((x) => x !== 0)).toBe(true);
  });
});

/** Loss, kernel, bias and token-weight gradients of pool-then-project by TF.js autodiff over the decoded matrix (cpu). */
async function autodiff(decoded: Float32Array, p: ReturnType<typeof problem>['params'], seqs: Int32Array[]) {
  const { tf } = await selectBackend('cpu');
  const S = seqs.length;
  // Sentence-by-token averaging matrix M [S, tokens]: pooled = M · (gelu(w[ids]) ⊙ E[ids]).
  const ids = Int32Array.from(seqs.flatMap((s) => [...s]));
  const M = new Float32Array(S * ids.length);
  let k = 0;
  seqs.forEach((s, i) => s.forEach(() => (M[i * ids.length + k++] = 1 / s.length)));
  return tf.tidy(() => {
    const E = tf.tensor2d(decoded, [V, D]);
    const idsT = tf.tensor1d(ids, 'int32');
    const Mt = tf.tensor2d(M, [S, ids.length]);
    const f = (w: tfTypes.Tensor, kk: tfTypes.Tensor, b: tfTypes.Tensor) => {
      const wt = tf.gather(w, idsT);
      const g = tf.mul(tf.mul(0.5, wt), tf.add(1, tf.erf(tf.div(wt, Math.SQRT2))));
      const pooled = tf.matMul(Mt, tf.mul(tf.gather(E, idsT), tf.expandDims(g, 1)));
      const emb = tf.add(tf.matMul(pooled, kk as tfTypes.Tensor2D), b) as tfTypes.Tensor2D;
      return matryoshkaMnrl(tf, { emb, nAnchors: B, dims: opts.dims, weights: opts.dimWeights, scale: opts.scale }).total as tfTypes.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)([tf.tensor1d(p.tokenWeights!), tf.tensor2d(p.kernel, [D, O]), tf.tensor1d(p.bias)]);
    return {
      loss: value.dataSync()[0]!,
      w: grads[0]!.dataSync() as Float32Array,
      kernel: grads[1]!.dataSync() as Float32Array,
      bias: grads[2]!.dataSync() as Float32Array,
    };
  });
}

const relClose = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  expect(scale).toBeGreaterThan(0);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * scale);
};

function expectSame(got: StepGradients, want: StepGradients) {
  expect(got.loss).toBe(want.loss);
  expect(got.perDim).toEqual(want.perDim);
  expect(got.kernel).toEqual(want.kernel);
  expect(got.bias).toEqual(want.bias);
  expect(got.tokenWeights!.indices).toEqual(want.tokenWeights!.indices);
  expect(got.tokenWeights!.values).toEqual(want.tokenWeights!.values);
}

describe('computeGradients on the held f16 matrix', () => {
  let helper: MatmulHelper | undefined;
  afterAll(async () => helper?.close());

  for (const threads of [1, 2]) {
    it(`wasm, ${threads} thread(s): same as the gathered f32 rows exactly, and as autodiff to 1e-5`, async () => {
      const { bits, decoded, params, seqs, plan, gathered } = problem(3);
      const { tf } = await selectBackend('wasm');
      if (threads === 2)
        helper ??= await MatmulHelper.start((why) => {
          throw new Error(`matmul worker did not start: ${why}`);
        });
      const h = threads === 2 ? Object.assign(helper!, { minMacs: 0 }) : undefined;
      const before = helper?.splits ?? 0;
      const args = { params, plan, nAnchors: B, opts, helper: h };
      const want = await computeGradients(tf, { ...args, rows: gathered });
      // The bits in ordinary memory: the split path copies them into shared memory for the worker.
      const got = await computeGradients(tf, { ...args, rows: { f16: bits } });
      if (threads === 2) expect(helper!.splits).toBe(before + 2);
      expectSame(got, want);

      const ref = await autodiff(decoded, params, seqs);
      expect(Math.abs(got.loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(ref.loss));
      relClose(got.kernel, ref.kernel);
      relClose(got.bias, ref.bias);
      const gw = new Float32Array(V);
      got.tokenWeights!.indices.forEach((t, i) => (gw[t] = got.tokenWeights!.values[i]!));
      relClose(gw, ref.w);
    });
  }
});
