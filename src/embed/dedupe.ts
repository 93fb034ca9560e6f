/**
 * Fuzzy deduplication over a similarity function, WordLlama's rule: going in order, document j is a duplicate
 * when its similarity to an earlier document that was kept is above `threshold`. Pure, browser-safe.
 */
import type { BinaryCodes, Embeddings } from './types.ts';
import { cosineMatrix, inverseNorms } from './similarity.ts';
import { hammingSimilarity } from './binary.ts';
import { wasmCosineTiles, type CosineTile } from './kernels/index.ts';

export interface DedupeResult {
  kept: number[];
  duplicates: number[];
}

/** Deduplicate rows of an embedding matrix (cosine) or of binary codes (Hamming similarity). */
export function deduplicateRows(x: Embeddings | BinaryCodes, threshold: number, blockRows = 1024): DedupeResult {
  const n = x.rows;
  const isDup = new Uint8Array(n);
  if ('bits' in x || !dedupeByTiles(x, threshold, blockRows, isDup)) dedupeByBlocks(x, threshold, blockRows, isDup);
  return dedupeResult(isDup);
}

/**
 * The cosine rule over the kernel's tiles of x against itself, column block by column block: block [k0, k1)
 * is compared with rows [0, k1) only (the lower triangle), and each tile is scanned against the threshold as
 * it comes, so no block of the matrix is kept. Rows before k0 are final when their tile arrives (earlier
 * column blocks are done); the diagonal block is walked column by column, as the rule needs. False when the
 * kernel cannot run.
 */
function dedupeByTiles(x: Embeddings, threshold: number, blockRows: number, isDup: Uint8Array): boolean {
  const inv = inverseNorms(x);
  const visit = (t: CosineTile) => {
    const { data, ld, i0, k0, cols } = t;
    const offEnd = Math.min(i0 + t.rows, k0);
    for (let i = i0; i < offEnd; i++) {
      if (isDup[i]) continue;
      const o = (i - i0) * ld;
      for (let c = 0; c < cols; c++) if (data[o + c]! > threshold) isDup[k0 + c] = 1;
    }
    if (i0 + t.rows <= k0) return;
    // The diagonal block (the chunking keeps it inside one tile): j in order, against kept rows k0 … j − 1.
    for (let c = 0; c < cols; c++) {
      const j = k0 + c;
      if (isDup[j]) continue;
      for (let i = k0; i < j; i++) {
        if (!isDup[i] && data[(i - i0) * ld + c]! > threshold) {
          isDup[j] = 1;
          break;
        }
      }
    }
  };
  return wasmCosineTiles(x, inv, x, inv, visit, { colBlock: blockRows, rowLimit: (_k0, k1) => k1 });
}

/** The rule over similarity blocks (the JS reference and the binary-code path), marking `isDup`. */
function dedupeByBlocks(x: Embeddings | BinaryCodes, threshold: number, blockRows: number, isDup: Uint8Array): void {
  const n = x.rows;
  const sim = (a0: number, a1: number, b0: number, b1: number) =>
    'bits' in x ? hammingSimilarity(sliceCodes(x, a0, a1), sliceCodes(x, b0, b1)) : cosineMatrix(sliceRows(x, a0, a1), sliceRows(x, b0, b1));
  // Blocks in order: when block J is compared with earlier block I, every row of I already has its final state.
  for (let j0 = 0; j0 < n; j0 += blockRows) {
    const j1 = Math.min(n, j0 + blockRows);
    for (let i0 = 0; i0 <= j0; i0 += blockRows) {
      const i1 = Math.min(n, i0 + blockRows);
      const m = sim(i0, i1, j0, j1);
      if (i0 === j0) {
        // Same block: walk j in order so a row marked duplicate never removes a later one.
        for (let j = j0; j < j1; j++) {
          if (isDup[j]) continue;
          for (let i = i0; i < j; i++) {
            if (!isDup[i] && m.data[(i - i0) * m.cols + (j - j0)]! > threshold) {
              isDup[j] = 1;
              break;
            }
          }
        }
      } else {
        for (let i = i0; i < i1; i++) {
          if (isDup[i]) continue;
          const o = (i - i0) * m.cols;
          for (let j = j0; j < j1; j++) if (!isDup[j] && m.data[o + j - j0]! > threshold) isDup[j] = 1;
        }
      }
    }
  }
}

