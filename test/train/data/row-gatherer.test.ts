/** Row gathering for training (src/train/data/row-gatherer.ts, prefetch.ts): run grouping; every holding and the prefetch worker return the same rows exactly. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensorsMatrix } from '../../../src/matrix/row-matrix.ts';
import { writeSafetensors } from '../../../src/safetensors/writer.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../../src/safetensors/dtype.ts';
import { createRowGatherer, runEnd } from '../../../src/train/data/row-gatherer.ts';

function runs(ids: number[], gap: number, maxRun?: number): number[][] {
  const a = Int32Array.from(ids);
  const out: number[][] = [];
  for (let i = 0; i < a.length;) {
    const j = runEnd(a, i, gap, maxRun);
    out.push(ids.slice(i, j));
    i = j;
  }
  return out;
}

describe('runEnd', () => {
  it('groups sorted ids into runs by gap and bounded length', () => {
    expect(runs([], 3)).toEqual([]);
    expect(runs([7], 3)).toEqual([[7]]);
    expect(runs([0, 1, 4, 8, 9, 20], 3)).toEqual([[0, 1, 4], [8, 9], [20]]);
    expect(runs([0, 1, 4, 8, 9, 20], 8)).toEqual([[0, 1, 4, 8, 9], [20]]);
    // A run stays under maxRun rows of its first id.
    expect(runs([0, 2, 4, 6, 8], 8, 5)).toEqual([
      [0, 2, 4],
      [6, 8],
    ]);
    expect(runs([0, 1, 2, 3], 1, 4)).toEqual([[0, 1, 2, 3]]);
  });
});

describe('createRowGatherer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gather-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const rows = 9000;
  const dim = 6;
  // Singles, runs with small and large gaps, a run longer than 4096 rows, the last row.
  const idList = new Set<number>([0, 1, 2, 5, 9, 13, 14, 40, 100, 108, 117, rows - 1]);
  for (let r = 200; r < 4600; r += 2) idList.add(r);
  const ids = Int32Array.from([...idList].sort((a, b) => a - b));
  const other = Int32Array.from([3, 4, 50, 51, 52, 8000]);

  /** A rows × dim matrix of `dtype` and the values it holds (f16-rounded for F16). */
  async function matrixFile(dtype: 'F32' | 'F16'): Promise<{ path: string; values: Float32Array }> {
    const data = new Float32Array(rows * dim);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 10;
    const path = join(dir, `m-${dtype}.safetensors`);
    await writeSafetensors(path, [{ name: 'embedding', dtype, shape: [rows, dim], data }]);
    return { path, values: dtype === 'F16' ? data.map((x) => f16BitsToF32(f32ToF16Bits(x))) : data };
  }
  const rowsOf = (values: Float32Array, want: Int32Array): Float32Array => {
    const out = new Float32Array(want.length * dim);
    want.forEach((r, k) => out.set(values.subarray(r * dim, (r + 1) * dim), k * dim));
    return out;
  };

  for (const dtype of ['F32', 'F16'] as const) {
    it(`${dtype}: f32, raw, sync-file and RowMatrix holdings return the same rows, with and without prefetch`, async () => {
      const { path, values } = await matrixFile(dtype);
      const expected = rowsOf(values, ids);
      const file = { path, tensor: 'embedding' };
      const m = await openSafetensorsMatrix(path, 'embedding');
      try {
        // 0.1 MB: below the 0.216 MB the matrix takes as f32, so only the f32 holding is refused.
        const gatherers = [
          await createRowGatherer(m, { memoryCacheMb: 1 }),
          await createRowGatherer(m, { memoryCacheMb: 0.1, syncFile: file, rawBudgetBytes: 1e9 }),
          await createRowGatherer(m, { memoryCacheMb: 0, syncFile: file, rawBudgetBytes: 1e9 }),
          await createRowGatherer(m, { memoryCacheMb: 0.1, syncFile: file, rawBudgetBytes: 0 }),
          await createRowGatherer(m, { memoryCacheMb: 0 }),
        ];
        // memory_cache_mb = 0 holds nothing in memory, whatever the raw budget.
        expect(gatherers.map((g) => g.holding)).toEqual(['f32', 'raw', 'disk', 'disk', 'disk']);
        expect(gatherers.map((g) => g.resident)).toEqual([true, false, false, false, false]);
        for (const g of gatherers) {
          expect(await g.gather(ids)).toEqual(expected);
          const out = new Float32Array(ids.length * dim).fill(NaN);
          expect(await g.gather(ids, out)).toBe(out);
          expect(out).toEqual(expected);
          expect(g.prefetch(ids)).toBe(false); // no prefetch asked for
          // Only held f16 bytes are offered for pooling in place: the whole matrix's bits, in shared memory.
          const bits = g.heldF16();
          expect(bits !== undefined).toBe(dtype === 'F16' && g.holding === 'raw');
          if (bits) {
            expect(bits.buffer).toBeInstanceOf(SharedArrayBuffer);
            expect(bits.length).toBe(rows * dim);
            expect(Float32Array.from(bits, (h) => f16BitsToF32(h))).toEqual(values);
          }
          await g.close();
        }
      } finally {
        await m.close();
      }
    });

    it(`${dtype}: the prefetching gatherer returns exactly the plain gatherer's rows, in buffers that alternate`, async () => {
      const { path, values } = await matrixFile(dtype);
      const file = { path, tensor: 'embedding' };
      const m = await openSafetensorsMatrix(path, 'embedding');
      const plain = await createRowGatherer(m, { memoryCacheMb: 0, syncFile: file });
      try {
        // Rows held in memory are not prefetched (their gather is CPU-bound: a third thread would slow the step).
        const held = await createRowGatherer(m, { memoryCacheMb: 0.1, syncFile: file, rawBudgetBytes: 1e9, prefetch: true });
        expect([held.holding, held.prefetch(ids), held.prefetched(ids)]).toEqual(['raw', false, false]);
        expect(await held.gather(ids)).toEqual(rowsOf(values, ids));
        await held.close();
        {
          const g = await createRowGatherer(m, { memoryCacheMb: 0.1, syncFile: file, rawBudgetBytes: 0, prefetch: true });
          expect(g.holding).toBe('disk');
          const want = await plain.gather(ids);
          expect(want).toEqual(rowsOf(values, ids));
          expect(g.prefetched(ids)).toBe(false);
          expect(g.prefetch(ids)).toBe(true);
          expect(g.prefetched(ids)).toBe(true);
          expect(g.prefetched(other)).toBe(false);
          const out = new Float32Array(ids.length * dim).fill(NaN);
          const first = await g.gather(ids, out);
          // The prefetched rows come in the worker's shared buffer, not in `out`, bit for bit the plain gather's.
          expect(first).not.toBe(out);
          expect(first.buffer).toBeInstanceOf(SharedArrayBuffer);
          expect(first).toEqual(want);
          // A pending prefetch of other ids is not used for these: the plain path fills `out`.
          g.prefetch(other);
          expect(await g.gather(ids, out)).toBe(out);
          expect(out).toEqual(want);
          // ...and is taken by a gather of its own ids, into the other buffer: the first one is untouched.
          const second = await g.gather(other);
          expect(second.buffer).not.toBe(first.buffer);
          expect(second).toEqual(await plain.gather(other));
          expect(first).toEqual(want);
          // Without a prefetch, gathers run on this thread.
          expect(await g.gather(other)).toEqual(second);
          await g.close();
        }
      } finally {
        await plain.close();
        await m.close();
      }
    });
  }
});
