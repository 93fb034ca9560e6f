/**
 * Distillation targets: teacher sentence vectors (src/train/distill/teacher.ts, USE-lite's full encoder) for the texts
 * of some records, turned per batch into the teacher's in-batch cosine matrix the student is fit to
 * (loss.ts `similarityDistillation`). Records without teacher vectors are masked out of that term.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { TokenizedRecord } from '../../data/types.ts';
import type { BatchTeacher } from '../step/gradients.ts';

export interface TeacherTargets {
  dim: number;
  /** Unit-normalised teacher vectors, [count, dim]. */
  vectors: Float32Array;
  /** Per record: row of its anchor / positive / negative in `vectors`, or −1. */
  anchor: Int32Array;
  positive: Int32Array;
  negative: Int32Array;
  kind: 'mse' | 'cosine';
  weight: number;
  mnrlWeight: number;
  /** GISTEmbed guidance margin; undefined = the teacher does not pick negatives. */
  guideMargin?: number;
}

/** Rows normalised to unit length in place (zero rows stay zero). */
export function normaliseRows(v: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < v.length / dim; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += v[r * dim + j]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) v[r * dim + j]! *= inv;
  }
  return v;
}

/**
 * The batch's teacher matrix in the loss's candidate order (positives, then the negatives present), or
 * undefined when no record of the batch has teacher vectors.
 */
export async function batchTeacher(
  tf: typeof tfTypes,
  args: { targets: TeacherTargets; idx: ArrayLike<number>; records: readonly TokenizedRecord[]; hardNegatives: boolean },
): Promise<BatchTeacher | undefined> {
  const { targets: t, idx, records, hardNegatives } = args;
  const n = idx.length;
  const aRows: number[] = [];
  const cRows: number[] = [];
  for (let i = 0; i < n; i++) aRows.push(t.anchor[idx[i]!]!);
  for (let i = 0; i < n; i++) cRows.push(t.positive[idx[i]!]!);
  if (hardNegatives) {
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      if (r.negative && r.negative.length > 0) cRows.push(t.negative[idx[i]!]!);
    }
  }
  if (aRows.every((r) => r < 0)) return undefined;
  const C = cRows.length;
  const pick = (rows: number[]) => {
    const m = new Float32Array(rows.length * t.dim);
    rows.forEach((r, i) => r >= 0 && m.set(t.vectors.subarray(r * t.dim, (r + 1) * t.dim), i * t.dim));
    return m;
  };
  const simT = tf.tidy(() => tf.matMul(tf.tensor2d(pick(aRows), [n, t.dim]), tf.transpose(tf.tensor2d(pick(cRows), [C, t.dim]))));
  const sim = (await simT.data()) as Float32Array;
  simT.dispose();
  const mask = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    if (aRows[i]! < 0) continue;
    for (let j = 0; j < C; j++) if (cRows[j]! >= 0) mask[i * C + j] = 1;
  }
  return { sim, mask, kind: t.kind, weight: t.weight, mnrlWeight: t.mnrlWeight, guideMargin: t.guideMargin };
}
