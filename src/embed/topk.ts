/**
 * Top-k search at corpus scale: the k most similar documents for each query without an n × n (or even a
 * queries × n) matrix in memory. Documents are streamed in blocks; each block's similarities go through the
 * kernels (cosineMatrix / hammingSimilarity, so the JS references where the kernels cannot run) and then a
 * bounded heap per query, so memory is O(queries × (k + block)) beside the inputs. Pure, browser-safe.
 *
 * Order is `rank`'s: score descending, ties by the lower document index, so a top-k equals the first k of a
 * full ranking of the same scores (the kernels compute a pair's score the same way whatever the blocking).
 */
import { UserError } from '../util/errors.ts';
import { binarize, hammingSimilarity } from './binary.ts';
import { wasmCosineTiles, type CosineTile } from './kernels/index.ts';
import { cosineMatrix, inverseNorms } from './similarity.ts';
import type { BinaryCodes, Embeddings, SimilarityMatrix } from './types.ts';

/** The k best documents of every query: row q holds indices[q·k + r] and scores[q·k + r], best first. */
export interface TopK {
  indices: Int32Array;
  scores: Float32Array;
  rows: number;
  k: number;
}

export interface TopKOptions {
  /** Documents per block (default 8192): bounds the similarity block at queries × blockRows floats. */
  blockRows?: number;
}

export interface SearchOptions extends TopKOptions {
  /**
   * Binary first pass: take this many candidates per query by Hamming similarity of sign bits, then re-rank
   * only those by dense cosine (at least k). Omitted: exact dense top-k over every document.
   */
  candidates?: number;
  /** The documents' sign-bit codes (`binarize(docs)`), when the caller keeps them; otherwise built per block. */
  codes?: BinaryCodes;
}

const DEFAULT_BLOCK = 8192;

/**
 * Per-query bounded min-heaps over (score, index): the root is the worst kept document, the lowest score and,
 * among equal scores, the highest index. Documents arrive in increasing index order, so a new one enters a
 * full heap only with a score strictly above the root's.
 */
class Heaps {
  readonly scores: Float32Array;
  readonly indices: Int32Array;
  private readonly size: Int32Array;

  constructor(
    readonly rows: number,
    readonly k: number,
  ) {
    this.scores = new Float32Array(rows * k);
    this.indices = new Int32Array(rows * k);
    this.size = new Int32Array(rows);
  }

  /** Offer row `row` of `m` to query q (documents offset … offset + m.cols − 1). */
  offerRow(m: SimilarityMatrix, q: number, row: number, offset: number): void {
    this.offer(q, m.data, row * m.cols, m.cols, offset);
  }

  /** Offer the scores data[o … o + cols) of documents offset … offset + cols − 1 to query q. */
  offer(q: number, data: Float32Array, o: number, cols: number, offset: number): void {
    const { scores, indices, k } = this;
    const base = q * k;
    let n = this.size[q]!;
    let c = 0;
    for (; c < cols && n < k; c++) {
      // Sift up the new (worse-is-smaller) entry.
      let i = n++;
      const s = data[o + c]!;
      const d = offset + c;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(s, d, scores[base + p]!, indices[base + p]!)) break;
        scores[base + i] = scores[base + p]!;
        indices[base + i] = indices[base + p]!;
        i = p;
      }
      scores[base + i] = s;
      indices[base + i] = d;
    }
    this.size[q] = n;
    let root = scores[base]!;
    for (; c < cols; c++) {
      const s = data[o + c]!;
      if (!(s > root)) continue;
      this.replaceRoot(base, s, offset + c);
      root = scores[base]!;
    }
  }

  private replaceRoot(base: number, s: number, d: number): void {
    const { scores, indices, k } = this;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) break;
      const r = l + 1;
      let w = l;
      if (r < k && worse(scores[base + r]!, indices[base + r]!, scores[base + l]!, indices[base + l]!)) w = r;
      if (!worse(scores[base + w]!, indices[base + w]!, s, d)) break;
      scores[base + i] = scores[base + w]!;
      indices[base + i] = indices[base + w]!;
      i = w;
    }
    scores[base + i] = s;
    indices[base + i] = d;
  }

  /** Every row sorted best first. */
  result(): TopK {
    const { rows, k } = this;
    const scores = new Float32Array(rows * k);
    const indices = new Int32Array(rows * k);
    const order = Array.from({ length: k }, (_, i) => i);
    for (let q = 0; q < rows; q++) {
      const base = q * k;
      order.sort((x, y) => this.scores[base + y]! - this.scores[base + x]! || this.indices[base + x]! - this.indices[base + y]!);
      for (let r = 0; r < k; r++) {
        scores[base + r] = this.scores[base + order[r]!]!;
        indices[base + r] = this.indices[base + order[r]!]!;
      }
    }
    return { indices, scores, rows, k };
  }
}

/** Whether (s, d) ranks below (t, e): a lower score, or the same score and a later document. */
function worse(s: number, d: number, t: number, e: number): boolean {
  return s < t || (s === t && d > e);
}

