/** A small RowMatrix held in memory (row-major f32), for the inspect tests; also a seeded PRNG. */
import type { RowMatrix } from '../../src/matrix/row-matrix.ts';

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

/** mulberry32: a deterministic uniform [0, 1) stream. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
