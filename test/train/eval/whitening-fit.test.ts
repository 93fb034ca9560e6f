/**
 * The math of soft whitening (src/train/eval/whitening-fit.ts) and the symmetric eigen-solver under it (src/util/eigen.ts):
 * exact identities on random and hand-made matrices.
 */
import { describe, expect, it } from 'vitest';
import { symmetricEigen } from '../../../src/util/eigen.ts';
import { covarianceTf, topLeftBlock, whiteningSample, whiteningTransform } from '../../../src/train/eval/whitening-fit.ts';
import { applyWhitening, foldWhitening } from '../../../src/model/whitening.ts';
import { selectBackend } from '../../../src/tfjs/backend.ts';
import { Rng } from '../../../src/util/random.ts';
import { initParams } from '../../../src/train/start/init-params.ts';
import { project } from '../../helpers/pooled-output.ts';

/** Covariance (float64, [d, d]) of the first `d` of `width` columns of `rows` vectors. */
/** Reference: plain float64 loops. */
function prefixCovariance(y: Float32Array, rows: number, width: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) mean[j]! += y[r * width + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= rows;
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) c[j] = y[r * width + j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const ca = c[a]!;
      if (ca === 0) continue;
      const o = a * d;
      for (let b = a; b < d; b++) cov[o + b]! += ca * c[b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      cov[a * d + b]! /= Math.max(1, rows - 1);
      cov[b * d + a] = cov[a * d + b]!;
    }
  }
  return cov;
}

function randomSpd(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const B = Float64Array.from({ length: n * n }, () => rng.normal());
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) A[i * n + j]! += B[i * n + k]! * B[j * n + k]!;
  return A;
}

describe('symmetricEigen', () => {
  it('solves a hand-made 2 × 2 and 3 × 3', () => {
    const two = symmetricEigen([2, 1, 1, 2], 2);
    expect(Array.from(two.values)).toEqual([3, 1].map((v) => expect.closeTo(v, 12)));
    expect(Math.abs(two.vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 12);
    const diag = symmetricEigen([1, 0, 0, 0, 5, 0, 0, 0, 3], 3);
    expect(Array.from(diag.values)).toEqual([5, 3, 1].map((v) => expect.closeTo(v, 12)));
  });

  for (const n of [1, 7, 64]) {
    it(`A·v = λ·v, orthonormal vectors, descending values (n = ${n})`, () => {
      const A = randomSpd(n, n);
      const { values, vectors } = symmetricEigen(A, n);
      let resid = 0;
      let orth = 0;
      for (let k = 0; k < n; k++) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += A[i * n + j]! * vectors[j * n + k]!;
          resid = Math.max(resid, Math.abs(s - values[k]! * vectors[i * n + k]!));
        }
        for (let l = 0; l < n; l++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += vectors[i * n + k]! * vectors[i * n + l]!;
          orth = Math.max(orth, Math.abs(s - (k === l ? 1 : 0)));
        }
        if (k > 0) expect(values[k]!).toBeLessThanOrEqual(values[k - 1]!);
      }
      expect(resid).toBeLessThan(1e-9 * n);
      expect(orth).toBeLessThan(1e-12 * n);
    });
  }
});

