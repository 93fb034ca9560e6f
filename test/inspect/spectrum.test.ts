/**
 * The spectrum from the streamed Gram + Householder/QL eigensolver, against exact known spectra (a Hadamard
 * matrix with scaled columns), rank-deficient input, and a dense reference: one-sided Jacobi SVD of the whole
 * matrix in f64, computed here independently of the Gram path. Every spectrum check runs twice: through the
 * WebAssembly SIMD Gram kernel (f64 lanes) and through the plain-JS f64 reference loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableKernels, kernelsAvailable } from '../../src/embed/kernels/index.ts';
import { centredGram, streamGram } from '../../src/inspect/gram.ts';
import { spectrum } from '../../src/inspect/spectrum.ts';
import { symmetricEigenvalues } from '../../src/util/eigen.ts';
import { memoryMatrix, seeded } from '../helpers/memory-matrix.ts';

/** Singular values of the rows × dim matrix `x` by one-sided Jacobi (orthogonalise columns pairwise). */
function denseSingularValues(x: Float64Array, rows: number, dim: number): number[] {
  const cols = Array.from({ length: dim }, (_, j) => Float64Array.from({ length: rows }, (_, r) => x[r * dim + j]!));
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < dim; p++) {
      for (let q = p + 1; q < dim; q++) {
        const a = cols[p]!;
        const b = cols[q]!;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let r = 0; r < rows; r++) {
          alpha += a[r]! * a[r]!;
          beta += b[r]! * b[r]!;
          gamma += a[r]! * b[r]!;
        }
        if (Math.abs(gamma) <= 1e-300 || Math.abs(gamma) <= 1e-17 * Math.sqrt(alpha * beta)) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let r = 0; r < rows; r++) {
          const ar = a[r]!;
          const br = b[r]!;
          a[r] = c * ar - s * br;
          b[r] = s * ar + c * br;
        }
      }
    }
    if (off < 1e-15) break;
  }
  return cols.map((c) => Math.sqrt(c.reduce((s, v) => s + v * v, 0))).sort((a, b) => b - a);
}

function randomMatrix(rows: number, dim: number, seed: number): Float32Array {
  const rnd = seeded(seed);
  return Float32Array.from({ length: rows * dim }, () => rnd() * 2 - 1);
}

/** Sylvester Hadamard matrix of order 2^p (entries ±1, HᵀH = n·I). */
function hadamard(p: number): number[][] {
  let h = [[1]];
  for (let i = 0; i < p; i++) h = [...h.map((r) => [...r, ...r]), ...h.map((r) => [...r, ...r.map((v) => -v)])];
  return h;
}

function expectRelClose(actual: number[], expected: number[], rel: number, floor = 0): void {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const tol = Math.max(rel * Math.abs(expected[i]!), floor * scale);
    if (Math.abs(actual[i]! - expected[i]!) > tol) throw new Error(`σ[${i}] = ${actual[i]} ≠ ${expected[i]} (tol ${tol})`);
  }
}

describe('symmetric eigensolver', () => {
  it('finds the eigenvalues of a 1 × 1, a diagonal and a known 3 × 3 matrix', () => {
    expect(Array.from(symmetricEigenvalues(Float64Array.of(5), 1))).toEqual([5]);
    expect(Array.from(symmetricEigenvalues(Float64Array.of(1, 0, 0, 0, 3, 0, 0, 0, 2), 3))).toEqual([3, 2, 1]);
    // [[2,1,0],[1,2,1],[0,1,2]]: 2 + √2, 2, 2 − √2
    const ev = symmetricEigenvalues(Float64Array.of(2, 1, 0, 1, 2, 1, 0, 1, 2), 3);
    expectRelClose(Array.from(ev), [2 + Math.SQRT2, 2, 2 - Math.SQRT2], 1e-14);
  });

  it('matches the trace and the Frobenius norm of a random symmetric 60 × 60 matrix', () => {
    const n = 60;
    const rnd = seeded(7);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rnd() - 0.5;
    const ev = symmetricEigenvalues(a, n);
    let trace = 0;
    let fro = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    for (const v of a) fro += v * v;
    expect(ev.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 12);
    expect(ev.reduce((s, v) => s + v * v, 0)).toBeCloseTo(fro, 11);
  });
});

