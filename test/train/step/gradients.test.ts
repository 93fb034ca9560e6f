/**
 * The pooled formulation (pool gelu(w)-weighted raw rows in JS, project once in TF.js, token-weight gradient in
 * JS) must equal WordLlama's token-level model (gather every token's row, scale, project every token, masked
 * mean) in loss and in every gradient. The reference is written independently with TF.js autograd on the cpu
 * backend over padded [batch, tokens, dim] tensors, exactly what the trainer never builds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MatmulHelper } from '../../../src/train/parallel.ts';
import type * as tfTypes from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/tfjs/backend.ts';
import { binarize, matryoshkaMnrl, mnrl, similarityDistillation } from '../../../src/train/step/loss.ts';
import { initParams } from '../../../src/train/start/init-params.ts';
import { planBatch } from '../../../src/train/step/pooling.ts';
import { Rng } from '../../../src/util/random.ts';
import { computeGradients, type BatchTeacher, type LossOptions } from '../../../src/train/step/gradients.ts';
import { gelu, geluGrad } from '../../../src/model/gelu.ts';
import type { BinarizeMode } from '../../../src/model/modes.ts';

type TF = typeof tfTypes;

function randomProblem(seed: number, V: number, D: number, O: number, B: number, withNeg: number) {
  const rng = new Rng(seed);
  const E = new Float32Array(V * D).map(() => rng.normal() * 0.5);
  const params = initParams({ nVocab: V, dimIn: D, dimOut: O, rng, tokenWeights: true, stopwordIds: [1, 2, 3], stopwordWeight: 0.1 });
  // Token weights spread around the gelu knee so gelu' varies.
  for (let i = 0; i < V; i++) params.tokenWeights![i] = rng.normal() * 1.2;
  const seq = () => Int32Array.from({ length: 1 + rng.int(7) }, () => rng.int(V));
  const seqs: Int32Array[] = [];
  for (let i = 0; i < B; i++) seqs.push(seq());
  for (let i = 0; i < B; i++) seqs.push(seq());
  for (let i = 0; i < withNeg; i++) seqs.push(seq());
  seqs[0] = Int32Array.from([5, 5, 7]); // a repeated token within a sentence counts twice
  return { E, params, seqs };
}

/**
 * The teacher term written from its definition rather than with loss.ts, so the test checks similarityDistillation
 * too: per Matryoshka dim (weighted), the student's anchor × candidate cosines S against the teacher's T over the
 * masked pairs M — mse: Σ M·(S − T)² / ΣM; cosine: mean over the anchors that have any pair of 1 − cos(M·S, M·T).
 */
function distillationFromDefinition(tf: TF, emb: tfTypes.Tensor2D, nAnchors: number, opts: LossOptions, teacher: BatchTeacher): tfTypes.Tensor {
  const rows = emb.shape[0];
  const C = rows - nAnchors;
  const T = tf.tensor2d(teacher.sim, [nAnchors, C]);
  const M = tf.tensor2d(teacher.mask, [nAnchors, C]);
  const maskedPairs = teacher.mask.reduce((a, b) => a + b, 0);
  // Anchors without a single pair have no cosine: they are left out, not counted as zero.
  const withPairs = Int32Array.from({ length: nAnchors }, (_, i) => i).filter((i) => teacher.mask.subarray(i * C, (i + 1) * C).some((m) => m > 0));
  let total: tfTypes.Tensor = tf.scalar(0);
  opts.dims.forEach((d, k) => {
    const e = tf.slice(emb, [0, 0], [rows, d]);
    const unit = tf.div(e, tf.norm(e, 2, 1, true));
    const sim = tf.matMul(tf.slice(unit, [0, 0], [nAnchors, d]), tf.slice(unit, [nAnchors, 0], [C, d]), false, true);
    let l: tfTypes.Tensor;
    if (teacher.kind === 'mse') l = tf.div(tf.sum(tf.mul(tf.squaredDifference(sim, T), M)), maskedPairs);
    else {
      const s = tf.gather(tf.mul(sim, M), withPairs);
      const t = tf.gather(tf.mul(T, M), withPairs);
      const cos = tf.div(tf.sum(tf.mul(s, t), 1), tf.mul(tf.norm(s, 2, 1), tf.norm(t, 2, 1)));
      l = tf.mean(tf.sub(1, cos));
    }
    total = tf.add(total, tf.mul(l, opts.dimWeights[k]!));
  });
  return total;
}

