/**
 * Both cores (Node): all-pairs cosine and corpus-scale top-k split across worker threads that read the inputs
 * from SharedArrayBuffers (copied there once unless they already live in one) and run the same kernels as the
 * main thread, which computes a share itself. Results are identical to one thread: a cell's cosine does not
 * depend on which thread or block computes it, and partial top-k lists merge by the same total order (score
 * descending, then lower index).
 *
 * `threads` defaults to os.availableParallelism(); below MIN_PARALLEL_PAIRS pairs the work stays on the
 * calling thread (a worker round trip and the shared copies cost more than the second core saves).
 * Workers are started on first use, kept for later calls, and unref'd so they never hold the process open.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../util/errors.ts';
import { SIMILARITY_WORKER_SOURCE } from './kernels/worker.generated.ts';
import { runRequest, WORKER_FLAG, type WorkerAnswer, type WorkerRequest } from './kernels/worker-entry.ts';
import { topkRows, type TopK } from './topk.ts';
import type { ClusterOptions, ClusterResult, Embeddings, SimilarityMatrix } from './types.ts';
import { applyCandidates, CANDIDATES_PER_COLUMN, dedupeCandidates, dedupeResult, deduplicateRows, type DedupeCandidates, type DedupeResult } from './dedupe.ts';
import { assignRange, checkClusterK, INERTIA_BLOCK, kmeans, kmeansSteps, sumPartials } from './kmeans.ts';
import { kernelsAvailable } from './kernels/index.ts';
import { inverseNorms } from './similarity.ts';
import { MIN_PARALLEL_ASSIGN, MIN_PARALLEL_PAIRS } from './worker-limits.ts';

export interface ThreadOptions {
  /** Threads to use, the calling one included (default: os.availableParallelism()). 1 = this thread only. */
  threads?: number;
  /**
   * Work below which it stays on this thread (benchmarks and tests lower it to time or test the split): pairs
   * (default MIN_PARALLEL_PAIRS), for `kmeansThreads` multiply-adds of one assignment step (MIN_PARALLEL_ASSIGN).
   */
  minPairs?: number;
}

export { MIN_PARALLEL_ASSIGN, MIN_PARALLEL_PAIRS } from './worker-limits.ts';

/** A request without its id (the worker wrapper numbers them); distributes over the union. */
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

type Pending = { resolve: (a: WorkerAnswer) => void; reject: (e: Error) => void };

/** A pooled worker as its users see it (no worker_threads type: the library's .d.ts must not need @types/node). */
export interface PooledWorker {
  /** Keys of the embedding models this worker holds (embed-parallel.ts sends each model's files once). */
  readonly models: Set<number>;
  run(request: Request): Promise<WorkerAnswer>;
}

/** One started worker and its requests in flight. */
class SimilarityWorker implements PooledWorker {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(private readonly worker: Worker) {
    worker.on('message', (a: WorkerAnswer) => {
      const p = this.pending.get(a.id);
      this.pending.delete(a.id);
      if (this.pending.size === 0) worker.unref();
      if (!p) return;
      if (a.error !== undefined) p.reject(new Error(`similarity worker: ${a.error}`));
      else p.resolve(a);
    });
    const fail = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      pool.splice(pool.indexOf(this), 1);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`similarity worker exited (${code})`)));
    worker.unref();
  }

  readonly models = new Set<number>();

  run(request: Request): Promise<WorkerAnswer> {
    const id = this.nextId++;
    // Held open only while a request is in flight: an idle pool never keeps the process alive.
    if (this.pending.size === 0) this.worker.ref();
    const answer = new Promise<WorkerAnswer>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ ...request, id });
    return answer;
  }
}

const pool: SimilarityWorker[] = [];

/** The first `n` pooled workers, started when missing (also embed-parallel.ts's workers: one pool per process). */
export function workers(n: number): PooledWorker[] {
  while (pool.length < n) pool.push(new SimilarityWorker(new Worker(SIMILARITY_WORKER_SOURCE, { eval: true, workerData: { [WORKER_FLAG]: true } })));
  return pool.slice(0, n);
}

/** The workers started so far (none are started by asking). */
export function pooledWorkers(): readonly PooledWorker[] {
  return pool;
}

export function threadCount(opts: { threads?: number }): number {
  const t = opts.threads ?? availableParallelism();
  if (!Number.isInteger(t) || t < 1) throw new UserError(`threads must be a positive integer, got ${t}`);
  return t;
}

/** The rows of `m` in a SharedArrayBuffer: the same array when it already lives in one, else a copy. */
function shared(m: Float32Array): Float32Array {
  if (m.buffer instanceof SharedArrayBuffer) return m;
  const s = new Float32Array(new SharedArrayBuffer(m.byteLength));
  s.set(m);
  return s;
}

/** Split [0, n) into `parts` contiguous ranges of near-equal size. */
function ranges(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0; p < parts; p++) {
    const r0 = Math.floor((n * p) / parts);
    const r1 = Math.floor((n * (p + 1)) / parts);
    if (r1 > r0) out.push([r0, r1]);
  }
  return out;
}