for (const path of ['wasm kernel', 'JS reference'] as const) {
  describe(`spectrum (${path})`, () => {
    beforeAll(() => disableKernels(path === 'JS reference'));
    afterAll(() => disableKernels(false));
    it('takes the asked path', () => {
      expect(kernelsAvailable()).toBe(path === 'wasm kernel');
    });

    it('gives the exact singular values of a Hadamard matrix with scaled columns, in every block size', async () => {
      // X = H₁₆ · diag(s): XᵀX = 16·diag(s²), so σ = 4·s exactly; all values are exact in f32.
      const h = hadamard(4);
      const s = [8, 7, 6, 5, 4, 3, 2, 1];
      const x = Float32Array.from(h.flatMap((row) => s.map((v, j) => row[j]! * v)));
      for (const blockRows of [1, 3, 16, 100]) {
        const sp = await spectrum(memoryMatrix(x, 16, 8), [1, 2, 8], { blockRows });
        expectRelClose(
          sp.uncentred.singular_values,
          s.map((v) => 4 * v),
          1e-12,
        );
      }
      const sp = await spectrum(memoryMatrix(x, 16, 8), [1, 2, 8]);
      // Column j of H (j < 8) is orthogonal to the all-ones column 0 except j = 0 itself, which is constant:
      // centring removes column 0 entirely (its mean is ±s₀), leaving 4·s for the other seven.
      expectRelClose(sp.centred.singular_values, [28, 24, 20, 16, 12, 8, 4, 0], 1e-12, 1e-12);
      const total = [7, 6, 5, 4, 3, 2, 1].reduce((a, v) => a + v * v, 0);
      expect(sp.variance_explained.map((v) => v.fraction)).toEqual([49 / total, (49 + 36) / total, 1].map((f) => expect.closeTo(f, 14)));
      expect(sp.centred.numerical_rank).toBe(7);
      expect(sp.uncentred.numerical_rank).toBe(8);
      const sum = s.reduce((a, v) => a + v, 0);
      expect(sp.uncentred.effective_rank).toBeCloseTo(Math.exp(-s.reduce((a, v) => a + (v / sum) * Math.log(v / sum), 0)), 12);
    });

    it('finds the rank of a rank-deficient matrix (rank 3 in 12 columns, duplicate and zero columns)', async () => {
      const rows = 200;
      const dim = 12;
      const rnd = seeded(3);
      const basis = Array.from({ length: 3 }, () => Array.from({ length: dim }, () => rnd() * 2 - 1));
      const x = new Float32Array(rows * dim);
      for (let r = 0; r < rows; r++) {
        const c = [rnd() - 0.5, rnd() - 0.5, rnd() - 0.5];
        for (let j = 0; j < dim; j++) x[r * dim + j] = c[0]! * basis[0]![j]! + c[1]! * basis[1]![j]! + c[2]! * basis[2]![j]!;
      }
      const sp = await spectrum(memoryMatrix(x, rows, dim), [3]);
      const ref = denseSingularValues(Float64Array.from(x), rows, dim);
      expectRelClose(sp.uncentred.singular_values.slice(0, 3), ref.slice(0, 3), 1e-6);
      // f32 rounding of the rows leaves σ₄.. at ~1e-7·σ₁, far under the numerical-rank floor
      expect(sp.uncentred.numerical_rank).toBe(3);
      for (const v of sp.uncentred.singular_values.slice(3)) expect(v).toBeLessThan(1e-5 * sp.uncentred.singular_values[0]!);
    });

    it('equals a dense one-sided Jacobi SVD of random matrices to 1e-6 relative, plain and centred', async () => {
      for (const [rows, dim, seed] of [
        [300, 40, 1],
        [57, 57, 2],
        [500, 9, 5],
      ] as const) {
        const x = randomMatrix(rows, dim, seed);
        for (let r = 0; r < rows; r++) x[r * dim] = x[r * dim]! + 3; // a non-zero mean so centring matters
        const sp = await spectrum(memoryMatrix(x, rows, dim), [dim], { blockRows: 64 });
        expectRelClose(sp.uncentred.singular_values, denseSingularValues(Float64Array.from(x), rows, dim), 1e-6);
        const mean = new Float64Array(dim);
        for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) mean[j] = mean[j]! + x[r * dim + j]! / rows;
        const xc = Float64Array.from(x, (v, i) => v - mean[i % dim]!);
        // Centring the square 57 × 57 case leaves rank 56: through the Gram a zero σ comes out as
        // ≈ √ε·σ₁ (1e-7·σ₁), so values that small are held to 1e-6·σ₁ absolute instead.
        expectRelClose(sp.centred.singular_values, denseSingularValues(xc, rows, dim), 1e-6, 1e-6);
      }
    });

    it('streams the same Gram and centred Gram as the dense product', async () => {
      const rows = 37;
      const dim = 5;
      const x = randomMatrix(rows, dim, 11);
      const g = await streamGram(memoryMatrix(x, rows, dim), { blockRows: 4 });
      const c = centredGram(g);
      for (let i = 0; i < dim; i++) {
        let col = 0;
        for (let r = 0; r < rows; r++) col += x[r * dim + i]!;
        expect(g.colSums[i]).toBeCloseTo(col, 12);
        for (let j = 0; j < dim; j++) {
          let s = 0;
          let abs = 0;
          let sc = 0;
          let mi = 0;
          let mj = 0;
          for (let r = 0; r < rows; r++) {
            mi += x[r * dim + i]! / rows;
            mj += x[r * dim + j]! / rows;
          }
          for (let r = 0; r < rows; r++) {
            s += x[r * dim + i]! * x[r * dim + j]!;
            abs += Math.abs(x[r * dim + i]! * x[r * dim + j]!);
            sc += (x[r * dim + i]! - mi) * (x[r * dim + j]! - mj);
          }
          // both paths: exact f64 products of the f32 values, f64 sums (the kernel in another order)
          expect(Math.abs(g.gram[i * dim + j]! - s)).toBeLessThanOrEqual(1e-13 * abs);
          expect(c[i * dim + j]).toBeCloseTo(sc, 12);
        }
      }
    });
  });
}

