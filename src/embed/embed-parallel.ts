/**
 * Both cores for `embed` (Node): a large batch split across worker threads, for the first pass over unseen text,
 * which the tokenizer bounds (the word cache only helps once words repeat). Each worker builds its own model once
 * from the files `load` read: its own tokenizer and word cache from the same tokenizer.json, its rows read from
 * the same safetensors bytes, which `load` keeps in a SharedArrayBuffer (an F16 matrix is a view on them: no copy
 * per worker; other dtypes, and `precision: 'f32'`, are decoded by each worker). A worker's rows are those of
 * `model.embed` bit for bit: the same code pools the same rows of the same ids, and a text's embedding does not
 * depend on the texts beside it.
 *
 * Work is handed out in chunks from one queue, the calling thread taking its share between them, so a worker
 * still building its tokenizer (a few hundred ms for a 32k vocabulary, once per model) or slowed by other load
 * takes fewer chunks instead of holding the batch up.
 */
import { UserError } from '../util/errors.ts';
import type { StaticModel } from './model.ts';
import type { LoadOptions, ModelBuffers } from './load.ts';
import type { ModelSources } from './kernels/worker-entry.ts';
import { pooledWorkers, threadCount, workers, type PooledWorker } from './threads.ts';
import type { EmbedOptions, Embeddings } from './types.ts';

export interface EmbedParallelOptions extends Omit<EmbedOptions, 'batchSize'> {
  /** Threads to use, the calling one included (default: os.availableParallelism()). 1 = `model.embed`. */
  threads?: number;
  /** Texts below which the batch stays on this thread (default MIN_PARALLEL_TEXTS; benchmarks lower it). */
  minTexts?: number;
}

/**
 * Texts below which `embedParallel` stays on the calling thread: a round trip to a worker costs about what a
 * few dozen texts do, and a model's first parallel call also pays each worker's tokenizer build
 * (scripts/bench-embed.ts --threads measures both).
 */
export const MIN_PARALLEL_TEXTS = 1024;

/** Texts per chunk handed to a thread: large enough that a round trip is noise, small enough to balance. */
const CHUNK_TEXTS = 512;

interface Registered {
  key: number;
  sources: ModelSources;
}

const registry = new WeakMap<StaticModel, Registered>();
let nextKey = 0;

/** When a model is garbage-collected, the workers that built their own copy of it drop theirs. */
const forgetInWorkers = new FinalizationRegistry<number>((key) => {
  for (const w of pooledWorkers()) {
    if (!w.models.delete(key)) continue;
    w.run({ op: 'forget', key }).catch(() => {}); // a worker that died holds nothing
  }
});

/**
 * Remember the files `model` was built from, so `embedParallel` can give them to worker threads. Called by
 * node.ts `load` (whose safetensors bytes live in a SharedArrayBuffer).
 */
export function rememberModelSources(model: StaticModel, buffers: ModelBuffers & { safetensors: Uint8Array }, options: LoadOptions): void {
  const key = nextKey++;
  registry.set(model, { key, sources: { buffers, options } });
  forgetInWorkers.register(model, key);
}

/** Whether `embedParallel` can use worker threads for `model` (it was loaded by `load` / `loadModel`). */
export function canEmbedInParallel(model: StaticModel): boolean {
  return registry.has(model);
}

/**
 * `model.embed(texts, opts)` (dense) split across worker threads when the batch is large: the same values, bit
 * for bit. Models from `load` / `loadModel` only (those built by `loadModelFromBuffers` have no files to hand a
 * worker and run on the calling thread). The result's rows live in a SharedArrayBuffer when threads were used.
 */
export async function embedParallel(model: StaticModel, texts: string | readonly string[], opts: EmbedParallelOptions = {}): Promise<Embeddings> {
  const list = typeof texts === 'string' ? [texts] : texts;
  const { threads: _t, minTexts, ...embedOpts } = opts;
  const threads = threadCount(opts);
  const reg = registry.get(model);
  if (!Array.isArray(list) || threads === 1 || !reg || list.length < (minTexts ?? MIN_PARALLEL_TEXTS)) return model.embed(list, embedOpts);
  // Checked here, not in a worker: a bad dim or text is the caller's one-line error, thrown before any work.
  const dim = model.embed([], { dim: opts.dim }).dim;
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'string') throw new UserError(`embed: texts[${i}] is ${typeof list[i]}, expected a string`);
  const n = list.length;
  const out = new Float32Array(new SharedArrayBuffer(n * dim * 4));
  // Smaller chunks when the batch would give each thread fewer than four: else one thread can be left alone with
  // the last chunk or two (a 1 MB split has ~1,800 long pieces, four chunks of CHUNK_TEXTS).
  const chunk = Math.max(1, Math.min(CHUNK_TEXTS, Math.ceil(n / (threads * 4))));
  let next = 0;
  const take = (): [number, number] | undefined => {
    if (next >= n) return undefined;
    const r: [number, number] = [next, Math.min(n, next + chunk)];
    next = r[1];
    return r;
  };
  const send = async (w: PooledWorker, r: [number, number]) => {
    const first = !w.models.has(reg.key);
    w.models.add(reg.key);
    try {
      await w.run({ op: 'embed', key: reg.key, sources: first ? reg.sources : undefined, texts: list.slice(r[0], r[1]), ...embedOpts, out, row0: r[0] });
    } catch (err) {
      w.models.delete(reg.key); // it may not hold the model: the next call sends the files again
      throw err;
    }
  };
  const loop = async (w: PooledWorker) => {
    for (let r = take(); r; r = take()) await send(w, r);
  };
  // One chunk first (a worker new to the model builds its tokenizer meanwhile, and must not hoard chunks), then
  // two in flight: the worker's next chunk is queued when it finishes one, instead of waiting for this thread to
  // come back from its own chunk to hand one out.
  const feed = async (w: PooledWorker) => {
    const r = take();
    if (!r) return;
    await send(w, r);
    await Promise.all([loop(w), loop(w)]);
  };
  const helpers = workers(Math.min(threads - 1, Math.ceil(n / chunk) - 1));
  const done = Promise.all(helpers.map(feed));
  done.catch(() => {}); // awaited below; a worker's failure must not count as unhandled meanwhile
  // This thread's share: one chunk at a time, yielding between chunks so workers' answers are taken and they
  // get their next chunk at once.
  for (let r = take(); r; r = take()) {
    out.set(model.embed(list.slice(r[0], r[1]), embedOpts).data, r[0] * dim);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await done;
  return { data: out, rows: n, dim };
}
