/**
 * Gather the rows of a batch's unique tokens from the input matrix as float32. Small matrices (USE-lite:
 * 8002 × 256 = 8 MB) are copied into memory once; large ones (Gemma-2: 256000 × 2304, or concatenations past
 * 2^31 elements) stay on disk and are read by coalesced row runs, so memory stays bounded by the batch.
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';

export interface RowGatherer {
  readonly rows: number;
  readonly dim: number;
  /** True when the whole matrix is held in memory as f32. */
  readonly resident: boolean;
  /** Rows of `ids` (sorted ascending, unique) into `out` ([ids.length, dim], allocated when absent). */
  gather(ids: Int32Array, out?: Float32Array): Promise<Float32Array>;
}

/** Rows closer than this are read as one run (reading a few unused rows beats another syscall). */
const MAX_GAP_ROWS = 8;
/** Upper bound of one read, in rows. */
const MAX_RUN_ROWS = 4096;

export async function createRowGatherer(matrix: RowMatrix, memoryCacheMb: number): Promise<RowGatherer> {
  const { rows, dim } = matrix;
  const bytes = rows * dim * 4;
  if (bytes <= memoryCacheMb * 1e6) {
    const all = new Float32Array(rows * dim);
    const block = Math.max(1, Math.floor((1 << 24) / dim));
    for (let start = 0; start < rows; start += block) {
      const count = Math.min(block, rows - start);
      all.set(await matrix.readRows(start, count), start * dim);
    }
    return {
      rows,
      dim,
      resident: true,
      async gather(ids, out) {
        const o = out ?? new Float32Array(ids.length * dim);
        for (let i = 0; i < ids.length; i++) {
          const r = ids[i]!;
          o.set(all.subarray(r * dim, (r + 1) * dim), i * dim);
        }
        return o;
      },
    };
  }
  let scratch = new Float32Array(0);
  return {
    rows,
    dim,
    resident: false,
    async gather(ids, out) {
      const o = out ?? new Float32Array(ids.length * dim);
      let i = 0;
      while (i < ids.length) {
        // Extend a run while the next id is near and the run stays bounded.
        let j = i + 1;
        while (j < ids.length && ids[j]! - ids[j - 1]! <= MAX_GAP_ROWS && ids[j]! - ids[i]! < MAX_RUN_ROWS) j++;
        const first = ids[i]!;
        const span = ids[j - 1]! - first + 1;
        if (span === j - i) {
          await matrix.readRows(first, span, o.subarray(i * dim, j * dim));
        } else {
          if (scratch.length < span * dim) scratch = new Float32Array(span * dim);
          const block = await matrix.readRows(first, span, scratch);
          for (let k = i; k < j; k++) {
            const r = ids[k]! - first;
            o.set(block.subarray(r * dim, (r + 1) * dim), k * dim);
          }
        }
        i = j;
      }
      return o;
    },
  };
}