describe('Gram kernel vs JS reference', () => {
  afterAll(() => disableKernels(false));
  it('agrees entry by entry to 1e-13 of Σ|xᵢxⱼ| over odd shapes, partial blocks and many blocks', async () => {
    expect(kernelsAvailable()).toBe(true);
    for (const [rows, dim, blockRows, seed] of [
      [1, 1, 1, 1],
      [7, 3, 5, 2],
      [301, 13, 64, 3],
      [1000, 37, 300, 4],
      [2049, 64, 2049, 5],
    ] as const) {
      const x = randomMatrix(rows, dim, seed);
      for (let r = 0; r < rows; r++) x[r * dim] = x[r * dim]! + 2;
      disableKernels(false);
      const fast = await streamGram(memoryMatrix(x, rows, dim), { blockRows });
      disableKernels(true);
      const ref = await streamGram(memoryMatrix(x, rows, dim), { blockRows });
      disableKernels(false);
      expect(Array.from(fast.colSums)).toEqual(Array.from(ref.colSums));
      for (let i = 0; i < dim; i++) {
        for (let j = 0; j < dim; j++) {
          let abs = 0;
          for (let r = 0; r < rows; r++) abs += Math.abs(x[r * dim + i]! * x[r * dim + j]!);
          const d = Math.abs(fast.gram[i * dim + j]! - ref.gram[i * dim + j]!);
          if (d > 1e-13 * abs) throw new Error(`${rows} × ${dim}: G[${i}][${j}] ${fast.gram[i * dim + j]} vs ${ref.gram[i * dim + j]}`);
          expect(fast.gram[i * dim + j]).toBe(fast.gram[j * dim + i]);
        }
      }
    }
  });
});
