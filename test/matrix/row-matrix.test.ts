/**
 * Every stage reads a big matrix through RowMatrix by row blocks: the rows it returns are the file's rows decoded
 * to float32 exactly (f16 and bf16 values chosen to be exact in float32), wherever the block starts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensorsMatrix } from '../../src/matrix/row-matrix.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'row-matrix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROWS = 7;
const DIM = 3;
// small multiples of 1/8: exact in f16, bf16 and f32
const values = Float32Array.from({ length: ROWS * DIM }, (_, i) => (i % 5) / 8 - 0.25 * (i % 3));

describe('openSafetensorsMatrix', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`reads ${dtype} rows exactly, from any start, into a reused buffer`, async () => {
      const path = join(dir, `m-${dtype}.safetensors`);
      await writeSafetensors(path, [{ name: 'embedding', dtype, shape: [ROWS, DIM], data: values }]);
      const m = await openSafetensorsMatrix(path);
      try {
        expect([m.rows, m.dim, m.label]).toEqual([ROWS, DIM, `${path}#embedding`]);
        expect(await m.readRows(0, ROWS)).toEqual(values);
        const out = new Float32Array(2 * DIM);
        const block = await m.readRows(5, 2, out);
        expect(block.buffer).toBe(out.buffer);
        expect(block).toEqual(values.subarray(5 * DIM, 7 * DIM));
      } finally {
        await m.close();
      }
    });
  }

  it('asks which tensor when a file holds several, and refuses one that is not 2-D', async () => {
    const path = join(dir, 'two.safetensors');
    await writeSafetensors(path, [
      { name: 'a', dtype: 'F32', shape: [ROWS, DIM], data: values },
      { name: 'b', dtype: 'F32', shape: [ROWS * DIM], data: values },
    ]);
    await expect(openSafetensorsMatrix(path)).rejects.toThrow(/holds 2 tensors \(a, b\); say which one to read$/);
    await expect(openSafetensorsMatrix(path, 'b')).rejects.toThrow(/tensor "b" has shape \[21\], expected 2-D$/);
    const a = await openSafetensorsMatrix(path, 'a');
    expect(await a.readRows(1, 1)).toEqual(values.subarray(DIM, 2 * DIM));
    await a.close();
  });
});
