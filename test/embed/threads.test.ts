/**
 * Both cores (src/embed/threads.ts): all-pairs cosine and top-k split across real worker threads (the bundled
 * worker.generated.ts, started with eval) give exactly what one thread gives, for inputs above the size where
 * the work is split, from plain and from SharedArrayBuffer-backed rows; bad thread counts are one line.
 */
import { describe, expect, it } from 'vitest';
import { cosineMatrix } from '../../src/embed/similarity.ts';
import { cosineMatrixThreads, MIN_PARALLEL_PAIRS, topkRowsThreads } from '../../src/embed/threads.ts';
import { topkRows } from '../../src/embed/topk.ts';
import type { Embeddings } from '../../src/embed/types.ts';
import { mulberry32 } from '../../src/util/random.ts';

function randomEmbeddings(rows: number, dim: number, seed: number, sharedMemory = false): Embeddings {
  const r = mulberry32(seed);
  const data = new Float32Array(sharedMemory ? new SharedArrayBuffer(rows * dim * 4) : new ArrayBuffer(rows * dim * 4));
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, rows, dim };
}

describe('worker threads', () => {
  it('cosine all-pairs on 1, 2 and 3 threads is the one-thread matrix exactly', async () => {
    const a = randomEmbeddings(1201, 16, 1);
    const b = randomEmbeddings(1001, 16, 2, true);
    expect(a.rows * b.rows).toBeGreaterThan(MIN_PARALLEL_PAIRS);
    const one = cosineMatrix(a, b);
    for (const threads of [1, 2, 3]) {
      const got = await cosineMatrixThreads(a, b, { threads });
      expect([got.rows, got.cols]).toEqual([1201, 1001]);
      let differ = 0;
      for (let i = 0; i < one.data.length; i++) if (!Object.is(got.data[i], one.data[i])) differ++;
      expect(differ).toBe(0);
      expect(got.data.length).toBe(one.data.length);
      expect(got.data.buffer instanceof SharedArrayBuffer).toBe(threads > 1);
    }
  });

  it('top-k over documents split across threads merges to the one-thread top-k exactly', async () => {
    const queries = randomEmbeddings(40, 16, 3);
    const docs = randomEmbeddings(30000, 16, 4);
    // Repeated rows: equal scores on both sides of the split, so the merge's tie rule is exercised.
    docs.data.copyWithin(20000 * 16, 100 * 16, 101 * 16);
    docs.data.copyWithin(29999 * 16, 100 * 16, 101 * 16);
    const one = topkRows(queries, docs, 25);
    for (const threads of [2, 3]) {
      const got = await topkRowsThreads(queries, docs, 25, { threads });
      expect(Array.from(got.indices)).toEqual(Array.from(one.indices));
      expect(Array.from(got.scores)).toEqual(Array.from(one.scores));
    }
  });

  it('rejects a thread count that is not a positive integer', async () => {
    const a = randomEmbeddings(4, 4, 5);
    await expect(cosineMatrixThreads(a, a, { threads: 0 })).rejects.toThrow('threads must be a positive integer, got 0');
    await expect(topkRowsThreads(a, a, 1, { threads: 1.5 })).rejects.toThrow('threads must be a positive integer, got 1.5');
  });
});