function sliceRows(e: Embeddings, a: number, b: number): Embeddings {
  return { data: e.data.subarray(a * e.dim, b * e.dim), rows: b - a, dim: e.dim };
}

function sliceCodes(c: BinaryCodes, a: number, b: number): BinaryCodes {
  return { data: c.data.subarray(a * c.words, b * c.words), rows: b - a, bits: c.bits, words: c.words };
}

/**
 * Earlier rows above the threshold, for the columns of one block: what a thread of src/embed/threads.ts
 * computes for column block [k0, k1) without knowing which rows are kept yet (that is only known once every
 * earlier block is decided). For column j = k0 + c, counts[c] rows i < j have a cosine to j above the
 * threshold; the first min(counts[c], cap) of them, ascending, are rows[c·cap …].
 */
export interface DedupeCandidates {
  k0: number;
  k1: number;
  cap: number;
  counts: Int32Array;
  rows: Int32Array;
}

/** Candidates kept per column: enough that a column almost never needs the exact re-scan of `applyCandidates`. */
export const CANDIDATES_PER_COLUMN = 16;

/**
 * The candidates of column block [k0, k1) of x against rows [0, k1), through the kernel's tiles (the same cell
 * values as `deduplicateRows`'s own scan: a cell does not depend on its tile). `inv` is `inverseNorms(x)`.
 * Undefined when the kernel cannot run.
 */
export function dedupeCandidates(
  x: Embeddings,
  inv: Float64Array,
  k0: number,
  k1: number,
  threshold: number,
  cap = CANDIDATES_PER_COLUMN,
): DedupeCandidates | undefined {
  const cols = k1 - k0;
  const counts = new Int32Array(cols);
  const rows = new Int32Array(cols * cap);
  const visit = (t: CosineTile) => {
    const { data, ld, i0 } = t;
    // Rows ascending, so each column's list is ascending too.
    for (let i = i0; i < i0 + t.rows; i++) {
      const o = (i - i0) * ld;
      for (let c = Math.max(0, i - k0 + 1); c < cols; c++) {
        if (data[o + c]! > threshold) {
          const n = counts[c]!++;
          if (n < cap) rows[c * cap + n] = i;
        }
      }
    }
  };
  const ok = wasmCosineTiles(sliceRows(x, 0, k1), inv.subarray(0, k1), sliceRows(x, k0, k1), inv.subarray(k0, k1), visit, { colBlock: cols });
  return ok ? { k0, k1, cap, counts, rows } : undefined;
}

/**
 * Decide the columns of one block from its candidates, in order, once every earlier block is decided:
 * j is a duplicate when one of its candidates is kept (the rule of `deduplicateRows`). A column with more
 * candidates than were kept, all of them duplicates, is re-scanned exactly over the rows after its last listed
 * candidate (the same kernel cells).
 */
export function applyCandidates(x: Embeddings, inv: Float64Array, threshold: number, cand: DedupeCandidates, isDup: Uint8Array): void {
  const { k0, k1, cap, counts, rows } = cand;
  for (let j = k0; j < k1; j++) {
    const c = j - k0;
    const n = counts[c]!;
    const listed = Math.min(n, cap);
    let dup = false;
    for (let r = 0; r < listed && !dup; r++) dup = !isDup[rows[c * cap + r]!];
    if (!dup && n > cap) {
      const from = rows[c * cap + cap - 1]! + 1;
      const visit = (t: CosineTile) => {
        for (let r = 0; r < t.rows && !dup; r++) {
          const i = from + t.i0 + r;
          if (!isDup[i] && t.data[r * t.ld]! > threshold) dup = true;
        }
      };
      wasmCosineTiles(sliceRows(x, from, j), inv.subarray(from, j), sliceRows(x, j, j + 1), inv.subarray(j, j + 1), visit);
    }
    if (dup) isDup[j] = 1;
  }
}

/** Kept and duplicate indices from the duplicate flags. */
export function dedupeResult(isDup: Uint8Array): DedupeResult {
  const kept: number[] = [];
  const duplicates: number[] = [];
  for (let i = 0; i < isDup.length; i++) (isDup[i] ? duplicates : kept).push(i);
  return { kept, duplicates };
}