/** WordLlama's formulation with TF.js autograd: padded ids, per-token projection, masked mean. */
function tokenLevel(
  tf: TF,
  E: Float32Array,
  V: number,
  p: ReturnType<typeof randomProblem>['params'],
  seqs: Int32Array[],
  nAnchors: number,
  opts: LossOptions,
  teacher?: BatchTeacher,
) {
  const L = Math.max(...seqs.map((s) => s.length));
  const S = seqs.length;
  const ids = new Int32Array(S * L);
  const mask = new Float32Array(S * L);
  seqs.forEach((s, i) => s.forEach((t, j) => ((ids[i * L + j] = t), (mask[i * L + j] = 1))));
  return tf.tidy(() => {
    const Et = tf.tensor2d(E, [V, p.dimIn]);
    const idsT = tf.tensor2d(ids, [S, L], 'int32');
    const m = tf.tensor3d(mask, [S, L, 1]);
    const f = (w: tfTypes.Tensor, k: tfTypes.Tensor, b: tfTypes.Tensor, d?: tfTypes.Tensor) => {
      const wt = tf.gather(w, idsT); // [S, L]
      const g = tf.mul(tf.mul(0.5, wt), tf.add(1, tf.erf(tf.div(wt, Math.SQRT2))));
      const x = tf.mul(tf.gather(Et, idsT), tf.expandDims(g, 2)); // [S, L, D]
      let y = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [S * L, p.dimIn]), k as tfTypes.Tensor2D), b), [S, L, p.dimOut]);
      if (d) y = tf.add(y, tf.gather(d, idsT)); // token_delta: each token's own output offset, then the mean

      let emb = tf.div(tf.sum(tf.mul(y, m), 1), tf.sum(m, 1)) as tfTypes.Tensor2D;
      if (opts.norm) emb = tf.div(emb, tf.norm(emb, 2, 1, true)) as tfTypes.Tensor2D;
      const dense = emb;
      if (opts.binarize !== 'none') emb = binarize(tf, emb, opts.binarize) as tfTypes.Tensor2D;
      let mn = matryoshkaMnrl(tf, { emb, nAnchors, dims: opts.dims, weights: opts.dimWeights, scale: opts.scale, symmetric: opts.symmetric }).total;
      if (opts.binarize !== 'none' && opts.denseWeight)
        mn = tf.add(
          mn,
          tf.mul(
            matryoshkaMnrl(tf, { emb: dense, nAnchors, dims: opts.dims, weights: opts.dimWeights, scale: opts.scale, symmetric: opts.symmetric }).total,
            opts.denseWeight,
          ),
        );
      if (!teacher) return mn as tfTypes.Scalar;
      return tf.add(tf.mul(mn, teacher.mnrlWeight), tf.mul(distillationFromDefinition(tf, emb, nAnchors, opts, teacher), teacher.weight)) as tfTypes.Scalar;
    };
    const inputs = [tf.tensor1d(p.tokenWeights!), tf.tensor2d(p.kernel, [p.dimIn, p.dimOut]), tf.tensor1d(p.bias)];
    if (p.tokenDelta) inputs.push(tf.tensor2d(p.tokenDelta, [V, p.dimOut]));
    const { value, grads } = tf.valueAndGrads((...v: tfTypes.Tensor[]) => f(v[0]!, v[1]!, v[2]!, v[3]))(inputs);
    return {
      loss: value.dataSync()[0]!,
      gw: grads[0]!.dataSync() as Float32Array,
      gk: grads[1]!.dataSync() as Float32Array,
      gb: grads[2]!.dataSync() as Float32Array,
      gd: grads[3]?.dataSync() as Float32Array | undefined,
    };
  });
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