/** `cosineMatrix(a, b)` with the rows of a split across threads; the same values as one thread. */
export async function cosineMatrixThreads(a: Embeddings, b: Embeddings, opts: ThreadOptions = {}): Promise<SimilarityMatrix> {
  if (a.dim !== b.dim) throw new UserError(`cosineMatrix: dims differ (${a.dim} vs ${b.dim})`);
  const threads = Math.min(threadCount(opts), a.rows);
  const parts = threads > 1 && a.rows * b.rows >= (opts.minPairs ?? MIN_PARALLEL_PAIRS) ? ranges(a.rows, threads) : [[0, a.rows] as [number, number]];
  const out = new Float32Array(parts.length > 1 ? new SharedArrayBuffer(a.rows * b.rows * 4) : new ArrayBuffer(a.rows * b.rows * 4));
  const base = { op: 'cosine' as const, aRows: a.rows, bRows: b.rows, dim: a.dim, out };
  const sa = parts.length > 1 ? shared(a.data.subarray(0, a.rows * a.dim)) : a.data;
  const sb = parts.length > 1 ? shared(b.data.subarray(0, b.rows * b.dim)) : b.data;
  const helpers = workers(parts.length - 1);
  const done = parts.slice(1).map(([r0, r1], i) => helpers[i]!.run({ ...base, a: sa, b: sb, r0, r1 }));
  runRequest({ ...base, id: -1, a: sa, b: sb, r0: parts[0]![0], r1: parts[0]![1] });
  await Promise.all(done);
  return { data: out, rows: a.rows, cols: b.rows };
}

/**
 * `topkRows(queries, docs, k)` with the documents split across threads, each keeping its own top-k, merged:
 * the same indices and scores as one thread. Pass docs whose rows live in a SharedArrayBuffer to spare the
 * one copy of them.
 */
export async function topkRowsThreads(queries: Embeddings, docs: Embeddings, k: number, opts: ThreadOptions = {}): Promise<TopK> {
  const threads = Math.min(threadCount(opts), Math.max(1, Math.floor(docs.rows / Math.max(1, k))));
  if (threads === 1 || queries.rows * docs.rows < (opts.minPairs ?? MIN_PARALLEL_PAIRS)) return topkRows(queries, docs, k);
  if (queries.dim !== docs.dim) throw new UserError(`topk: dims differ (queries ${queries.dim} vs docs ${docs.dim})`);
  if (!Number.isInteger(k) || k < 1 || k > docs.rows) return topkRows(queries, docs, k); // its one-line error
  const parts = ranges(docs.rows, threads);
  const sq = shared(queries.data.subarray(0, queries.rows * queries.dim));
  const sd = shared(docs.data.subarray(0, docs.rows * docs.dim));
  const base = { op: 'topk' as const, queries: sq, qRows: queries.rows, docs: sd, dim: docs.dim, k };
  const helpers = workers(parts.length - 1);
  const done = parts.slice(1).map(([r0, r1], i) => helpers[i]!.run({ ...base, r0, r1 }));
  const lists = [runRequest({ ...base, id: -1, r0: parts[0]![0], r1: parts[0]![1] }), ...(await Promise.all(done))];
  return mergeTopK(lists as { indices: Int32Array; scores: Float32Array }[], queries.rows, k);
}

/** Merge per-range top lists (each sorted best first, ranges in document order) into one top-k per query. */
function mergeTopK(lists: { indices: Int32Array; scores: Float32Array }[], rows: number, k: number): TopK {
  const indices = new Int32Array(rows * k);
  const scores = new Float32Array(rows * k);
  for (let q = 0; q < rows; q++) {
    const cand: [number, number][] = [];
    for (const l of lists) {
      const per = l.indices.length / rows;
      for (let r = 0; r < per; r++) cand.push([l.scores[q * per + r]!, l.indices[q * per + r]!]);
    }
    cand.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
    for (let r = 0; r < k; r++) {
      scores[q * k + r] = cand[r]![0];
      indices[q * k + r] = cand[r]![1];
    }
  }
  return { indices, scores, rows, k };
}

/** Columns per block of the threaded dedupe: smaller than one thread's 1024, so the last (largest) blocks balance. */
const DEDUPE_BLOCK = 512;

export interface DedupeThreadOptions extends ThreadOptions {
  /** Candidates kept per column (default CANDIDATES_PER_COLUMN; tests lower it to exercise the exact re-scan). */
  cap?: number;
}

/**
 * `deduplicateRows(x, threshold)` for dense rows with the similarity scan split across threads: the same kept
 * and duplicate indices, in the same order. Column blocks go to whichever thread is free; each thread lists,
 * per column, the earlier rows above the threshold (`dedupeCandidates`, which needs no knowledge of what is
 * kept), and this thread decides the blocks in order (`applyCandidates`) as their lists arrive. Binary codes,
 * inputs below MIN_PARALLEL_PAIRS pairs (n²/2), one thread or no kernel: `deduplicateRows` itself.
 */
