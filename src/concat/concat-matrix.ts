/**
 * A RowMatrix over several sources side by side: row r = [s_1·A_1[r], s_2·A_2[r], ...]. Each readRows reads
 * the same row block from every source and interleaves columns, so memory is one block per source.
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { UserError } from '../util/errors.ts';

export interface ConcatPart {
  matrix: RowMatrix;
  scale: number;
}

export class ConcatMatrix implements RowMatrix {
  readonly dim: number;
  private readonly buffers: Float32Array[];

  constructor(
    private readonly parts: ConcatPart[],
    readonly rows: number,
    readonly label: string,
  ) {
    if (parts.length === 0) throw new UserError(`${label}: no sources to concatenate`);
    for (const p of parts) {
      if (p.matrix.rows < rows) throw new UserError(`${p.matrix.label}: ${p.matrix.rows} rows, fewer than the ${rows} of the concatenation`);
    }
    this.dim = parts.reduce((n, p) => n + p.matrix.dim, 0);
    this.buffers = parts.map(() => new Float32Array(0));
  }

  async readRows(start: number, count: number, out?: Float32Array): Promise<Float32Array> {
    if (start < 0 || count < 0 || start + count > this.rows) {
      throw new UserError(`${this.label}: rows ${start}..${start + count} outside ${this.rows} rows`);
    }
    const dim = this.dim;
    const result = out && out.length >= count * dim ? out : new Float32Array(count * dim);
    let offset = 0;
    for (let i = 0; i < this.parts.length; i++) {
      const { matrix, scale } = this.parts[i]!;
      const d = matrix.dim;
      if (this.buffers[i]!.length < count * d) this.buffers[i] = new Float32Array(count * d);
      const block = await matrix.readRows(start, count, this.buffers[i]);
      for (let r = 0; r < count; r++) {
        const src = r * d;
        const dst = r * dim + offset;
        if (scale === 1) result.set(block.subarray(src, src + d), dst);
        else for (let c = 0; c < d; c++) result[dst + c] = block[src + c]! * scale;
      }
      offset += d;
    }
    return result;
  }

  async close(): Promise<void> {
    for (const p of this.parts) await p.matrix.close();
  }
}
