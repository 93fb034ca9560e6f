/** One streaming pass over several matrices at once: the mean L2 row norm of each (over its first `rows`). */
import type { RowMatrix } from '../matrix/row-matrix.ts';

export async function meanRowNorms(matrices: RowMatrix[], rows: number, blockRows = 4096, onBlock?: (rowsDone: number) => void): Promise<number[]> {
  const sums = matrices.map(() => 0);
  const buffers = matrices.map((m) => new Float32Array(Math.min(blockRows, rows) * m.dim));
  for (let start = 0; start < rows; start += blockRows) {
    const count = Math.min(blockRows, rows - start);
    for (let i = 0; i < matrices.length; i++) {
      const m = matrices[i]!;
      const block = await m.readRows(start, count, buffers[i]);
      const d = m.dim;
      let s = 0;
      for (let r = 0; r < count; r++) {
        let sq = 0;
        for (let c = r * d, end = c + d; c < end; c++) sq += block[c]! * block[c]!;
        s += Math.sqrt(sq);
      }
      sums[i]! += s;
    }
    onBlock?.(start + count);
  }
  return sums.map((s) => s / rows);
}

/**
 * Scales for the sources: a fixed number as configured, 1 when unset, and for `mean_norm` sources the
 * factor that brings their mean row norm to the average of all sources' raw mean row norms (so a config
 * where every source says mean_norm ends with equal norms and the overall magnitude kept).
 */
export function chooseScales(config: (number | 'mean_norm' | undefined)[], norms: number[]): number[] {
  const target = norms.reduce((a, b) => a + b, 0) / norms.length;
  return config.map((c, i) => {
    if (c === undefined) return 1;
    if (c === 'mean_norm') return norms[i]! > 0 ? target / norms[i]! : 1;
    return c;
  });
}
