/**
 * `model.split` on both cores (Node): the same pieces, embedded by `embedParallel` across worker threads, then the
 * same cut points. Embedding the pieces is nearly all of a split's cost (a first pass over the whole text through
 * the tokenizer), and `embedParallel` gives `model.embed`'s rows bit for bit, so the chunks are `model.split`'s
 * exactly. Texts with fewer pieces than `minTexts` (embedParallel's MIN_PARALLEL_TEXTS by default, about 500 kB
 * of prose) stay on the calling thread.
 */
import { embedParallel } from '../embed-parallel.ts';
import { checkSplitInput, type StaticModel } from '../model.ts';
import { chunksOf, planSplit } from '../split.ts';
import { threadCount } from '../threads.ts';
import type { SplitOptions } from '../types.ts';

export interface SplitParallelOptions extends SplitOptions {
  /** Threads to use, the calling one included (default: os.availableParallelism()). 1 = `model.split`. */
  threads?: number;
  /** Pieces below which the embedding stays on this thread (default: embedParallel's MIN_PARALLEL_TEXTS). */
  minTexts?: number;
}

/** Semantic chunks of `text`, as `model.split(text, opts)` gives them, with the pieces embedded on `threads` threads. */
export async function splitParallel(model: StaticModel, text: string, opts: SplitParallelOptions = {}): Promise<string[]> {
  checkSplitInput(model, text);
  const { threads, minTexts, ...splitOptions } = opts;
  threadCount({ threads }); // a bad count is an error even when the text is too small to need threads
  const plan = planSplit(text, splitOptions);
  const embeddings = plan.needsEmbeddings ? await embedParallel(model, plan.strings, { norm: true, threads, minTexts }) : undefined;
  return chunksOf(plan, embeddings);
}