async function compare(
  backend: 'cpu' | 'wasm',
  binarizeMode: BinarizeMode,
  norm: boolean,
  withNeg: number,
  symmetric = false,
  distill?: 'mse' | 'cosine',
  denseWeight = 0,
  delta = false,
  helper?: MatmulHelper,
) {
  const V = 40;
  const D = 12;
  const O = 8;
  const B = 6;
  const { E, params, seqs } = randomProblem(7 + withNeg, V, D, O, B, withNeg);
  if (delta) {
    const r = new Rng(5);
    params.tokenDelta = Float32Array.from({ length: V * O }, () => r.normal() * 0.3);
  }
  const opts: LossOptions = {
    dims: [8, 4, 2],
    dimWeights: [1, 1, 0.5],
    scale: 20,
    norm,
    binarize: binarizeMode,
    tokenWeights: 'learned',
    symmetric,
    denseWeight,
  };
  let teacher: BatchTeacher | undefined;
  if (distill) {
    const C = seqs.length - B;
    const r = new Rng(99);
    const sim = Float32Array.from({ length: B * C }, () => r.next() * 2 - 1);
    const mask = Float32Array.from({ length: B * C }, (_, k) => (Math.floor(k / C) === 1 || k % C === 2 ? 0 : 1));
    teacher = { sim, mask, kind: distill, weight: 0.7, mnrlWeight: 0.5 };
  }
  const cpu = await selectBackend('cpu');
  const ref = tokenLevel(cpu.tf, E, V, params, seqs, B, opts, teacher);
  const { tf } = await selectBackend(backend);
  const plan = planBatch(seqs);
  const rows = new Float32Array(plan.uniq.length * D);
  plan.uniq.forEach((t, u) => rows.set(E.subarray(t * D, (t + 1) * D), u * D));
  const got = await computeGradients(tf, {
    params,
    plan,
    rows,
    nAnchors: B,
    opts,
    teacher,
    helper: helper ? Object.assign(helper, { minMacs: 0 }) : undefined,
  });
  const gw = new Float32Array(V);
  got.tokenWeights!.indices.forEach((t, i) => (gw[t] = got.tokenWeights!.values[i]!));
  let gd: Float32Array | undefined;
  if (got.tokenDelta) {
    gd = new Float32Array(V * O);
    got.tokenDelta.rows.forEach((t, i) => gd!.set(got.tokenDelta!.values.subarray(i * O, (i + 1) * O), t * O));
  }
  return { ref, got, gw, gd };
}

describe('pooled formulation = token-level WordLlama (loss and all gradients)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const [name, bin, norm, neg, symmetricFlag, distillKind, denseW, delta] of [
      ['dense', 'none', false, 0],
      ['dense + hard negatives + norm', 'none', true, 4],
      ['tanh-binarized', 'tanh', false, 3],
      ['ste-binarized + norm', 'ste', true, 0],
      ['reste-binarized', 'reste', false, 2],
      ['symmetric MNRL + hard negatives', 'none', false, 3, true],
      ['MNRL + similarity distillation (mse, masked)', 'none', false, 2, false, 'mse'],
      ['MNRL + similarity distillation (cosine, masked)', 'none', true, 0, false, 'cosine'],
      ['ste-binarized + 0.5 × dense loss', 'ste', true, 2, false, undefined, 0.5],
      ['learned token offsets (token_delta) + hard negatives + norm', 'none', true, 3, false, undefined, 0, true],
      ['learned token offsets + ste-binarized', 'ste', false, 0, false, undefined, 0, true],
    ] as const) {
      it(`${backend}: ${name}`, async () => {
        const withDelta = (delta as boolean | undefined) ?? false;
        const { ref, got, gw, gd } = await compare(
          backend,
          bin,
          norm,
          neg,
          (symmetricFlag as boolean | undefined) ?? false,
          distillKind as 'mse' | 'cosine' | undefined,
          (denseW as number | undefined) ?? 0,
          withDelta,
        );
        expect(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-5);
        expect(relErr(got.kernel, ref.gk)).toBeLessThan(1e-5);
        expect(relErr(got.bias, ref.gb)).toBeLessThan(1e-5);
        expect(relErr(gw, ref.gw)).toBeLessThan(1e-5);
        expect(gd === undefined).toBe(!withDelta);
        if (gd) {
          expect(relErr(gd, ref.gd!)).toBeLessThan(1e-5);
          // Only the batch's tokens get an offset gradient (a token outside the batch has an all-zero row).
          const rows = new Set(got.tokenDelta!.rows);
          for (let t = 0; t < 40; t++) if (!rows.has(t)) expect(Math.max(...ref.gd!.subarray(t * 8, (t + 1) * 8).map(Math.abs))).toBe(0);
        }
        // Only the batch's tokens get a token-weight gradient.
        const inBatch = new Set(got.tokenWeights!.indices);
        ref.gw.forEach((g, t) => {
          if (!inBatch.has(t)) expect(g).toBe(0);
        });
      });
    }
  }
});

