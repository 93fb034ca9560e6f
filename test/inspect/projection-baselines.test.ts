/**
 * PCA-truncation and random-projection baselines from the Gram: exact on a Hadamard matrix with scaled
 * columns, k/d scale on isotropic input, and the random round-trip error equal to the one measured on the
 * rows themselves (X·QᵀQ computed densely here).
 */
import { describe, expect, it } from 'vitest';
import { streamGram } from '../../src/inspect/gram.ts';
import { projectionBaselines, randomOrthonormal } from '../../src/inspect/projection-baselines.ts';
import { spectrumOfGram } from '../../src/inspect/spectrum.ts';
import { memoryMatrix, seeded } from '../helpers/memory-matrix.ts';

describe('projection baselines', () => {
  it('gives the exact PCA error and scale k/d on an isotropic Gram', () => {
    const d = 50;
    const gram = new Float64Array(d * d);
    for (let i = 0; i < d; i++) gram[i * d + i] = 4;
    const b = projectionBaselines(
      gram,
      d,
      Array.from({ length: d }, () => 2),
      [10, 25],
    );
    expect(b.map((x) => x.random_scale)).toEqual([expect.closeTo(0.2, 12), expect.closeTo(0.5, 12)]);
    expect(b.map((x) => x.pca_error)).toEqual([expect.closeTo(Math.sqrt(0.8), 12), expect.closeTo(Math.sqrt(0.5), 12)]);
    expect(b[0]!.expected_scale).toBe(0.2);
  });

  it('draws orthonormal directions, the same for the same seed', () => {
    const q = randomOrthonormal(20, 5, 3);
    for (let a = 0; a < 5; a++) {
      for (let c = 0; c < 5; c++) {
        let s = 0;
        for (let j = 0; j < 20; j++) s += q[a * 20 + j]! * q[c * 20 + j]!;
        expect(s).toBeCloseTo(a === c ? 1 : 0, 12);
      }
    }
    expect(randomOrthonormal(20, 5, 3)).toEqual(q);
    expect(randomOrthonormal(20, 5, 4)).not.toEqual(q);
  });

  it('equals the reconstruction error measured on the rows', async () => {
    const rows = 120;
    const d = 16;
    const rnd = seeded(5);
    const x = Float32Array.from({ length: rows * d }, (_, i) => (rnd() - 0.5) / (1 + (i % d)));
    const g = await streamGram(memoryMatrix(x, rows, d));
    const sp = spectrumOfGram(g, []);
    const [b] = projectionBaselines(g.gram, d, sp.uncentred.singular_values, [6], 7);
    const q = randomOrthonormal(d, 6, 7);
    let err = 0;
    let tot = 0;
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * d, (r + 1) * d);
      const rec = new Float64Array(d);
      for (let c = 0; c < 6; c++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += row[j]! * q[c * d + j]!;
        for (let j = 0; j < d; j++) rec[j] = rec[j]! + s * q[c * d + j]!;
      }
      for (let j = 0; j < d; j++) {
        err += (row[j]! - rec[j]!) ** 2;
        tot += row[j]! ** 2;
      }
    }
    expect(b!.random_error).toBeCloseTo(Math.sqrt(err / tot), 10);
    expect(b!.pca_error).toBeLessThan(b!.random_error);
  });
});
