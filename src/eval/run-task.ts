/**
 * Run one parsed task against one encoder at every requested width and mode: embed the task's distinct texts
 * once, then derive each (dim, dense|binary) view and score it. Returns one result row per metric.
 */
import {
  accuracy,
  averagePrecision,
  bestAccuracy,
  bestF1,
  fitLogistic,
  kmeans,
  macroF1,
  pearson,
  predictLogistic,
  rankingAtK,
  rankingAveragePrecision,
  spearman,
  vMeasure,
} from './metrics/index.ts';
import { hammingSim, packSigns, prepareVectors, rowDot, type Embeddings, type SentenceEncoder } from './encoder.ts';
import type { ClfData, ClusterData, PairData, RankingData, StsData, TaskData, TaskKind } from './tasks/types.ts';

export interface EvalResult {
  /** Encoder name: "model", "raw", "use-lite", or a baseline's name. */
  model: string;
  task: string;
  kind: TaskKind;
  file: string;
  dim: number;
  binary: boolean;
  metric: string;
  /** A fraction (0.8123, not 81.23). */
  score: number;
  /** True for the task's headline metric (MTEB's main score). */
  main: boolean;
}

export interface RunTaskOptions {
  dims: number[];
  modes: ('dense' | 'binary')[];
  /** Seed for k-means (clustering). */
  seed?: number;
  /** Called with texts embedded so far, for progress. */
  onEmbedded?: (done: number, total: number) => void;
}

/** Distinct texts of a task, in first-seen order, with an index to look rows up by text. */
class TextTable {
  readonly texts: string[] = [];
  readonly index = new Map<string, number>();
  add(t: string): number {
    let i = this.index.get(t);
    if (i === undefined) {
      i = this.texts.length;
      this.texts.push(t);
      this.index.set(t, i);
    }
    return i;
  }
}

function collect(data: TaskData): { table: TextTable; ids: Record<string, number[]> } {
  const table = new TextTable();
  const add = (xs: string[]) => xs.map((x) => table.add(x));
  switch (data.kind) {
    case 'sts':
    case 'pair':
      return { table, ids: { a: add(data.sentence1), b: add(data.sentence2) } };
    case 'clf':
      return { table, ids: { train: add(data.train.text), test: add(data.test.text) } };
    case 'cluster':
      return { table, ids: { text: add(data.text) } };
    case 'retrieval':
    case 'rerank':
      return { table, ids: { query: add(data.queries.map((q) => q.query)) } };
  }
}

/** Embed in batches so progress shows on long files; returns one full-width matrix. */
async function embedAll(encoder: SentenceEncoder, texts: string[], onEmbedded?: (d: number, t: number) => void): Promise<Embeddings> {
  const batch = 512; // progress every few seconds even for the transformer baseline (~40 texts/s)
  const data = new Float32Array(texts.length * encoder.dim);
  for (let start = 0; start < texts.length; start += batch) {
    const part = texts.slice(start, start + batch);
    const emb = await encoder.embed(part);
    if (emb.rows !== part.length || emb.dim !== encoder.dim) {
      throw new Error(`${encoder.name}: embed returned ${emb.rows}×${emb.dim} for ${part.length} texts, expected ×${encoder.dim}`);
    }
    data.set(emb.data.subarray(0, part.length * encoder.dim), start * encoder.dim);
    onEmbedded?.(Math.min(start + batch, texts.length), texts.length);
  }
  return { data, rows: texts.length, dim: encoder.dim };
}

/** Gather rows `ids` of a `dim`-wide matrix into a new contiguous matrix. */
function gather(v: Float32Array, ids: number[], dim: number): Float32Array {
  const out = new Float32Array(ids.length * dim);
  ids.forEach((id, i) => out.set(v.subarray(id * dim, (id + 1) * dim), i * dim));
  return out;
}

type Scores = { metric: string; score: number; main: boolean }[];

/** Similarity of two embedded texts (row indices) at one width and mode. */
type Similarity = (a: number, b: number) => number;

function pairSims(sim: Similarity, a: number[], b: number[]): Float64Array {
  const sims = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) sims[i] = sim(a[i]!, b[i]!);
  return sims;
}

function scoreSts(data: StsData, sim: Similarity, ids: Record<string, number[]>): Scores {
  const sims = pairSims(sim, ids.a!, ids.b!);
  return [
    { metric: 'spearman', score: spearman(sims, data.score), main: true },
    { metric: 'pearson', score: pearson(sims, data.score), main: false },
  ];
}

function scorePair(data: PairData, sim: Similarity, ids: Record<string, number[]>): Scores {
  const sims = pairSims(sim, ids.a!, ids.b!);
  return [
    { metric: 'ap', score: averagePrecision(sims, data.label), main: true },
    { metric: 'accuracy', score: bestAccuracy(sims, data.label).score, main: false },
    { metric: 'f1', score: bestF1(sims, data.label).score, main: false },
  ];
}

