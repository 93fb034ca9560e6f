/**
 * Corpus-scale top-k (src/embed/topk.ts) against full rankings of the same scores: exact top-k over document
 * blocks equals the first k of a sort of the whole similarity matrix (score descending, ties by lower index),
 * through the kernels and through the JS references; the binary first pass with every document as a candidate
 * equals the exact search, and with fewer it returns the true cosines of its candidates in order. The model's
 * `rank(..., { candidates })` on a generated Llama-2 model.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { binarize, hammingSimilarity } from '../../src/embed/binary.ts';
import { disableKernels } from '../../src/embed/kernels/index.ts';
import { load, type StaticModel } from '../../src/embed/node.ts';
import { cosineMatrix, cosineMatrixJs } from '../../src/embed/similarity.ts';
import { searchRows, topkCodes, topkRows, type TopK } from '../../src/embed/topk.ts';
import type { Embeddings, SimilarityMatrix } from '../../src/embed/types.ts';
import { UserError } from '../../src/util/errors.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { makeModel, TOKENIZERS } from '../helpers/embed-model.ts';

function randomEmbeddings(rows: number, dim: number, seed: number): Embeddings {
  const r = mulberry32(seed);
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, rows, dim };
}

/** Docs with exact repeats (equal scores) so the tie rule is exercised. */
function docsWithRepeats(rows: number, dim: number, seed: number): Embeddings {
  const e = randomEmbeddings(rows, dim, seed);
  for (let i = 7; i < rows; i += 7) e.data.copyWithin(i * dim, (i - 5) * dim, (i - 4) * dim);
  return e;
}

/** The first k of a full sort of row q of m: [index, score] pairs. */
function fullOrder(m: SimilarityMatrix, q: number, k: number): [number, number][] {
  const row = Array.from(m.data.subarray(q * m.cols, (q + 1) * m.cols), (s, i) => [i, s] as [number, number]);
  row.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  return row.slice(0, k);
}

function rowsOf(t: TopK, q: number): [number, number][] {
  return Array.from(t.indices.subarray(q * t.k, (q + 1) * t.k), (i, r) => [i, t.scores[q * t.k + r]!] as [number, number]);
}

afterEach(() => disableKernels(false));

describe('topkRows / topkCodes', () => {
  it('equal the first k of a full ranking, across block sizes, kernels on and off', () => {
    const queries = randomEmbeddings(9, 32, 1);
    const docs = docsWithRepeats(1000, 32, 2);
    for (const off of [false, true]) {
      disableKernels(off);
      const full = off ? cosineMatrixJs(queries, docs) : cosineMatrix(queries, docs);
      for (const [k, blockRows] of [
        [1, 1000],
        [10, 64],
        [25, 7],
        [1000, 333],
      ] as const) {
        const t = topkRows(queries, docs, k, { blockRows });
        expect([t.rows, t.k]).toEqual([9, k]);
        for (let q = 0; q < 9; q++) expect(rowsOf(t, q)).toEqual(fullOrder(full, q, k));
      }
    }
  });

  it('Hamming top-k breaks the many ties by the lower index', () => {
    const queries = binarize(randomEmbeddings(5, 64, 3));
    const docs = binarize(randomEmbeddings(700, 64, 4));
    const full = hammingSimilarity(queries, docs);
    const t = topkCodes(queries, docs, 40, { blockRows: 50 });
    for (let q = 0; q < 5; q++) expect(rowsOf(t, q)).toEqual(fullOrder(full, q, 40));
  });

  it('rejects k outside 1..docs and a bad block size with one line', () => {
    const e = randomEmbeddings(3, 8, 5);
    expect(() => topkRows(e, e, 4)).toThrow(new UserError('topk: k = 4 is larger than the number of docs (3)'));
    expect(() => topkRows(e, e, 0)).toThrow(UserError);
    expect(() => topkRows(e, e, 1, { blockRows: 0 })).toThrow('topk: blockRows must be a positive integer, got 0');
    expect(() => topkRows(e, randomEmbeddings(3, 4, 6), 1)).toThrow('topk: dims differ (queries 8 vs docs 4)');
  });
});

describe('searchRows (binary first pass, dense re-rank)', () => {
  const queries = randomEmbeddings(6, 64, 7);
  const docs = docsWithRepeats(900, 64, 8);

  it('with every doc a candidate is the exact search', () => {
    const exact = topkRows(queries, docs, 12);
    const got = searchRows(queries, docs, 12, { candidates: docs.rows, blockRows: 100 });
    expect(Array.from(got.indices)).toEqual(Array.from(exact.indices));
    expect(Array.from(got.scores)).toEqual(Array.from(exact.scores));
  });

  it('with fewer, returns the true cosines of the Hamming candidates, best first', () => {
    const codes = binarize(docs);
    const first = topkCodes(binarize(queries), codes, 50);
    const got = searchRows(queries, docs, 10, { candidates: 50, codes });
    const cos = cosineMatrix(queries, docs);
    for (let q = 0; q < queries.rows; q++) {
      const pool = new Set(first.indices.subarray(q * 50, (q + 1) * 50));
      const expected = fullOrder(cos, q, docs.rows)
        .filter(([i]) => pool.has(i))
        .slice(0, 10);
      expect(rowsOf(got, q)).toEqual(expected);
    }
    expect(() => searchRows(queries, docs, 10, { candidates: 5 })).toThrow('topk: candidates must be an integer ≥ k (10), got 5');
  });
});

describe('model.rank / topk with candidates (generated Llama-2 model)', () => {
  let m: StaticModel;
  let dir: string;
  beforeAll(async () => {
    const g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 32, padToken: '</s>' });
    dir = g.dir;
    m = load(g.dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const docs = ['the cat sat on the mat', 'a dog barked at night', 'stock markets fell sharply', 'the cat sat on a mat', 'rain is expected tomorrow'];

  it('all docs as candidates give the exact ranking; fewer give that many, sorted', () => {
    const q = 'a cat on a mat';
    const exact = m.rank(q, docs);
    const all = m.rank(q, docs, { candidates: docs.length });
    expect(all.map((r) => r.index)).toEqual(exact.map((r) => r.index));
    all.forEach((r, i) => expect(r.score).toBeCloseTo(exact[i]!.score, 6));
    const three = m.rank(q, docs, { candidates: 3 });
    expect(three.length).toBe(3);
    expect(three.map((r) => r.score)).toEqual([...three.map((r) => r.score)].sort((x, y) => y - x));
    expect(m.topk(q, docs, 2, { candidates: docs.length })).toEqual(exact.slice(0, 2).map((r) => r.doc));
    expect(() => m.rank(q, docs, { candidates: 0 })).toThrow('rank: candidates must be a positive integer, got 0');
  });
});
