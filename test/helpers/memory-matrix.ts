/** A small RowMatrix held in memory (row-major f32), for the inspect tests; also a seeded PRNG. */
import type { RowMatrix } from '../../src/matrix/row-matrix.ts';
import { mulberry32 } from '../../src/util/random.ts';

export function memoryMatrix(data: Float32Array, rows: number, dim: number): RowMatrix {
  if (data.length !== rows * dim) throw new Error(`memoryMatrix: ${data.length} values for ${rows} × ${dim}`);
  return {
    rows,
    dim,
    label: `memory ${rows} × ${dim}`,
    readRows: async (start, count, out) => {
      const src = data.subarray(start * dim, (start + count) * dim);
      if (!out) return Float32Array.from(src);
      out.set(src);
      return out.subarray(0, count * dim);
    },
    close: async () => {},
  };
}

/** The project's seeded uniform [0, 1) stream (mulberry32), under the name the inspect tests use. */
export const seeded = mulberry32;
