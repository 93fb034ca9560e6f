/**
 * Every utility against a brute-force reference on random data: cosine matrices, Hamming similarity and
 * popcount, rank/topk/filter/key order, deduplicate sets, k-means inertia, semantic split invariants.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binarize,
  cosine,
  cosineMatrix,
  deduplicateRows,
  hammingSimilarity,
  kmeans,
  semanticSplit,
  load,
  type Embeddings,
  type StaticModel,
} from '../../src/embed/node.ts';
import { popcount32 } from '../../src/embed/binary.ts';
import { kmeansPlusPlus } from '../../src/embed/kmeans.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { kmeans as evalKmeans } from '../../src/eval/metrics/kmeans.ts';
import { coalesce, lineRanges, localMinima, quantile, savgolCoefficients, sentenceRanges } from '../../src/embed/split.ts';
import { makeModel, TOKENIZERS } from '../helpers/embed-model.ts';

function randomEmbeddings(rows: number, dim: number, seed: number): Embeddings {
  const r = mulberry32(seed);
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, rows, dim };
}

const rowOf = (e: Embeddings, i: number) => Array.from(e.data.subarray(i * e.dim, (i + 1) * e.dim));
const naiveCos = (a: number[], b: number[]) => {
  let d = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return na && nb ? d / Math.sqrt(na * nb) : 0;
};

describe('similarity math', () => {
  it('cosineMatrix equals pairwise cosine; zero rows give 0, not NaN', () => {
    const a = randomEmbeddings(13, 24, 1);
    const b = randomEmbeddings(7, 24, 2);
    b.data.fill(0, 0, 24);
    const m = cosineMatrix(a, b);
    for (let i = 0; i < 13; i++)
      for (let k = 0; k < 7; k++) {
        expect(m.data[i * 7 + k]!).toBeCloseTo(naiveCos(rowOf(a, i), rowOf(b, k)), 5);
        expect(cosine(rowOf(a, i), rowOf(b, k))).toBeCloseTo(naiveCos(rowOf(a, i), rowOf(b, k)), 10);
      }
    expect(Array.from(m.data.filter((_, idx) => idx % 7 === 0))).toEqual(new Array(13).fill(0));
  });

  it('popcount32 and Hamming similarity match bit-by-bit counting', () => {
    const r = mulberry32(3);
    for (let t = 0; t < 2000; t++) {
      const x = (r() * 2 ** 32) >>> 0;
      let c = 0;
      for (let b = 0; b < 32; b++) c += (x >>> b) & 1;
      expect(popcount32(x)).toBe(c);
    }
    expect(popcount32(0xffffffff)).toBe(32);
    for (const dim of [64, 256, 40]) {
      const a = randomEmbeddings(9, dim, dim);
      const b = randomEmbeddings(5, dim, dim + 1);
      const s = hammingSimilarity(binarize(a), binarize(b));
      for (let i = 0; i < 9; i++)
        for (let k = 0; k < 5; k++) {
          let d = 0;
          for (let j = 0; j < dim; j++) d += a.data[i * dim + j]! > 0 !== b.data[k * dim + j]! > 0 ? 1 : 0;
          expect(s.data[i * 5 + k]!).toBeCloseTo(1 - (2 * d) / dim, 6);
        }
    }
  });
});

describe('deduplicate', () => {
  it('matches the sequential definition (j removed iff similar to an earlier kept doc) across block sizes', () => {
    // Clustered data so that many pairs are above the threshold.
    const base = randomEmbeddings(20, 16, 4);
    const r = mulberry32(5);
    const n = 300;
    const data = new Float32Array(n * 16);
    for (let i = 0; i < n; i++) {
      const c = Math.floor(r() * 20);
      for (let j = 0; j < 16; j++) data[i * 16 + j] = base.data[c * 16 + j]! + (r() - 0.5) * 0.6;
    }
    const x = { data, rows: n, dim: 16 };
    const kept: number[] = [];
    for (let j = 0; j < n; j++) if (!kept.some((i) => naiveCos(rowOf(x, i), rowOf(x, j)) > 0.9)) kept.push(j);
    expect(kept.length).toBeGreaterThan(20);
    expect(kept.length).toBeLessThan(n);
    for (const block of [7, 64, 512]) {
      const res = deduplicateRows(x, 0.9, block);
      expect(res.kept).toEqual(kept);
      expect(res.duplicates.length + res.kept.length).toBe(n);
    }
    // Binary codes: same rule under Hamming similarity.
    const codes = binarize(x);
    const hs = hammingSimilarity(codes, codes);
    const keptB: number[] = [];
    for (let j = 0; j < n; j++) if (!keptB.some((i) => hs.data[i * n + j]! > 0.5)) keptB.push(j);
    expect(deduplicateRows(codes, 0.5, 50).kept).toEqual(keptB);
  });
});

describe('kmeans', () => {
  it('is seeded, labels are nearest centers, inertia is never worse than random assignments', () => {
    const x = randomEmbeddings(200, 8, 6);
    const a = kmeans(x, 5, { seed: 7 });
    const b = kmeans(x, 5, { seed: 7 });
    expect(a.labels).toEqual(b.labels);
    expect(a.inertia).toBe(b.inertia);
    // Inertia equals the sum of squared distances to the returned centers, and each label is the nearest.
    let inertia = 0;
    for (let i = 0; i < 200; i++) {
      const d = [0, 1, 2, 3, 4].map((c) => rowOf(x, i).reduce((s, v, j) => s + (v - a.centers[c * 8 + j]!) ** 2, 0));
      expect(a.labels[i]).toBe(d.indexOf(Math.min(...d)));
      inertia += d[a.labels[i]!]!;
    }
    expect(a.inertia).toBeCloseTo(inertia, 3);
    // Never worse than assigning points at random (with the best centers for that assignment: their means).
    const r = mulberry32(8);
    for (let t = 0; t < 20; t++) {
      const labels = Array.from({ length: 200 }, () => Math.floor(r() * 5));
      let rand = 0;
      for (let c = 0; c < 5; c++) {
        const members = labels.map((l, i) => (l === c ? i : -1)).filter((i) => i >= 0);
        const mean = new Array(8).fill(0);
        for (const i of members) rowOf(x, i).forEach((v, j) => (mean[j] += v / members.length));
        for (const i of members) rand += rowOf(x, i).reduce((s, v, j) => s + (v - mean[j]) ** 2, 0);
      }
      expect(a.inertia).toBeLessThan(rand);
    }
    // Well separated blobs are recovered exactly.
    const blobs = new Float32Array(60 * 2);
    for (let i = 0; i < 60; i++) {
      blobs[i * 2] = (i % 3) * 10 + (r() - 0.5);
      blobs[i * 2 + 1] = r() - 0.5;
    }
    const res = kmeans({ data: blobs, rows: 60, dim: 2 }, 3, { seed: 1 });
    for (let i = 3; i < 60; i++) expect(res.labels[i]).toBe(res.labels[i % 3]);
    expect(new Set(res.labels).size).toBe(3);
  });

  it('k-means++ seeding (shared with the evaluator) is the same in float32 and float64 and picks distinct rows', () => {
    const x = randomEmbeddings(50, 4, 2);
    const c32 = kmeansPlusPlus(x.data, 50, 4, 6, mulberry32(9), new Float32Array(24));
    const c64 = kmeansPlusPlus(x.data, 50, 4, 6, mulberry32(9), new Float64Array(24));
    expect(Array.from(c64)).toEqual(Array.from(c32));
    const rows = Array.from({ length: 6 }, (_, c) => {
      for (let i = 0; i < 50; i++) if (rowOf(x, i).every((v, j) => v === c32[c * 4 + j])) return i;
      return -1;
    });
    expect(rows.every((i) => i >= 0)).toBe(true);
    expect(new Set(rows).size).toBe(6);
    // The evaluator's k-means, which seeds with it: every label is the nearest of its centers.
    const e = evalKmeans(x.data, 50, 4, 6, { seed: 9 });
    for (let i = 0; i < 50; i++) {
      const d = [0, 1, 2, 3, 4, 5].map((c) => rowOf(x, i).reduce((s, v, j) => s + (v - e.centers[c * 4 + j]!) ** 2, 0));
      expect(e.labels[i]).toBe(d.indexOf(Math.min(...d)));
    }
  });

  it('rejects k above the number of points', () => {
    expect(() => kmeans(randomEmbeddings(3, 2, 1), 4)).toThrow(/k = 4 is larger than the number of docs \(3\)/);
  });
});

describe('split helpers', () => {
  it('line/sentence ranges tile the text; coalesce never exceeds its size', () => {
    const text = 'First line.\nSecond line here. It has Two sentences!\r\n\nThird? Yes. no split here.\u2028last';
    const lines = lineRanges(text);
    expect(lines.map(([a, b]) => text.slice(a, b)).join('')).toBe(text);
    expect(text.slice(...lines[1]!)).toBe('Second line here. It has Two sentences!\r\n');
    const sents = sentenceRanges(text, lines[1]!);
    expect(sents.map(([a, b]) => text.slice(a, b))).toEqual(['Second line here. ', 'It has Two sentences!\r\n']);
    const r = mulberry32(9);
    const ranges: [number, number][] = [];
    let p = 0;
    for (let i = 0; i < 100; i++) {
      const l = 1 + Math.floor(r() * 30);
      ranges.push([p, p + l]);
      p += l;
    }
    const merged = coalesce(ranges, 50);
    expect(merged[0]![0]).toBe(0);
    expect(merged[merged.length - 1]![1]).toBe(p);
    for (let i = 0; i < merged.length; i++) {
      if (merged[i]![1] - merged[i]![0] > 50) expect(ranges.some(([a, b]) => a === merged[i]![0] && b === merged[i]![1])).toBe(true);
      if (i > 0) expect(merged[i]![0]).toBe(merged[i - 1]![1]);
    }
  });

  it('Savitzky–Golay coefficients, minima and numpy-style quantile', () => {
    const [c0, c1, c2] = savgolCoefficients(3, 2);
    expect(Array.from(c0!).map((v) => +v.toFixed(12))).toEqual([0, 1, 0]);
    expect(Array.from(c1!).map((v) => +v.toFixed(12))).toEqual([-0.5, 0, 0.5]);
    expect(Array.from(c2!).map((v) => +v.toFixed(12))).toEqual([1, -2, 1]);
    // Zero crossings of the smoothed derivative between 3|4 (nearer 3) and 8|9 (nearer 9).
    const y = Float64Array.from([5, 4, 3, 2, 2.5, 4, 5, 4, 1.5, 1, 4, 5]);
    expect(localMinima(y, 3, 2)).toEqual({ index: [3, 9], value: [2, 1] });
    expect(quantile([1, 2, 3, 4], 0.4)).toBeCloseTo(2.2, 12);
  });
});

describe('model utilities (generated Llama-2 model)', () => {
  let m: StaticModel;
  let dir: string;
  beforeAll(async () => {
    const g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 32, padToken: '</s>' });
    dir = g.dir;
    m = load(g.dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const docs = [
    'the cat sat on the mat',
    'a dog barked at night',
    'stock markets fell sharply',
    'the cat sat on a mat',
    'rain is expected tomorrow',
    'cats like mats',
  ];

  it('rank / topk / filter / key agree with brute-force cosine', () => {
    const q = 'a cat on a mat';
    const e = m.embed([q, ...docs], { norm: true });
    const scores = docs.map((_, i) => naiveCos(rowOf(e, 0), rowOf(e, i + 1)));
    const order = docs.map((d, i) => ({ d, s: scores[i]!, i })).sort((a, b) => b.s - a.s || a.i - b.i);
    const ranked = m.rank(q, docs);
    expect(ranked.map((r) => r.doc)).toEqual(order.map((o) => o.d));
    ranked.forEach((r) => expect(r.score).toBeCloseTo(scores[r.index]!, 5));
    expect(m.rank(q, docs, { sort: false }).map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(m.topk(q, docs, 2)).toEqual(order.slice(0, 2).map((o) => o.d));
    const t = quantile(scores, 0.5);
    expect(m.filter(q, docs, t)).toEqual(docs.filter((_, i) => scores[i]! > t));
    const key = m.key(q);
    expect(key(docs[2]!)).toBeCloseTo(scores[2]!, 5);
    expect([...docs].sort(key.compare)).toEqual(order.map((o) => o.d));
    expect(m.similarity(q, docs[0]!)).toBeCloseTo(scores[0]!, 5);
  });

  it('deduplicate returns kept docs, or the duplicate indices like WordLlama', () => {
    const withDups = [...docs, 'the cat sat on the mat', 'a dog barked at night'];
    expect(m.deduplicate(withDups, { threshold: 0.999 })).toEqual(docs);
    expect(m.deduplicate(withDups, { threshold: 0.999, returnIndices: true })).toEqual([6, 7]);
    expect(m.deduplicate(withDups, { threshold: 1.5 })).toEqual(withDups);
  });

  it('cluster gives k labels and the inertia of the normalised embeddings', () => {
    const res = m.cluster(docs, 3, { seed: 3 });
    expect(res.labels.length).toBe(docs.length);
    expect(new Set(res.labels).size).toBe(3);
    expect(res.inertia).toBeGreaterThan(0);
    expect(res).toEqual(m.cluster(docs, 3, { seed: 3 }));
  });

  it('split: chunks are ≤ targetSize and concatenate to the input, on random texts', () => {
    const r = mulberry32(11);
    const words = ['Alpha', 'beta', 'gamma.', 'Delta', 'epsilon!', 'zeta?', '\n', '\n\n', 'eta', 'theta,', '😀', 'iota', 'x'.repeat(120)];
    for (let t = 0; t < 25; t++) {
      const n = 20 + Math.floor(r() * 600);
      let text = '';
      for (let i = 0; i < n; i++) text += words[Math.floor(r() * words.length)]! + (r() < 0.8 ? ' ' : '');
      for (const targetSize of [40, 97, 200, 1536]) {
        const chunks = m.split(text, { targetSize, intermediateSize: Math.min(96, targetSize - 1), cleanupSize: 24 });
        expect(chunks.join('')).toBe(text);
        for (const c of chunks) expect(c.length).toBeLessThanOrEqual(targetSize);
        expect(chunks.every((c) => c.length > 0)).toBe(true);
      }
    }
    expect(m.split('')).toEqual([]);
    const long = 'No spaces at all '.repeat(2) + 'y'.repeat(5000);
    const chunks = m.split(long, { targetSize: 300 });
    expect(chunks.join('')).toBe(long);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(300);
  });

  it('semanticSplit cuts at a similarity minimum between two topics', () => {
    // Embeddings: 6 pieces of topic A then 6 of topic B (hand-made vectors).
    const pieces = Array.from({ length: 12 }, (_, i) => `piece ${i} ${'.'.repeat(40)}\n`);
    const text = pieces.join('');
    const embed = (ps: string[]) => {
      const data = new Float32Array(ps.length * 2);
      ps.forEach((p, i) => {
        const k = Number(/piece (\d+)/.exec(p)?.[1] ?? 0);
        data[i * 2] = k < 6 ? 1 : 0.2;
        data[i * 2 + 1] = k < 6 ? 0.2 : 1;
        const n = Math.hypot(data[i * 2]!, data[i * 2 + 1]!);
        data[i * 2]! /= n;
        data[i * 2 + 1]! /= n;
      });
      return { data, rows: ps.length, dim: 2 };
    };
    const chunks = semanticSplit(text, embed, { targetSize: 400, intermediateSize: 50, cleanupSize: 10 });
    expect(chunks.join('')).toBe(text);
    expect(chunks.some((c) => c.endsWith(pieces[5]!))).toBe(true);
  });

  it('binary models refuse cluster/split with a clear message', () => {
    const b = load(dir, { binary: true });
    expect(() => b.cluster(docs, 2)).toThrow(/needs dense embeddings/);
    expect(() => b.split('x')).toThrow(/needs dense embeddings/);
  });
});