function scoreClf(data: ClfData, v: Float32Array, ids: Record<string, number[]>, dim: number): Scores {
  const classes = [...new Set(data.train.label)].sort();
  const classId = new Map(classes.map((c, i) => [c, i]));
  // Test labels never seen in training can only be predicted wrong; they still count in macro F1.
  for (const l of data.test.label) if (!classId.has(l)) classId.set(l, classId.size);
  const yTrain = data.train.label.map((l) => classId.get(l)!);
  const yTest = data.test.label.map((l) => classId.get(l)!);
  const model = fitLogistic(gather(v, ids.train!, dim), yTrain, yTrain.length, dim, classes.length);
  const predicted = predictLogistic(model, gather(v, ids.test!, dim), yTest.length);
  return [
    { metric: 'accuracy', score: accuracy(yTest, predicted), main: true },
    { metric: 'f1_macro', score: macroF1(yTest, predicted), main: false },
  ];
}

function scoreCluster(data: ClusterData, v: Float32Array, ids: Record<string, number[]>, dim: number, seed: number): Scores {
  const k = new Set(data.label).size;
  const x = gather(v, ids.text!, dim);
  const { labels } = kmeans(x, data.label.length, dim, k, { seed });
  return [{ metric: 'v_measure', score: vMeasure(data.label, Array.from(labels)).vMeasure, main: true }];
}

/**
 * retrieval: every query against the pool of all distinct candidates in the file (positives and negatives
 * of every line); rerank: each query against its own positives + negatives. MRR@10 and NDCG@10 averaged
 * over queries (+ MAP for rerank, MTEB's main reranking score).
 */
function scoreRanking(data: RankingData, sim: Similarity, ids: Record<string, number[]>, docIds: Map<string, number>): Scores {
  let mrr = 0;
  let ndcg = 0;
  let map = 0;
  const pool = [...docIds.values()];
  data.queries.forEach((q, i) => {
    const candidates = data.kind === 'retrieval' ? pool : [...q.positives, ...q.negatives].map((t) => docIds.get(t)!);
    const positives = new Set(q.positives.map((t) => docIds.get(t)!));
    const scores = new Float64Array(candidates.length);
    const relevance = new Float64Array(candidates.length);
    candidates.forEach((c, j) => {
      scores[j] = sim(ids.query![i]!, c);
      relevance[j] = positives.has(c) ? 1 : 0;
    });
    const at10 = rankingAtK(scores, relevance, 10);
    mrr += at10.mrr;
    ndcg += at10.ndcg;
    if (data.kind === 'rerank') map += rankingAveragePrecision(scores, relevance);
  });
  const n = data.queries.length;
  const out: Scores = [];
  if (data.kind === 'rerank') out.push({ metric: 'map', score: map / n, main: true });
  out.push({ metric: 'mrr@10', score: mrr / n, main: false });
  out.push({ metric: 'ndcg@10', score: ndcg / n, main: data.kind === 'retrieval' });
  return out;
}

export async function runTask(encoder: SentenceEncoder, task: { name: string; file: string; data: TaskData }, opts: RunTaskOptions): Promise<EvalResult[]> {
  const { data } = task;
  const { table, ids } = collect(data);
  // Ranking candidates are embedded in the same pass, as rows after the queries' texts.
  const docIds = new Map<string, number>();
  if (data.kind === 'retrieval' || data.kind === 'rerank') {
    for (const q of data.queries) for (const t of [...q.positives, ...q.negatives]) if (!docIds.has(t)) docIds.set(t, table.add(t));
  }
  const emb = await embedAll(encoder, table.texts, opts.onEmbedded);
  const results: EvalResult[] = [];
  for (const dim of opts.dims) {
    for (const mode of opts.modes) {
      const binary = mode === 'binary';
      // Pairwise kinds compare rows directly (cosine of unit vectors, or Hamming of packed sign codes);
      // classification and clustering need the vectors themselves (unit dense, or ±1/√dim codes).
      let sim: Similarity;
      if (binary) {
        const codes = packSigns(emb, dim);
        sim = (a, b) => hammingSim(codes, a, b);
      } else {
        const unit = prepareVectors(emb, dim, false);
        sim = (a, b) => rowDot(unit, a, unit, b, dim);
      }
      let scores: Scores;
      switch (data.kind) {
        case 'sts':
          scores = scoreSts(data, sim, ids);
          break;
        case 'pair':
          scores = scorePair(data, sim, ids);
          break;
        case 'clf':
          scores = scoreClf(data, prepareVectors(emb, dim, binary), ids, dim);
          break;
        case 'cluster':
          scores = scoreCluster(data, prepareVectors(emb, dim, binary), ids, dim, opts.seed ?? 42);
          break;
        case 'retrieval':
        case 'rerank':
          scores = scoreRanking(data, sim, ids, docIds);
          break;
      }
      for (const s of scores) {
        results.push({ model: encoder.name, task: task.name, kind: data.kind, file: task.file, dim, binary, ...s });
      }
    }
  }
  return results;
}
