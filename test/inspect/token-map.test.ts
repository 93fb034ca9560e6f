/**
 * The token map's pieces: the top eigenvectors by subspace iteration against a matrix with known eigenvectors,
 * quartiles and row norms per kind counted by hand, and the scatter of a planted structure whose principal
 * axes and projections are known exactly.
 */
import { describe, expect, it } from 'vitest';
import { centredGram, streamGram } from '../../src/inspect/gram.ts';
import { normsByKind, quantile, tokenLabel, tokenMap, topEigenvectors } from '../../src/inspect/token-map.ts';
import { rowNorms } from '../../src/inspect/neighbours.ts';
import { memoryMatrix, seeded } from '../helpers/memory-matrix.ts';

describe('topEigenvectors', () => {
  it('finds the two leading eigenpairs of Q·diag(λ)·Qᵀ for a random orthogonal Q', () => {
    const d = 30;
    const rnd = seeded(5);
    // Q from Gram–Schmidt of random vectors (columns q_c)
    const q: Float64Array[] = [];
    for (let c = 0; c < d; c++) {
      const v = Float64Array.from({ length: d }, () => rnd() - 0.5);
      for (const u of q) {
        const s = u.reduce((a, x, j) => a + x * v[j]!, 0);
        for (let j = 0; j < d; j++) v[j] = v[j]! - s * u[j]!;
      }
      const n = Math.hypot(...v);
      q.push(v.map((x) => x / n));
    }
    const lambda = Array.from({ length: d }, (_, c) => 10 / (1 + c)); // 10, 5, 3.33, …
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j] = lambda.reduce((s, l, c) => s + l * q[c]![i]! * q[c]![j]!, 0);
    const { values, vectors } = topEigenvectors(a, d, 2);
    expect(values[0]).toBeCloseTo(10, 10);
    expect(values[1]).toBeCloseTo(5, 10);
    for (let c = 0; c < 2; c++) {
      const cos = Math.abs(vectors[c]!.reduce((s, x, j) => s + x * q[c]![j]!, 0));
      expect(cos).toBeCloseTo(1, 10);
    }
  });
});

describe('row norms by kind', () => {
  it('quantiles interpolate between order statistics (numpy default)', () => {
    expect(quantile([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([7], 0.75)).toBe(7);
    expect(quantile([], 0.5)).toBe(0);
  });

  it('groups rows by kind in a fixed order, unknown ids last', () => {
    const norms = Float64Array.of(1, 2, 3, 4, 10, 0, 5);
    const kinds = ['letters', 'digits', 'letters', 'letters', 'special', undefined, 'letters'] as const;
    expect(normsByKind(norms, kinds)).toEqual([
      { kind: 'letters', count: 4, min: 1, q1: 2.5, median: 3.5, q3: 4.25, max: 5, mean: 13 / 4 },
      { kind: 'digits', count: 1, min: 2, q1: 2, median: 2, q3: 2, max: 2, mean: 2 },
      { kind: 'special', count: 1, min: 10, q1: 10, median: 10, q3: 10, max: 10, mean: 10 },
      { kind: 'unknown', count: 1, min: 0, q1: 0, median: 0, q3: 0, max: 0, mean: 0 },
    ]);
    expect(normsByKind(Float64Array.of(3, 4), undefined)).toEqual([{ kind: 'unknown', count: 2, min: 3, q1: 3.25, median: 3.5, q3: 3.75, max: 4, mean: 3.5 }]);
  });

  it('labels show whitespace and cut long tokens', () => {
    expect(tokenLabel(' the\n')).toBe('␣the⏎');
    expect(tokenLabel('\tx\r')).toBe('⇥x↵');
    expect(tokenLabel('abcdefghijklmnop')).toBe('abcdefghijk…');
    expect(tokenLabel('中国人民共和国万岁万岁万岁')).toBe('中国人民共和国万岁万岁…');
  });
});

describe('tokenMap', () => {
  it('projects a planted plane exactly onto its principal axes, skips zero rows, samples per kind', async () => {
    // rows = 3a·e₀ + b·e₁ (a, b ∈ {−1, 1}, balanced, so the mean is 0) and one zero row, in 6 dims: the centred
    // principal axes are e₀ (variance 9·40) and e₁ (1·40), the projections (3a, b) exactly.
    const dim = 6;
    const rows = 41;
    const x = new Float32Array(rows * dim);
    const expected = new Map<number, [number, number]>();
    for (let r = 0; r < 40; r++) {
      const a = r % 2 ? 1 : -1;
      const b = r % 4 < 2 ? 1 : -1;
      x[r * dim] = 3 * a;
      x[r * dim + 1] = b;
      expected.set(r, [3 * a, b]);
    }
    const m = memoryMatrix(x, rows, dim);
    const g = await streamGram(m);
    const mean = Float64Array.from(g.colSums, (s) => s / rows);
    expect(Array.from(mean)).toEqual([0, 0, 0, 0, 0, 0]);
    const norms = await rowNorms(m);
    const kinds = Array.from({ length: rows }, (_, i) => (i < 30 ? ('letters' as const) : ('digits' as const)));
    const map = await tokenMap(m, centredGram(g), mean, norms, kinds, undefined, { perKind: 25, labelsPerKind: 3 });
    expect(map.points.filter((p) => p.kind === 'letters').length).toBe(25);
    expect(map.points.filter((p) => p.kind === 'digits').length).toBe(10); // ids 30..39; 40 is the zero row
    expect(map.points.some((p) => p.id === 40)).toBe(false);
    expect(map.points.filter((p) => p.labelled).length).toBe(6);
    expect(new Set(map.points.map((p) => p.id)).size).toBe(35);
    for (const p of map.points) {
      const [ex, ey] = expected.get(p.id)!;
      expect(p.x).toBeCloseTo(ex, 9);
      expect(p.y).toBeCloseTo(ey, 9);
      expect(p.token).toBeNull();
    }
    expect(map.axis_variance[0]).toBeCloseTo(0.9, 12);
    expect(map.axis_variance[1]).toBeCloseTo(0.1, 12);
    // the same seed draws the same sample
    const again = await tokenMap(m, centredGram(g), mean, norms, kinds, undefined, { perKind: 25, labelsPerKind: 3 });
    expect(again.points.map((p) => p.id)).toEqual(map.points.map((p) => p.id));
  });
});
