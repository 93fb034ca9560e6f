/**
 * One `pipeline inspect` run over an opened matrix: spectrum, row norms and zero rows, rows the tokenizer
 * never reaches, near-duplicate pairs, and the nearest tokens to the asked tokens or texts. The caller opens
 * the matrix (a config's input, a model file, later a hub id) so the way a target is found can be swapped.
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';
import type { TextTokenizer } from '../tokenize/tokenizer.ts';
import { UserError } from '../util/errors.ts';
import { anatomyLines, type Anatomy } from './anatomy.ts';
import { baselinesEval, type EvalTask } from './baselines-eval.ts';
import { nearDuplicates, nearestRows, rowNorms, zeroRowIds, type NearDuplicates } from './neighbours.ts';
import { centredGram, streamGram } from './gram.ts';
import { projectionBaselines, type ProjectionBaseline } from './projection-baselines.ts';
import { spectrumOfGram, type Spectrum } from './spectrum.ts';
import { tokenKinds } from './token-kind.ts';
import { normsByKind, tokenMap, type KindNorms, type TokenMap, type TokenMapOptions } from './token-map.ts';

export interface InspectTarget {
  matrix: RowMatrix;
  tokenizer?: TextTokenizer;
  /** What was asked for (config name or path), for the report. */
  source: string;
}

export interface InspectOptions {
  /** k values for variance explained (Matryoshka dims). */
  dims: number[];
  /** Tokens or texts whose nearest rows to list. */
  neighbours: string[];
  k: number;
  /** Near-duplicate threshold on 1 − cos; undefined skips the all-pairs pass. */
  duplicateThreshold?: number;
  /** Eval tasks for the baselines table (needs a tokenizer); with `trainedModel`, that model joins the table. */
  tasks?: EvalTask[];
  trainedModel?: string;
  /** The token map's sample sizes; false skips the map. */
  map?: TokenMapOptions | false;
  onStep?: (step: string, done: number, total: number) => void;
}

export interface NeighbourQuery {
  query: string;
  /** How the query became a vector: the token's own row, or the mean of its text's token rows. */
  kind: 'token' | 'text';
  ids: number[];
  neighbours: { id: number; token: string | null; score: number }[];
}

/** One score of the baselines eval: a task's main metric for one model (raw rows, PCA, random, trained) and width. */
export interface InspectEvalRow {
  model: string;
  dim: number;
  kind: string;
  task: string;
  metric: string;
  score: number | null;
}

export interface InspectReport {
  source: string;
  matrix: string;
  rows: number;
  dim: number;
  spectrum: Spectrum;
  /** PCA truncation vs seeded random projection, per Matryoshka dim below the width. */
  projection_baselines: ProjectionBaseline[];
  norms: { min: number; max: number; mean: number };
  /** Row-norm quartiles per token kind ('unknown' for every row when there is no tokenizer). */
  norms_by_kind: KindNorms[];
  /** 2-D PCA scatter of a sample of tokens, coloured by kind. */
  map?: TokenMap;
  zero_rows: { count: number; ids: number[] };
  /** Rows with ids no token of the tokenizer has, and special-token rows (text never produces them). */
  unreachable?: { beyond_vocab: number; special: number[] };
  near_duplicates?: NearDuplicates & { examples_tokens: [string | null, string | null][] };
  neighbours: NeighbourQuery[];
  /** Checkpoint facts from the hub's headers (--config of a hub source). */
  anatomy?: Anatomy;
  /** The baselines eval (--task). */
  eval?: InspectEvalRow[];
  /** For a trained model: the same report on the source matrix it was trained from. */
  compared_with?: InspectReport;
}

async function queryVector(t: InspectTarget, q: string): Promise<{ kind: 'token' | 'text'; ids: number[]; v: Float32Array }> {
  const m = t.matrix;
  const tok = t.tokenizer;
  const asId = tok?.tokenToId(q);
  const ids = asId !== undefined ? [asId] : (tok?.encode(q) ?? []).filter((id) => id < m.rows);
  if (ids.length === 0) throw new UserError(`inspect: --neighbours "${q}" gives no token of ${m.label}; pass a token or a text the tokenizer encodes`);
  const v = new Float32Array(m.dim);
  for (const id of ids) {
    const row = await m.readRows(id, 1);
    for (let j = 0; j < m.dim; j++) v[j] = v[j]! + row[j]! / ids.length;
  }
  return { kind: asId !== undefined ? 'token' : 'text', ids, v };
}

