/**
 * What training bought, on the eval tasks: the same task files and scoring as `pipeline eval` (runTask) on
 * mean-pooled raw rows, the raw means projected onto the top k principal axes of the token rows (PCA), the raw
 * means through a seeded random orthonormal projection, and the trained model when there is one. The PCA axes
 * come from the centred Gram the spectrum already accumulated; both projections keep Matryoshka prefixes (the
 * first k of the widest), so one projection serves every k.
 */
import type { SentenceEncoder } from '../eval/encoder.ts';
import { openModelEncoder } from '../eval/encoders/model.ts';
import { rowMeanEncoder } from '../eval/encoders/row-mean.ts';
import { MAIN_METRIC } from '../eval/results.ts';
import { runTask } from '../eval/run-task.ts';
import type { TaskData, TaskSpec } from '../eval/tasks/types.ts';
import type { RowMatrix } from '../matrix/row-matrix.ts';
import type { TextTokenizer } from '../tokenize/tokenizer.ts';
import { symmetricEigen } from '../util/eigen.ts';
import type { InspectEvalRow } from './inspect.ts';
import { randomOrthonormal } from './projection-baselines.ts';

export interface EvalTask {
  spec: TaskSpec;
  data: TaskData;
}

/** `base`'s sentence vectors (d wide) mapped to `k` columns by the k × d row-major `axes` after subtracting `centre`. */
function projected(base: SentenceEncoder, name: string, axes: Float64Array, k: number, centre: Float64Array | undefined, dims: number[]): SentenceEncoder {
  const d = base.dim;
  return {
    name,
    dim: k,
    dims,
    async embed(texts) {
      const e = await base.embed(texts);
      const out = new Float32Array(e.rows * k);
      const v = new Float64Array(d);
      for (let r = 0; r < e.rows; r++) {
        let zero = true;
        for (let j = 0; j < d; j++) {
          v[j] = e.data[r * d + j]!;
          if (v[j] !== 0) zero = false;
        }
        if (zero) continue; // a text with no token stays a zero vector, as in the raw encoder
        if (centre) for (let j = 0; j < d; j++) v[j] = v[j]! - centre[j]!;
        for (let c = 0; c < k; c++) {
          let s = 0;
          const a = c * d;
          for (let j = 0; j < d; j++) s += axes[a + j]! * v[j]!;
          out[r * k + c] = s;
        }
      }
      return { data: out, rows: e.rows, dim: k };
    },
  };
}

/**
 * Main-metric scores (dense) of every baseline at every k in `dims` (≤ the width), plus the trained model at
 * its own widths. `centred` is the centred Gram of `m`, `mean` its column means.
 */
export async function baselinesEval(
  m: RowMatrix,
  tok: TextTokenizer,
  centred: Float64Array,
  mean: Float64Array,
  dims: number[],
  tasks: EvalTask[],
  opts: { trainedModel?: string; seed?: number } = {},
): Promise<InspectEvalRow[]> {
  const d = m.dim;
  const ks = [...new Set(dims.filter((k) => k >= 1 && k <= d))].sort((a, b) => b - a);
  const widest = ks[0] ?? d;
  // rowMeanEncoder's close() would close the caller's matrix: this wrapper leaves it open
  const open: RowMatrix = { rows: m.rows, dim: m.dim, label: m.label, readRows: (s, c, o) => m.readRows(s, c, o), close: async () => {} };
  const raw = rowMeanEncoder({ name: 'raw rows', matrix: open, tokenizer: tok, dims: ks });
  const eig = symmetricEigen(centred, d);
  const pcaAxes = new Float64Array(widest * d);
  for (let c = 0; c < widest; c++) for (let j = 0; j < d; j++) pcaAxes[c * d + j] = eig.vectors[j * d + c]!;
  const encoders: SentenceEncoder[] = [
    raw,
    projected(raw, 'PCA', pcaAxes, widest, mean, ks),
    projected(raw, 'random projection', randomOrthonormal(d, widest, opts.seed ?? 1), widest, undefined, ks),
  ];
  let trained: SentenceEncoder | undefined;
  if (opts.trainedModel) {
    trained = (await openModelEncoder(opts.trainedModel, 'trained model')).encoder;
    encoders.push(trained);
  }
  const rows: InspectEvalRow[] = [];
  try {
    for (const e of encoders) {
      for (const t of tasks) {
        const rs = await runTask(e, { name: t.spec.name, file: t.spec.files.join(','), data: t.data }, { dims: e === raw ? [d] : e.dims, modes: ['dense'] });
        for (const r of rs.filter((x) => x.main || x.metric === MAIN_METRIC[x.kind]))
          rows.push({ model: e.name, dim: r.dim, kind: r.kind, task: r.task, metric: r.metric, score: Number.isFinite(r.score) ? r.score : null });
      }
    }
  } finally {
    await trained?.close?.();
  }
  return rows;
}
