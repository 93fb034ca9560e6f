/** Row gathering for training (src/train/data/row-gatherer.ts): run grouping, and the three read paths agree exactly. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensorsMatrix } from '../../../src/matrix/row-matrix.ts';
import { writeSafetensors } from '../../../src/safetensors/writer.ts';
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

  it('resident, sync-file and RowMatrix paths return the same rows', async () => {
    const rows = 9000;
    const dim = 6;
    const data = new Float32Array(rows * dim);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 10;
    const path = join(dir, 'm.safetensors');
    await writeSafetensors(path, [{ name: 'embedding', dtype: 'F32', shape: [rows, dim], data }]);
    // Singles, runs with small and large gaps, a run longer than 4096 rows, the last row.
    const idList = new Set<number>([0, 1, 2, 5, 9, 13, 14, 40, 100, 108, 117, rows - 1]);
    for (let r = 200; r < 4600; r += 2) idList.add(r);
    const ids = Int32Array.from([...idList].sort((a, b) => a - b));
    const expected = new Float32Array(ids.length * dim);
    ids.forEach((r, k) => expected.set(data.subarray(r * dim, (r + 1) * dim), k * dim));

    const m = await openSafetensorsMatrix(path, 'embedding');
    try {
      const gatherers = [await createRowGatherer(m, 1), await createRowGatherer(m, 0, { path, tensor: 'embedding' }), await createRowGatherer(m, 0)];
      expect(gatherers.map((g) => g.resident)).toEqual([true, false, false]);
      for (const g of gatherers) {
        expect(await g.gather(ids)).toEqual(expected);
        const out = new Float32Array(ids.length * dim).fill(NaN);
        expect(await g.gather(ids, out)).toBe(out);
        expect(out).toEqual(expected);
        g.close();
      }
    } finally {
      await m.close();
    }
  });
});
