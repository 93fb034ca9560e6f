/**
 * Both cores for deduplicate and k-means (src/embed/threads.ts): on real sentences embedded by a real model (a
 * seeded 32000 × 48 f16 matrix with the Llama-2 tokenizer), the threaded scan keeps exactly the rows one thread
 * keeps, and threaded k-means gives bit for bit the labels, inertia and centers of one thread, for 1, 2 and 3
 * threads, through the real worker threads (the bundled worker.generated.ts). The model-level functions of
 * the Node entry equal the model's own methods. Real sentences from ../shared/data/train when present (each
 * pair's two sentences, so near-duplicates abound), else a built-in sample varied by index.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clusterThreads, deduplicateRowsThreads, deduplicateThreads, kmeansThreads, load } from '../../src/embed/node.ts';
import { dedupeCandidates, deduplicateRows } from '../../src/embed/dedupe.ts';
import { kmeans } from '../../src/embed/kmeans.ts';
import { inverseNorms } from '../../src/embed/similarity.ts';
import type { Embeddings } from '../../src/embed/types.ts';
import { makeModel, TOKENIZERS } from '../helpers/embed-model.ts';
import { sharedPath } from '../helpers/shared.ts';

const SAMPLE = [
  'Two women are embracing while holding to go packages.',
  'A man selling donuts to a customer during a world exhibition event held in the city of Angeles',
  'Two women hug while holding packages to go.',
  'A man sells donuts to a customer at a world exhibition in Angeles',
  'numbers 3.14159 and 2,718 and 1e-9',
];

function sentences(n: number): string[] {
  const file = sharedPath('data', 'train', 'snli_devtest_dev-pairs.jsonl');
  const out: string[] = [];
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      for (const v of Object.values(JSON.parse(line) as Record<string, unknown>)) if (typeof v === 'string') out.push(v);
      if (out.length >= n) break;
    }
  }
  for (let i = out.length; i < n; i++) out.push(`${SAMPLE[i % SAMPLE.length]} ${i % 97}`);
  return out.slice(0, n);
}

describe('deduplicate and k-means on worker threads', async () => {
  const gen = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 48, padToken: '</s>' });
  const model = load(gen.dir);
  const texts = sentences(3000);
  // Exact repeats too, spread over the blocks.
  for (let i = 0; i < 200; i++) texts[(i * 7919) % texts.length] = texts[(i * 104729) % 500]!;
  const x = model.embed(texts, { norm: true });

  it('the threaded scan keeps exactly what one thread keeps (1, 2, 3 threads; thresholds 0.95, 0.9, 0.6)', async () => {
    for (const threshold of [0.95, 0.9, 0.6]) {
      const one = deduplicateRows(x, threshold);
      expect(one.duplicates.length, `threshold ${threshold}`).toBeGreaterThan(150);
      expect(one.kept.length).toBeGreaterThan(100);
      for (const threads of [1, 2, 3]) {
        for (const cap of [16, 2]) {
          const got = await deduplicateRowsThreads(x, threshold, { threads, minPairs: 0, cap });
          expect(got.kept, `threshold ${threshold}, ${threads} threads, cap ${cap}`).toEqual(one.kept);
          expect(got.duplicates).toEqual(one.duplicates);
        }
      }
    }
    // At 0.6 some columns have more earlier rows above the threshold than the lists keep: the exact re-scan ran.
    const inv = inverseNorms(x);
    const c = dedupeCandidates(x, inv, 2560, 3000, 0.6, 2)!;
    expect(Math.max(...c.counts)).toBeGreaterThan(2);
  });

  it('re-scans a column whose listed candidates are all duplicates and finds the kept row after them', async () => {
    // Unit vectors at angles: p 0°, nine copies of q 20°, r 40°, s 60°; threshold cos 25°. Every q is a
    // duplicate of p; r's candidates are the nine q's (all duplicates: r is kept); s's only candidate is r.
    const angles = [0, ...Array<number>(9).fill(20), 40, 60];
    const data = new Float32Array(angles.length * 4);
    angles.forEach((deg, i) => {
      data[i * 4] = Math.cos((deg * Math.PI) / 180);
      data[i * 4 + 1] = Math.sin((deg * Math.PI) / 180);
    });
    const e: Embeddings = { data, rows: angles.length, dim: 4 };
    const threshold = Math.cos((25 * Math.PI) / 180);
    const expected = { kept: [0, 10], duplicates: [1, 2, 3, 4, 5, 6, 7, 8, 9, 11] };
    expect(deduplicateRows(e, threshold)).toEqual(expected);
    for (const cap of [8, 1]) expect(await deduplicateRowsThreads(e, threshold, { threads: 2, minPairs: 0, cap })).toEqual(expected);
  });

  it('k-means on 1, 2 and 3 threads gives the one-thread labels, inertia and centers bit for bit', async () => {
    const one = kmeans(x, 7, { seed: 5, nInit: 2 });
    for (const threads of [1, 2, 3]) {
      const got = await kmeansThreads(x, 7, { seed: 5, nInit: 2, threads, minPairs: 0 });
      expect(got.labels, `${threads} threads`).toEqual(one.labels);
      expect(Object.is(got.inertia, one.inertia)).toBe(true);
      expect(Array.from(got.centers)).toEqual(Array.from(one.centers));
    }
    expect(new Set(one.labels).size).toBe(7);
  });

  it('deduplicateThreads and clusterThreads equal the model methods', async () => {
    const docs = texts.slice(0, 2500);
    expect(await deduplicateThreads(model, docs, { threads: 2 })).toEqual(model.deduplicate(docs));
    expect(await deduplicateThreads(model, docs, { threads: 2, threshold: 0.7, returnIndices: true })).toEqual(
      model.deduplicate(docs, { threshold: 0.7, returnIndices: true }),
    );
    const got = await clusterThreads(model, docs, 5, { threads: 2, seed: 1, nInit: 3 });
    const ref = model.cluster(docs, 5, { seed: 1, nInit: 3 });
    expect(got.labels).toEqual(ref.labels);
    expect(Object.is(got.inertia, ref.inertia)).toBe(true);
  });

  it('refuses a bad k or thread count with one line', async () => {
    await expect(kmeansThreads(x, 0, { threads: 2 })).rejects.toThrow('cluster: k must be a positive integer, got 0');
    await expect(kmeansThreads(x, 3001, { threads: 2 })).rejects.toThrow('cluster: k = 3001 is larger than the number of docs (3000)');
    await expect(deduplicateRowsThreads(x, 0.9, { threads: 0 })).rejects.toThrow('threads must be a positive integer, got 0');
  });
});
