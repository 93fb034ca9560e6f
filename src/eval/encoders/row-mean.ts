/**
 * The simplest sentence encoder: mean of the rows of a token matrix on disk for the text's token ids (no
 * special tokens). Evaluates the raw extracted LLM rows (`--raw`) with no projection; rows are read from the
 * file by sorted runs of distinct ids, never the whole matrix.
 */
import type { RowMatrix } from '../../matrix/row-matrix.ts';
import type { TextTokenizer } from '../../tokenize/tokenizer.ts';
import { UserError } from '../../util/errors.ts';
import { defaultDims, type Embeddings, type SentenceEncoder } from '../encoder.ts';

/** Ids closer than this are read in one run (reading a few unused rows beats another syscall). */
const RUN_GAP = 16;

/** Rows of `ids` (distinct, any order) as a map id → offset into the returned buffer. */
async function readRowsById(matrix: RowMatrix, ids: number[]): Promise<{ rows: Float32Array; offset: Map<number, number> }> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const offset = new Map<number, number>();
  const rows = new Float32Array(sorted.length * matrix.dim);
  let i = 0;
  while (i < sorted.length) {
    let j = i + 1;
    while (j < sorted.length && sorted[j]! - sorted[j - 1]! <= RUN_GAP) j++;
    const start = sorted[i]!;
    const block = await matrix.readRows(start, sorted[j - 1]! - start + 1);
    for (let k = i; k < j; k++) {
      const id = sorted[k]!;
      rows.set(block.subarray((id - start) * matrix.dim, (id - start + 1) * matrix.dim), k * matrix.dim);
      offset.set(id, k * matrix.dim);
    }
    i = j;
  }
  return { rows, offset };
}

export interface RowMeanOptions {
  name: string;
  matrix: RowMatrix;
  tokenizer: TextTokenizer;
  dims?: number[];
}

export function rowMeanEncoder({ name, matrix, tokenizer, dims }: RowMeanOptions): SentenceEncoder {
  const dim = matrix.dim;
  return {
    name,
    dim,
    dims: dims ?? defaultDims(dim),
    async embed(texts: string[]): Promise<Embeddings> {
      const encoded = texts.map((t) => tokenizer.encode(t, false));
      const all: number[] = [];
      for (const ids of encoded) {
        for (const id of ids) {
          if (id < 0 || id >= matrix.rows) {
            throw new UserError(
              `${matrix.label}: tokenizer produced id ${id} but the matrix has ${matrix.rows} rows; tokenizer.json does not belong to this matrix`,
            );
          }
          all.push(id);
        }
      }
      const { rows, offset } = await readRowsById(matrix, all);
      const data = new Float32Array(texts.length * dim);
      encoded.forEach((ids, r) => {
        if (ids.length === 0) return; // no tokens: a zero vector, which every metric treats as "no similarity"
        const out = r * dim;
        for (const id of ids) {
          const o = offset.get(id)!;
          for (let j = 0; j < dim; j++) data[out + j]! += rows[o + j]!;
        }
        for (let j = 0; j < dim; j++) data[out + j]! /= ids.length;
      });
      return { data, rows: texts.length, dim };
    },
    close: () => matrix.close(),
  };
}
