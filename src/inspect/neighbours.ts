/**
 * Exact cosine neighbourhoods of a token matrix, streamed over row blocks: the nearest rows to query vectors,
 * row norms and all-zero rows, and the count of near-duplicate row pairs (cosine distance 1 − cos ≤ t), with
 * the closest pairs as examples. All exact: no index, no sampling; the pair count compares every block with
 * every later block, O(rows² · dim) (seconds at 8k × 256, impractical at 256k; see docs/inspect.md).
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { blockRowsFor } from './gram.ts';

export interface Neighbour {
  id: number;
  score: number;
}

/** Rows `[start, start+count)` scaled to unit length in place (zero rows stay zero); returns their norms. */
async function readUnitRows(m: RowMatrix, start: number, count: number, buf: Float32Array, norms: Float64Array): Promise<Float32Array> {
  const x = await m.readRows(start, count, buf);
  const dim = m.dim;
  for (let r = 0; r < count; r++) {
    let s = 0;
    const o = r * dim;
    for (let j = 0; j < dim; j++) s += x[o + j]! * x[o + j]!;
    const norm = Math.sqrt(s);
    norms[r] = norm;
    if (norm > 0) {
      const inv = 1 / norm;
      for (let j = 0; j < dim; j++) x[o + j] = x[o + j]! * inv;
    }
  }
  return x;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < dim; j += 4) {
    s0 += a[ao + j]! * b[bo + j]!;
    s1 += a[ao + j + 1]! * b[bo + j + 1]!;
    s2 += a[ao + j + 2]! * b[bo + j + 2]!;
    s3 += a[ao + j + 3]! * b[bo + j + 3]!;
  }
  for (; j < dim; j++) s0 += a[ao + j]! * b[bo + j]!;
  return s0 + s1 + s2 + s3;
}

/** Insert into a list kept sorted by `better` first, at most `k` long. */
function keepBest<T>(list: T[], item: T, k: number, better: (a: T, b: T) => boolean): void {
  if (list.length === k && !better(item, list[k - 1]!)) return;
  let i = list.length < k ? list.length : k - 1;
  if (list.length < k) list.push(item);
  while (i > 0 && better(item, list[i - 1]!)) {
    list[i] = list[i - 1]!;
    i--;
  }
  list[i] = item;
}

/**
 * The `k` rows of highest cosine to each query (queries need not be unit length; zero rows score 0).
 * Ties keep the lower id first. `exclude[q]`, when given, is a row id left out for query q (the token itself).
 */
export async function nearestRows(
  m: RowMatrix,
  queries: Float32Array[],
  k: number,
  opts: { blockRows?: number; exclude?: (number | undefined)[] } = {},
): Promise<Neighbour[][]> {
  const dim = m.dim;
  const unitQueries = queries.map((q) => {
    if (q.length !== dim) throw new Error(`nearestRows: query of ${q.length} values for a ${dim}-wide matrix`);
    const n = Math.sqrt(q.reduce((s, v) => s + v * v, 0));
    return Float32Array.from(q, (v) => (n > 0 ? v / n : 0));
  });
  const best: Neighbour[][] = queries.map(() => []);
  const better = (a: Neighbour, b: Neighbour) => a.score > b.score || (a.score === b.score && a.id < b.id);
  const block = Math.min(opts.blockRows ?? blockRowsFor(dim), Math.max(1, m.rows));
  const buf = new Float32Array(block * dim);
  const norms = new Float64Array(block);
  for (let start = 0; start < m.rows; start += block) {
    const count = Math.min(block, m.rows - start);
    const x = await readUnitRows(m, start, count, buf, norms);
    for (let q = 0; q < unitQueries.length; q++) {
      const uq = unitQueries[q]!;
      const skip = opts.exclude?.[q];
      for (let r = 0; r < count; r++) {
        if (start + r === skip) continue;
        keepBest(best[q]!, { id: start + r, score: dot(uq, 0, x, r * dim, dim) }, k, better);
      }
    }
  }
  return best;
}