export async function deduplicateRowsThreads(x: Embeddings, threshold: number, opts: DedupeThreadOptions = {}): Promise<DedupeResult> {
  const n = x.rows;
  const blocks = Math.ceil(n / DEDUPE_BLOCK);
  const threads = Math.min(threadCount(opts), blocks);
  if (threads === 1 || (n * n) / 2 < (opts.minPairs ?? MIN_PARALLEL_PAIRS) || !kernelsAvailable() || x.dim % 4 !== 0) return deduplicateRows(x, threshold);
  const cap = opts.cap ?? CANDIDATES_PER_COLUMN;
  const sx = shared(x.data.subarray(0, n * x.dim));
  const xs: Embeddings = { data: sx, rows: n, dim: x.dim };
  const inv0 = inverseNorms(xs);
  const inv = new Float64Array(new SharedArrayBuffer(inv0.byteLength));
  inv.set(inv0);
  const isDup = new Uint8Array(n);
  const done: (DedupeCandidates | undefined)[] = new Array(blocks);
  let next = 0;
  let decided = 0;
  const take = () => (next < blocks ? next++ : -1);
  const span = (b: number) => [b * DEDUPE_BLOCK, Math.min(n, (b + 1) * DEDUPE_BLOCK)] as const;
  // Blocks are decided strictly in order: a block's rule needs every earlier row's final state.
  const decide = () => {
    while (decided < blocks && done[decided]) {
      applyCandidates(xs, inv, threshold, done[decided]!, isDup);
      done[decided++] = undefined;
    }
  };
  const feed = async (w: PooledWorker) => {
    for (let b = take(); b >= 0; b = take()) {
      const [k0, k1] = span(b);
      const a = await w.run({ op: 'dedupe', x: sx, rows: n, dim: x.dim, inv, threshold, k0, k1, cap });
      done[b] = a.candidates!;
    }
  };
  const helpers = Promise.all(workers(threads - 1).map(feed));
  helpers.catch(() => {}); // awaited below; a worker's failure must not count as unhandled meanwhile
  for (let b = take(); b >= 0; b = take()) {
    const [k0, k1] = span(b);
    done[b] = dedupeCandidates(xs, inv, k0, k1, threshold, cap)!;
    decide();
    await new Promise<void>((resolve) => setImmediate(resolve)); // take the workers' answers, hand out their next blocks
  }
  await helpers;
  decide();
  return dedupeResult(isDup);
}

/**
 * `kmeans(x, k, opts)` with each assignment step split across threads by whole INERTIA_BLOCK row blocks: the
 * same labels, inertia and centers, bit for bit, as one thread. Each thread writes its rows' labels and its
 * blocks' partial sums into shared arrays and this thread adds the partials in block order, as `assign` does;
 * the seeding and the update (k-means++ draws, f64 sums in row order) stay on this thread, unchanged. Below
 * MIN_PARALLEL_ASSIGN multiply-adds per step, with one thread or without the kernel: `kmeans` itself.
 */
export async function kmeansThreads(x: Embeddings, k: number, opts: ClusterOptions & ThreadOptions = {}): Promise<ClusterResult & { centers: Float32Array }> {
  checkClusterK(x, k);
  const blocks = Math.ceil(x.rows / INERTIA_BLOCK);
  const threads = Math.min(threadCount(opts), blocks);
  if (threads === 1 || x.rows * k * x.dim < (opts.minPairs ?? MIN_PARALLEL_ASSIGN) || !kernelsAvailable() || x.dim % 4 !== 0) {
    return kmeans(x, k, opts);
  }
  const dim = x.dim;
  const xs: Embeddings = { data: shared(x.data.subarray(0, x.rows * dim)), rows: x.rows, dim };
  const labels = new Int32Array(new SharedArrayBuffer(x.rows * 4));
  const partials = new Float64Array(new SharedArrayBuffer(blocks * 8));
  const centers = new Float32Array(new SharedArrayBuffer(k * dim * 4));
  const parts = ranges(blocks, threads).map(([b0, b1]) => [b0 * INERTIA_BLOCK, Math.min(x.rows, b1 * INERTIA_BLOCK)] as const);
  const helpers = workers(parts.length - 1);
  const steps = kmeansSteps(xs, k, opts, labels);
  for (let s = steps.next(); ;) {
    if (s.done) return s.value;
    centers.set(s.value);
    const base = { op: 'assign' as const, x: xs.data, rows: x.rows, dim, centers, k, labels, partials };
    const answers = parts.slice(1).map(([r0, r1], i) => helpers[i]!.run({ ...base, r0, r1 }));
    assignRange(xs, centers, k, labels, partials, parts[0]![0], parts[0]![1]);
    await Promise.all(answers);
    s = steps.next(sumPartials(partials));
  }
}
