/**
 * Exact blocked neighbours against brute force on a matrix with planted near-duplicates (scaled copies, tiny
 * perturbations) and all-zero rows; the planted pairs and zero rows are found exactly, in every block size.
 */
import { describe, expect, it } from 'vitest';
import { nearDuplicates, nearestRows, rowNorms, zeroRowIds } from '../../src/inspect/neighbours.ts';
import { memoryMatrix, seeded } from '../helpers/memory-matrix.ts';

const ROWS = 150;
const DIM = 24;

/** Random rows; row 10 = 3·row 4 (cosine 1), row 77 = row 20 + tiny noise, rows 5, 60 and 149 all zero. */
function planted(): Float32Array {
  const rnd = seeded(42);
  const x = Float32Array.from({ length: ROWS * DIM }, () => rnd() * 2 - 1);
  const row = (i: number) => x.subarray(i * DIM, (i + 1) * DIM);
  row(10).set(row(4).map((v) => 3 * v));
  row(77).set(row(20).map((v, j) => v + (j === 0 ? 1e-3 : 0)));
  for (const z of [5, 60, 149]) row(z).fill(0);
  return x;
}

function bruteCos(x: Float32Array, i: number, j: number): number {
  let d = 0;
  let ni = 0;
  let nj = 0;
  for (let k = 0; k < DIM; k++) {
    d += x[i * DIM + k]! * x[j * DIM + k]!;
    ni += x[i * DIM + k]! ** 2;
    nj += x[j * DIM + k]! ** 2;
  }
  return ni > 0 && nj > 0 ? d / Math.sqrt(ni * nj) : 0;
}

describe('neighbours', () => {
  const x = planted();

  it('finds the zero rows and the row norms', async () => {
    const norms = await rowNorms(memoryMatrix(x, ROWS, DIM), { blockRows: 7 });
    expect(zeroRowIds(norms)).toEqual([5, 60, 149]);
    expect(norms[10]).toBeCloseTo(3 * norms[4]!, 5);
  });

  it('returns the brute-force top-k for every query, in every block size', async () => {
    const queries = [4, 20, 33, 5].map((i) => x.slice(i * DIM, (i + 1) * DIM));
    for (const blockRows of [1, 8, 64, 1000]) {
      const got = await nearestRows(memoryMatrix(x, ROWS, DIM), queries, 6, { blockRows, exclude: [4, 20, 33, 5] });
      [4, 20, 33, 5].forEach((qi, q) => {
        const brute = Array.from({ length: ROWS }, (_, id) => ({ id, score: bruteCos(x, qi, id) }))
          .filter((n) => n.id !== qi)
          .sort((a, b) => b.score - a.score || a.id - b.id)
          .slice(0, 6);
        expect(got[q]!.map((n) => n.id)).toEqual(brute.map((n) => n.id));
        got[q]!.forEach((n, i) => expect(n.score).toBeCloseTo(brute[i]!.score, 5));
      });
    }
    const [first] = await nearestRows(memoryMatrix(x, ROWS, DIM), [x.slice(4 * DIM, 5 * DIM)], 1, { exclude: [4] });
    expect(first![0]!.id).toBe(10);
    expect(first![0]!.score).toBeCloseTo(1, 6);
  });

  it('counts exactly the planted near-duplicate pairs, skipping zero rows', async () => {
    for (const blockRows of [1, 13, 150]) {
      const d = await nearDuplicates(memoryMatrix(x, ROWS, DIM), 1e-4, { blockRows });
      expect(d.pairs).toBe(2);
      expect(d.rows_involved).toBe(4);
      expect(d.examples.map((p) => [p.a, p.b])).toEqual([
        [4, 10],
        [20, 77],
      ]);
      expect(d.examples[0]!.distance).toBeLessThan(1e-6);
      expect(d.examples[1]!.distance).toBeCloseTo(1 - bruteCos(x, 20, 77), 6);
    }
  });

  it('equals the brute-force pair count at a loose threshold', async () => {
    const t = 0.6;
    let brute = 0;
    for (let i = 0; i < ROWS; i++) for (let j = i + 1; j < ROWS; j++) if (bruteCos(x, i, j) !== 0 && 1 - bruteCos(x, i, j) <= t) brute++;
    expect(brute).toBeGreaterThan(20);
    const d = await nearDuplicates(memoryMatrix(x, ROWS, DIM), t, { blockRows: 16, examples: 3 });
    expect(d.pairs).toBe(brute);
    expect(d.examples).toHaveLength(3);
  });
});