/** L2 norm of every row, in one pass. */
export async function rowNorms(m: RowMatrix, opts: { blockRows?: number } = {}): Promise<Float64Array> {
  const dim = m.dim;
  const out = new Float64Array(m.rows);
  const block = Math.min(opts.blockRows ?? blockRowsFor(dim), Math.max(1, m.rows));
  const buf = new Float32Array(block * dim);
  for (let start = 0; start < m.rows; start += block) {
    const count = Math.min(block, m.rows - start);
    const x = await m.readRows(start, count, buf);
    for (let r = 0; r < count; r++) {
      let s = 0;
      for (let j = r * dim; j < (r + 1) * dim; j++) s += x[j]! * x[j]!;
      out[start + r] = Math.sqrt(s);
    }
  }
  return out;
}

/** Ids of rows that are all zero (norm exactly 0). */
export function zeroRowIds(norms: Float64Array): number[] {
  const ids: number[] = [];
  norms.forEach((n, i) => {
    if (n === 0) ids.push(i);
  });
  return ids;
}

export interface DuplicatePair {
  a: number;
  b: number;
  /** 1 − cos(row a, row b). */
  distance: number;
}

export interface NearDuplicates {
  /** Pairs a < b of non-zero rows with 1 − cos ≤ threshold (zero rows have no direction and are left out). */
  pairs: number;
  /** Rows in at least one such pair. */
  rows_involved: number;
  threshold: number;
  /** The closest pairs, closest first (ties: lower ids first). */
  examples: DuplicatePair[];
}

/** Every pair of rows compared exactly, block against block. */
export async function nearDuplicates(
  m: RowMatrix,
  threshold: number,
  opts: { blockRows?: number; examples?: number; onBlock?: (blocksDone: number, blocks: number) => void } = {},
): Promise<NearDuplicates> {
  const dim = m.dim;
  const block = Math.min(opts.blockRows ?? blockRowsFor(dim, 4 * 1024 * 1024), Math.max(1, m.rows));
  const maxExamples = opts.examples ?? 20;
  const bufA = new Float32Array(block * dim);
  const bufB = new Float32Array(block * dim);
  const normsA = new Float64Array(block);
  const normsB = new Float64Array(block);
  const involved = new Uint8Array(m.rows);
  const examples: DuplicatePair[] = [];
  const better = (p: DuplicatePair, q: DuplicatePair) => p.distance < q.distance || (p.distance === q.distance && (p.a < q.a || (p.a === q.a && p.b < q.b)));
  // cos ≥ 1 − t, compared on the f32-accumulated dot of unit rows
  const minCos = 1 - threshold;
  let pairs = 0;
  const blocks = Math.ceil(m.rows / block);
  for (let bi = 0; bi < blocks; bi++) {
    const startA = bi * block;
    const countA = Math.min(block, m.rows - startA);
    const a = await readUnitRows(m, startA, countA, bufA, normsA);
    for (let bj = bi; bj < blocks; bj++) {
      const startB = bj * block;
      const countB = Math.min(block, m.rows - startB);
      const same = bj === bi;
      const b = same ? a : await readUnitRows(m, startB, countB, bufB, normsB);
      const nb = same ? normsA : normsB;
      for (let i = 0; i < countA; i++) {
        if (normsA[i] === 0) continue;
        for (let j = same ? i + 1 : 0; j < countB; j++) {
          if (nb[j] === 0) continue;
          const c = dot(a, i * dim, b, j * dim, dim);
          if (c >= minCos) {
            pairs++;
            involved[startA + i] = 1;
            involved[startB + j] = 1;
            keepBest(examples, { a: startA + i, b: startB + j, distance: Math.max(0, 1 - c) }, maxExamples, better);
          }
        }
      }
    }
    opts.onBlock?.(bi + 1, blocks);
  }
  let rowsInvolved = 0;
  for (const v of involved) rowsInvolved += v;
  return { pairs, rows_involved: rowsInvolved, threshold, examples };
}