describe('whitening', () => {
  const n = 16;
  const C = randomSpd(n, 3);
  const congruence = (T: Float32Array) => {
    // Tᵀ C T
    const out = new Float64Array(n * n);
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += T[i * n + a]! * C[i * n + j]! * T[j * n + b]!;
        out[a * n + b] = s;
      }
    return out;
  };
  const meanEig = Array.from(symmetricEigen(C, n).values).reduce((s, v) => s + v, 0) / n;

  it('power 0.5 makes the covariance mean(λ)·I; power 0 only rotates (Tᵀ C T = Λ)', () => {
    const full = congruence(whiteningTransform(C, n, 0.5));
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) expect(full[a * n + b]!).toBeCloseTo(a === b ? meanEig : 0, 3);
    const { values } = symmetricEigen(C, n);
    const rot = congruence(whiteningTransform(C, n, 0));
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) expect(rot[a * n + b]! / values[0]!).toBeCloseTo(a === b ? values[a]! / values[0]! : 0, 4);
  });

  it('power 0.25 leaves eigenvalues λ·(λ/mean λ)^(−1/2): spread halved on a log scale', () => {
    const { values } = symmetricEigen(C, n);
    const soft = congruence(whiteningTransform(C, n, 0.25));
    for (let k = 0; k < n; k++) expect(soft[k * n + k]! / values[0]!).toBeCloseTo((values[k]! * Math.pow(values[k]! / meanEig, -0.5)) / values[0]!, 4);
  });

  it('the reference covariance and applyWhitening equal explicit loops over the first d columns', () => {
    const rng = new Rng(8);
    const rows = 50;
    const width = 6;
    const d = 4;
    const y = Float32Array.from({ length: rows * width }, () => rng.normal());
    const cov = prefixCovariance(y, rows, width, d);
    const mean = Array.from({ length: d }, (_, j) => Array.from({ length: rows }, (_, r) => y[r * width + j]!).reduce((s, v) => s + v, 0) / rows);
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += (y[r * width + a]! - mean[a]!) * (y[r * width + b]! - mean[b]!);
        expect(cov[a * d + b]!).toBeCloseTo(s / (rows - 1), 9);
      }
    const T = Float32Array.from({ length: d * d }, () => rng.normal());
    const out = applyWhitening(y, rows, width, d, T);
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += y[r * width + i]! * T[i * d + k]!;
        expect(out[r * d + k]!).toBeCloseTo(s, 5);
      }
  });

  it('foldWhitening: the folded model projects to the original outputs times T (kernel, bias, token offsets)', () => {
    const rng = new Rng(21);
    const dimIn = 5;
    const dimOut = 4;
    const params = initParams({ nVocab: 10, dimIn, dimOut, rng, tokenWeights: true, tokenDelta: true });
    params.tokenDelta!.forEach((_, i) => (params.tokenDelta![i] = rng.normal()));
    const T = Float32Array.from({ length: dimOut * dimOut }, () => rng.normal());
    const x = Float32Array.from({ length: 3 * dimIn }, () => rng.normal());
    const before = applyWhitening(project(params, x, 3), 3, dimOut, dimOut, T);
    const deltaBefore = applyWhitening(params.tokenDelta!, 10, dimOut, dimOut, T);
    const folded = {
      ...params,
      kernel: Float32Array.from(params.kernel),
      bias: Float32Array.from(params.bias),
      tokenDelta: Float32Array.from(params.tokenDelta!),
      whiten: { [dimOut]: T },
    };
    foldWhitening(folded, T);
    expect(folded.whiten).toBeUndefined();
    const after = project(folded, x, 3);
    after.forEach((v, i) => expect(v).toBeCloseTo(before[i]!, 5));
    folded.tokenDelta!.forEach((v, i) => expect(v).toBeCloseTo(deltaBefore[i]!, 5));
  });

  it('covarianceTf (TF.js product) and its top-left blocks equal prefixCovariance at every prefix width', async () => {
    const { tf } = await selectBackend('wasm');
    const rng = new Rng(31);
    const rows = 300;
    const width = 12;
    const y = Float32Array.from({ length: rows * width }, () => rng.normal() + 0.5);
    const full = await covarianceTf(tf, y, rows, width);
    for (const d of [12, 8, 3]) {
      const want = prefixCovariance(y, rows, width, d);
      const got = topLeftBlock(full, width, d);
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    }
  });

  it('whiteningSample takes a seeded sample of non-empty anchors and positives', () => {
    const recs = Array.from({ length: 30 }, (_, i) => ({
      anchor: Int32Array.from([i]),
      positive: i % 3 === 0 ? new Int32Array(0) : Int32Array.from([100 + i]),
    }));
    const a = whiteningSample(recs, 25, 42);
    expect(a.length).toBe(25);
    expect(a.every((s) => s.length > 0)).toBe(true);
    expect(whiteningSample(recs, 25, 42)).toEqual(a);
    expect(whiteningSample(recs, 25, 43)).not.toEqual(a);
  });
});