export async function inspectMatrix(t: InspectTarget, opts: InspectOptions): Promise<InspectReport> {
  const m = t.matrix;
  const step = opts.onStep ?? (() => {});
  const dims = [...new Set(opts.dims.filter((d) => d >= 1 && d <= m.dim))].sort((a, b) => b - a);
  const gram = await streamGram(m, { onBlock: (done) => step('spectrum', done, m.rows) });
  const sp = spectrumOfGram(gram, dims);
  const baselines = projectionBaselines(
    gram.gram,
    m.dim,
    sp.uncentred.singular_values,
    dims.filter((k) => k < m.dim),
  );
  const norms = await rowNorms(m);
  let min = Infinity;
  let max = 0;
  let sum = 0;
  for (const n of norms) {
    min = Math.min(min, n);
    max = Math.max(max, n);
    sum += n;
  }
  const zero = zeroRowIds(norms);
  const tok = t.tokenizer;
  const kinds = tok ? tokenKinds(tok, m.rows) : undefined;
  const name = (id: number) => tok?.idToToken(id) ?? null;
  const report: InspectReport = {
    source: t.source,
    matrix: m.label,
    rows: m.rows,
    dim: m.dim,
    spectrum: sp,
    projection_baselines: baselines,
    norms: { min: m.rows ? min : 0, max, mean: m.rows ? sum / m.rows : 0 },
    norms_by_kind: normsByKind(norms, kinds),
    zero_rows: { count: zero.length, ids: zero.slice(0, 100) },
    neighbours: [],
  };
  const mean = Float64Array.from(gram.colSums, (s) => (m.rows ? s / m.rows : 0));
  if (opts.map !== false && m.rows > 0) report.map = await tokenMap(m, centredGram(gram), mean, norms, kinds, tok, opts.map);
  if (opts.tasks?.length) {
    if (!tok) throw new UserError(`inspect: --task needs a tokenizer.json beside ${m.label} to embed the task texts`);
    step('eval', 0, 1);
    report.eval = await baselinesEval(m, tok, centredGram(gram), mean, dims, opts.tasks, { trainedModel: opts.trainedModel });
    step('eval', 1, 1);
  }
  if (tok) {
    report.unreachable = {
      beyond_vocab: Math.max(0, m.rows - tok.vocabSize),
      special: [...tok.specialIds].filter((id) => id < m.rows).sort((a, b) => a - b),
    };
  }
  if (opts.duplicateThreshold !== undefined) {
    const d = await nearDuplicates(m, opts.duplicateThreshold, { onBlock: (done, total) => step('near-duplicates', done, total) });
    report.near_duplicates = { ...d, examples_tokens: d.examples.map((p) => [name(p.a), name(p.b)]) };
  }
  if (opts.neighbours.length > 0) {
    const qs = [];
    for (const q of opts.neighbours) qs.push(await queryVector(t, q));
    const found = await nearestRows(
      m,
      qs.map((q) => q.v),
      opts.k,
      { exclude: qs.map((q) => (q.kind === 'token' ? q.ids[0] : undefined)) },
    );
    report.neighbours = qs.map((q, i) => ({
      query: opts.neighbours[i]!,
      kind: q.kind,
      ids: q.ids,
      neighbours: found[i]!.map((n) => ({ id: n.id, token: name(n.id), score: n.score })),
    }));
  }
  return report;
}

/** The short text summary printed on stderr. */
export function summaryLines(r: InspectReport): string[] {
  const sv = r.spectrum.uncentred.singular_values;
  const cs = r.spectrum.centred;
  const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(3));
  const lines = [
    `${r.matrix}: ${r.rows} × ${r.dim}; row norms ${fmt(r.norms.min)}..${fmt(r.norms.max)} (mean ${fmt(r.norms.mean)})`,
    `singular values: ${sv.slice(0, 5).map(fmt).join(', ')}${sv.length > 5 ? ', …' : ''}; ${sv.length >= 70 ? `σ70 ${fmt(sv[69]!)}; ` : ''}smallest ${fmt(sv[sv.length - 1] ?? 0)}`,
    `centred: effective rank ${cs.effective_rank.toFixed(1)} of ${r.dim}, numerical rank ${cs.numerical_rank}; variance in first k: ${r.spectrum.variance_explained.map((v) => `${v.k} → ${(100 * v.fraction).toFixed(1)}%`).join(', ')}`,
    ...r.projection_baselines.map(
      (b) =>
        `k ${b.k}: relative error PCA ${b.pca_error.toFixed(3)}, random projection ${b.random_error.toFixed(3)} (scale ${b.random_scale.toFixed(3)}, k/d ${b.expected_scale.toFixed(3)})`,
    ),
    `zero rows: ${r.zero_rows.count}${r.zero_rows.count ? ` (${r.zero_rows.ids.slice(0, 8).join(', ')}${r.zero_rows.count > 8 ? ', …' : ''})` : ''}` +
      (r.unreachable ? `; rows beyond the tokenizer: ${r.unreachable.beyond_vocab}; special-token rows: ${r.unreachable.special.length}` : ''),
  ];
  if (r.norms_by_kind.length > 1 || r.norms_by_kind[0]?.kind !== 'unknown')
    lines.push(`token kinds (rows, median norm): ${r.norms_by_kind.map((k) => `${k.kind} ${k.count} (${fmt(k.median)})`).join(', ')}`);
  if (r.map)
    lines.push(
      `map: ${r.map.points.length} sampled tokens on PC 1/2 (${(100 * r.map.axis_variance[0]).toFixed(1)}% / ${(100 * r.map.axis_variance[1]).toFixed(1)}% of the variance)`,
    );
  if (r.anatomy) lines.push(...anatomyLines(r.anatomy));
  for (const e of r.eval ?? []) lines.push(`eval ${e.kind} ${e.task} ${e.metric}: ${e.model} @${e.dim} ${e.score === null ? '–' : e.score.toFixed(4)}`);
  const d = r.near_duplicates;
  if (d) {
    const ex = d.examples.slice(0, 3).map((p, i) => `${JSON.stringify(d.examples_tokens[i]![0] ?? p.a)}~${JSON.stringify(d.examples_tokens[i]![1] ?? p.b)}`);
    lines.push(`near-duplicate pairs (1 − cos ≤ ${d.threshold}): ${d.pairs} over ${d.rows_involved} rows${ex.length ? `, e.g. ${ex.join(', ')}` : ''}`);
  }
  for (const q of r.neighbours) {
    lines.push(`${JSON.stringify(q.query)} (${q.kind}): ${q.neighbours.map((n) => `${JSON.stringify(n.token ?? n.id)} ${n.score.toFixed(3)}`).join(', ')}`);
  }
  return lines;
}