describe('two threads (parallel.ts): the worker half of the matMuls gives the same loss and gradients', () => {
  let helper: MatmulHelper | undefined;
  afterAll(async () => helper?.close());
  for (const [name, bin, norm, neg, delta] of [
    ['dense + hard negatives + norm', 'none', true, 4, false],
    ['learned token offsets + tanh-binarized', 'tanh', false, 2, true],
  ] as const) {
    it(`wasm main thread + wasm worker: ${name}`, async () => {
      helper ??= await MatmulHelper.start((why) => {
        throw new Error(why);
      });
      const before = helper!.splits;
      const { ref, got, gw, gd } = await compare('wasm', bin, norm, neg, false, undefined, 0, delta, helper);
      expect(helper!.splits).toBe(before + 1);
      expect(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-5);
      expect(relErr(got.kernel, ref.gk)).toBeLessThan(1e-5);
      expect(relErr(got.bias, ref.gb)).toBeLessThan(1e-5);
      expect(relErr(gw, ref.gw)).toBeLessThan(1e-5);
      if (delta) expect(relErr(gd!, ref.gd!)).toBeLessThan(1e-5);
    });
  }
});

describe('pieces', () => {
  it('gelu and its derivative match float64 references', () => {
    // Φ via a high-precision series for small |x|; gelu(1) = 0.8413447460685429.
    expect(gelu(1)).toBeCloseTo(0.8413447460685429, 7);
    expect(gelu(-1)).toBeCloseTo(-0.15865525393145707, 7);
    expect(gelu(0.1)).toBeCloseTo(0.0539827837277029, 7);
    for (const x of [-3, -1, -0.2, 0, 0.1, 0.7, 2.5]) {
      const h = 1e-5;
      expect(geluGrad(x)).toBeCloseTo((gelu(x + h) - gelu(x - h)) / (2 * h), 5);
    }
  });

  it('straight-through estimators pass the documented gradients', async () => {
    const { tf } = await selectBackend('cpu');
    const xs = [-2, -1.4, -1, -0.5, -0.05, 0, 0.05, 0.5, 1, 1.2, 1.6, 3];
    const up = xs.map((_, i) => 1 + i / 10);
    const expected: Record<string, (x: number, g: number) => number> = {
      ste: (x, g) => (Math.abs(x) <= 1 ? g : 0),
      tanh: (x, g) => g * (1 - Math.tanh(x) ** 2),
      reste: (x, g) => (Math.abs(x) <= 1.5 ? g : 0), // t = 1.5, o = 1: power 0 → factor 1
    };
    for (const mode of ['ste', 'tanh', 'reste'] as const) {
      const x = tf.tensor1d(xs);
      const y = binarize(tf, x, mode);
      expect(Array.from(await y.data())).toEqual(xs.map((v) => Math.sign(v) + 0));
      const g = tf.grad((v: tfTypes.Tensor) => tf.sum(tf.mul(binarize(tf, v, mode), tf.tensor1d(up))))(x);
      const got = Array.from(await g.data());
      got.forEach((v, i) => expect(v).toBeCloseTo(expected[mode]!(xs[i]!, up[i]!), 6));
    }
  });

  it('Matryoshka loss = weighted sum of MNRL at each truncated dim, MNRL = explicit float64 cross-entropy', async () => {
    const { tf } = await selectBackend('cpu');
    const rng = new Rng(3);
    const n = 5;
    const c = 7; // 5 positives + 2 hard negatives
    const w = 6;
    const data = Float32Array.from({ length: (n + c) * w }, () => rng.normal());
    const emb = tf.tensor2d(data, [n + c, w]);
    const dims = [6, 3, 2];
    const weights = [1, 0.5, 2];
    const { total, perDim } = matryoshkaMnrl(tf, { emb, nAnchors: n, dims, weights, scale: 20 });
    const explicit = (d: number) => {
      const row = (r: number) => Array.from(data.subarray(r * w, r * w + d));
      const unit = (v: number[]) => {
        const s = Math.hypot(...v);
        return v.map((x) => x / s);
      };
      let l = 0;
      for (let i = 0; i < n; i++) {
        const a = unit(row(i));
        const logits = Array.from({ length: c }, (_, j) => 20 * unit(row(n + j)).reduce((s, x, k) => s + x * a[k]!, 0));
        const mx = Math.max(...logits);
        const lse = mx + Math.log(logits.reduce((s, z) => s + Math.exp(z - mx), 0));
        l += lse - logits[i]!;
      }
      return l / n;
    };
    for (let i = 0; i < dims.length; i++) {
      expect((await perDim[i]!.data())[0]).toBeCloseTo(explicit(dims[i]!), 4);
      const single = mnrl(tf, {
        anchors: tf.slice(emb, [0, 0], [n, dims[i]!]) as tfTypes.Tensor2D,
        candidates: tf.slice(emb, [n, 0], [c, dims[i]!]) as tfTypes.Tensor2D,
        scale: 20,
      });
      expect((await single.data())[0]).toBeCloseTo(explicit(dims[i]!), 4);
    }
    const sum = dims.reduce((s, d, i) => s + weights[i]! * explicit(d), 0);
    expect((await total.data())[0]).toBeCloseTo(sum, 4);
    // Symmetric: mean of anchor→candidates and positive→anchors cross-entropies.
    const backward = (d: number) => {
      const unit = (r: number) => {
        const v = Array.from(data.subarray(r * w, r * w + d));
        const s = Math.hypot(...v);
        return v.map((x) => x / s);
      };
      let l = 0;
      for (let i = 0; i < n; i++) {
        const p = unit(n + i);
        const logits = Array.from({ length: n }, (_, j) => 20 * unit(j).reduce((s, x, k) => s + x * p[k]!, 0));
        const mx = Math.max(...logits);
        l += mx + Math.log(logits.reduce((s, z) => s + Math.exp(z - mx), 0)) - logits[i]!;
      }
      return l / n;
    };
    const sym = mnrl(tf, {
      anchors: tf.slice(emb, [0, 0], [n, 3]) as tfTypes.Tensor2D,
      candidates: tf.slice(emb, [n, 0], [c, 3]) as tfTypes.Tensor2D,
      scale: 20,
      symmetric: true,
    });
    expect((await sym.data())[0]).toBeCloseTo((explicit(3) + backward(3)) / 2, 4);
  });

  it('similarity distillation = explicit float64 masked MSE / row cosine of in-batch cosine matrices, per dim', async () => {
    const { tf } = await selectBackend('cpu');
    const rng = new Rng(5);
    const n = 3;
    const c = 4;
    const w = 4;
    const data = Float32Array.from({ length: (n + c) * w }, () => rng.normal());
    const T = Float32Array.from({ length: n * c }, () => rng.next() * 2 - 1);
    const M = Float32Array.from([1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
    const cosAt = (i: number, j: number, d: number) => {
      const a = Array.from(data.subarray(i * w, i * w + d));
      const b = Array.from(data.subarray((n + j) * w, (n + j) * w + d));
      return a.reduce((s, x, k) => s + x * b[k]!, 0) / (Math.hypot(...a) * Math.hypot(...b));
    };
    const mse = (d: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) s += M[i * c + j]! * (cosAt(i, j, d) - T[i * c + j]!) ** 2;
      return s / 7;
    };
    const rowCos = (d: number) => {
      let s = 0;
      let rows = 0;
      for (let i = 0; i < n; i++) {
        const sv = Array.from({ length: c }, (_, j) => M[i * c + j]! * cosAt(i, j, d));
        const tv = Array.from({ length: c }, (_, j) => M[i * c + j]! * T[i * c + j]!);
        if (Math.hypot(...tv) === 0) continue;
        rows++;
        s += 1 - sv.reduce((a, x, k) => a + x * tv[k]!, 0) / (Math.hypot(...sv) * Math.hypot(...tv));
      }
      return s / rows;
    };
    const emb = tf.tensor2d(data, [n + c, w]);
    const args = [tf.tensor2d(T, [n, c]), tf.tensor2d(M, [n, c])] as const;
    const m = similarityDistillation(tf, { emb, nAnchors: n, dims: [4, 2], weights: [1, 0.5], teacherSim: args[0], mask: args[1], kind: 'mse' });
    expect((await m.data())[0]).toBeCloseTo(mse(4) + 0.5 * mse(2), 5);
    const k = similarityDistillation(tf, { emb, nAnchors: n, dims: [4, 2], weights: [1, 0.5], teacherSim: args[0], mask: args[1], kind: 'cosine' });
    expect((await k.data())[0]).toBeCloseTo(rowCos(4) + 0.5 * rowCos(2), 5);
  });
});
