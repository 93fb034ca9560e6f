/**
 * The worker thread's code (Node worker_threads): scripts/build-kernels.ts bundles this file and
 * everything it imports (the kernels, the tile driver, top-k) into one script, kept as a string constant in
 * worker.generated.ts, which src/embed/threads.ts starts with `eval: true`. A string, not a file, so the same
 * worker runs from the TypeScript sources, the compiled ESM and CommonJS halves of the library and the CLI
 * bundle, with no file to locate beside whichever of them is running.
 *
 * Every input arrives as views on SharedArrayBuffers (no copy); cosine rows and embeddings are written into the
 * shared output, a partial top-k is posted back (small: queries × k). For `embed` (src/embed/embed-parallel.ts)
 * the worker builds its own model once per key from the model's files: its own tokenizer (and word cache) from
 * the same tokenizer.json, its rows read from the shared safetensors bytes (an F16 matrix is a view on them, no
 * copy per worker), so its embeddings are those of the main thread's model, bit for bit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { cosineRowsInto } from '../similarity.ts';
import { topkRows } from '../topk.ts';
import type { Embeddings } from '../types.ts';
import { loadModelFromBuffers, type LoadOptions, type ModelBuffers } from '../load.ts';
import type { StaticModel } from '../model.ts';
import { dedupeCandidates, type DedupeCandidates } from '../dedupe.ts';
import { assignRange } from '../kmeans.ts';

/** What a worker builds an embedding model from: the files `load` read (safetensors bytes in a SharedArrayBuffer). */
export interface ModelSources {
  buffers: ModelBuffers & { safetensors: Uint8Array };
  options: LoadOptions;
}

/** A request from src/embed/threads.ts. Row ranges are [r0, r1) of `a` (cosine) or of `docs` (top-k). */
export type WorkerRequest =
  | { id: number; op: 'cosine'; a: Float32Array; aRows: number; b: Float32Array; bRows: number; dim: number; out: Float32Array; r0: number; r1: number }
  | { id: number; op: 'topk'; queries: Float32Array; qRows: number; docs: Float32Array; dim: number; k: number; r0: number; r1: number }
  | {
      id: number;
      op: 'embed';
      /** The model's key; `sources` come with the first request a worker gets for it. */
      key: number;
      sources?: ModelSources;
      texts: string[];
      dim?: number;
      norm?: boolean;
      maxLength?: number;
      /** Rows × dim, shared; this request fills rows [row0, row0 + texts.length). */
      out: Float32Array;
      row0: number;
    }
  /** Dedupe candidates of column block [k0, k1) of x (rows × dim) against rows [0, k1); `inv` its inverse norms. */
  | { id: number; op: 'dedupe'; x: Float32Array; rows: number; dim: number; inv: Float64Array; threshold: number; k0: number; k1: number; cap: number }
  /** k-means assignment of rows [r0, r1) of x: labels and the INERTIA_BLOCK partial sums written into the shared arrays. */
  | {
      id: number;
      op: 'assign';
      x: Float32Array;
      rows: number;
      dim: number;
      centers: Float32Array;
      k: number;
      labels: Int32Array;
      partials: Float64Array;
      r0: number;
      r1: number;
    }
  /** The model of `key` was garbage-collected on the main thread: drop this worker's copy. */
  | { id: number; op: 'forget'; key: number };

export type WorkerAnswer = { id: number; error?: string; indices?: Int32Array; scores?: Float32Array; candidates?: DedupeCandidates };

/** Embedding models this worker built, by key (kept: the next batch of the same model reuses its word cache). */
const models = new Map<number, StaticModel>();

/** Run one request (also what the main thread runs for its own share, so both halves compute alike). */
export function runRequest(m: WorkerRequest): WorkerAnswer {
  if (m.op === 'forget') {
    models.delete(m.key);
    return { id: m.id };
  }
  if (m.op === 'embed') {
    let model = models.get(m.key);
    if (!model) {
      if (!m.sources) throw new Error(`embed: model ${m.key} was never sent to this worker`);
      model = loadModelFromBuffers(m.sources.buffers, m.sources.options);
      models.set(m.key, model);
    }
    const e = model.embed(m.texts, { dim: m.dim, norm: m.norm, maxLength: m.maxLength });
    m.out.set(e.data, m.row0 * e.dim);
    return { id: m.id };
  }
  const dim = m.dim;
  if (m.op === 'dedupe') {
    const candidates = dedupeCandidates({ data: m.x, rows: m.rows, dim }, m.inv, m.k0, m.k1, m.threshold, m.cap);
    if (!candidates) throw new Error('dedupe: the similarity kernel cannot run in this worker');
    return { id: m.id, candidates };
  }
  if (m.op === 'assign') {
    if (!assignRange({ data: m.x, rows: m.rows, dim }, m.centers, m.k, m.labels, m.partials, m.r0, m.r1)) {
      throw new Error('assign: the k-means kernel cannot run in this worker');
    }
    return { id: m.id };
  }
  if (m.op === 'cosine') {
    const a: Embeddings = { data: m.a.subarray(m.r0 * dim, m.r1 * dim), rows: m.r1 - m.r0, dim };
    cosineRowsInto(a, { data: m.b, rows: m.bRows, dim }, m.out, m.r0 * m.bRows);
    return { id: m.id };
  }
  const docs: Embeddings = { data: m.docs.subarray(m.r0 * dim, m.r1 * dim), rows: m.r1 - m.r0, dim };
  const t = topkRows({ data: m.queries, rows: m.qRows, dim }, docs, Math.min(m.k, docs.rows));
  for (let i = 0; i < t.indices.length; i++) t.indices[i]! += m.r0;
  return { id: m.id, indices: t.indices, scores: t.scores };
}

/** Set in workerData by threads.ts: only a similarity worker listens (the module is also imported elsewhere). */
export const WORKER_FLAG = 'wordllamaSimilarityWorker';

if (parentPort && (workerData as Record<string, unknown> | null)?.[WORKER_FLAG] === true) {
  parentPort.on('message', (m: WorkerRequest) => {
    let answer: WorkerAnswer;
    try {
      answer = runRequest(m);
    } catch (err) {
      answer = { id: m.id, error: String((err as Error)?.message ?? err) };
    }
    parentPort!.postMessage(answer);
  });
}