function checkK(k: number, docs: number): void {
  if (!Number.isInteger(k) || k < 1) throw new UserError(`topk: k must be a positive integer, got ${k}`);
  if (k > docs) throw new UserError(`topk: k = ${k} is larger than the number of docs (${docs})`);
}

function blockRows(opts: TopKOptions): number {
  const b = opts.blockRows ?? DEFAULT_BLOCK;
  if (!Number.isInteger(b) || b < 1) throw new UserError(`topk: blockRows must be a positive integer, got ${b}`);
  return b;
}

/** Exact top-k by cosine of every query row against every document row, documents streamed in blocks. */
export function topkRows(queries: Embeddings, docs: Embeddings, k: number, opts: TopKOptions = {}): TopK {
  if (queries.dim !== docs.dim) throw new UserError(`topk: dims differ (queries ${queries.dim} vs docs ${docs.dim})`);
  checkK(k, docs.rows);
  const block = blockRows(opts);
  const heaps = new Heaps(queries.rows, k);
  // The kernel's tiles go straight into the heaps; where it cannot run, blocks of the JS reference do.
  const visit = (t: CosineTile) => {
    for (let r = 0; r < t.rows; r++) heaps.offer(t.i0 + r, t.data, r * t.ld, t.cols, t.k0);
  };
  if (wasmCosineTiles(queries, inverseNorms(queries), docs, inverseNorms(docs), visit, { colBlock: block })) return heaps.result();
  for (let d0 = 0; d0 < docs.rows; d0 += block) {
    const d1 = Math.min(docs.rows, d0 + block);
    const m = cosineMatrix(queries, { data: docs.data.subarray(d0 * docs.dim, d1 * docs.dim), rows: d1 - d0, dim: docs.dim });
    for (let q = 0; q < queries.rows; q++) heaps.offerRow(m, q, q, d0);
  }
  return heaps.result();
}

/** Top-k by Hamming similarity of sign-bit codes (ties by the lower index), documents streamed in blocks. */
export function topkCodes(queries: BinaryCodes, docs: BinaryCodes, k: number, opts: TopKOptions = {}): TopK {
  checkK(k, docs.rows);
  const block = blockRows(opts);
  const heaps = new Heaps(queries.rows, k);
  for (let d0 = 0; d0 < docs.rows; d0 += block) {
    const d1 = Math.min(docs.rows, d0 + block);
    const slice = { data: docs.data.subarray(d0 * docs.words, d1 * docs.words), rows: d1 - d0, bits: docs.bits, words: docs.words };
    const m = hammingSimilarity(queries, slice);
    for (let q = 0; q < queries.rows; q++) heaps.offerRow(m, q, q, d0);
  }
  return heaps.result();
}

/**
 * Top-k by cosine, exact or (with `candidates`) approximate: the binary first pass picks `candidates` documents
 * per query by Hamming similarity of the sign bits (32× less data than the f32 rows), and the dense cosine
 * re-ranks only those. Recall against exact is measured by scripts/bench-topk.ts.
 */
export function searchRows(queries: Embeddings, docs: Embeddings, k: number, opts: SearchOptions = {}): TopK {
  if (opts.candidates === undefined) return topkRows(queries, docs, k, opts);
  if (queries.dim !== docs.dim) throw new UserError(`topk: dims differ (queries ${queries.dim} vs docs ${docs.dim})`);
  checkK(k, docs.rows);
  const c = opts.candidates;
  if (!Number.isInteger(c) || c < k) throw new UserError(`topk: candidates must be an integer ≥ k (${k}), got ${c}`);
  const pool = Math.min(c, docs.rows);
  const codes = opts.codes ?? binarize(docs);
  if (codes.rows !== docs.rows || codes.bits !== docs.dim) {
    throw new UserError(`topk: codes are ${codes.rows} × ${codes.bits} bits but docs are ${docs.rows} × ${docs.dim}`);
  }
  const first = topkCodes(binarize(queries), codes, pool, opts);
  const dim = docs.dim;
  const gathered = new Float32Array(pool * dim);
  const heaps = new Heaps(queries.rows, k);
  for (let q = 0; q < queries.rows; q++) {
    // Candidates in index order, so the heap's tie rule (lower index first) holds as for the exact search.
    const ids = Int32Array.from(first.indices.subarray(q * pool, (q + 1) * pool)).sort();
    for (let r = 0; r < pool; r++) gathered.set(docs.data.subarray(ids[r]! * dim, (ids[r]! + 1) * dim), r * dim);
    const m = cosineMatrix({ data: queries.data.subarray(q * dim, (q + 1) * dim), rows: 1, dim }, { data: gathered, rows: pool, dim });
    heaps.offerRow(m, q, 0, 0);
    // offer() recorded positions in `ids`; map them back to document indices.
    for (let r = 0; r < k; r++) heaps.indices[q * k + r] = ids[heaps.indices[q * k + r]!]!;
  }
  return heaps.result();
}
