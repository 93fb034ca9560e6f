/**
 * Which records form each step's batch. The order of epoch e depends only on (seed, e), so `--resume` at any
 * step rebuilds it exactly. `proportional` (sentence-transformers' PROPORTIONAL, WordLlama's setting): each
 * batch comes from one dataset, datasets are cut into batches and all batches are shuffled together, so
 * in-batch negatives are from the same domain (harder). `mixed`: one shuffle over all records.
 */
import { UserError } from '../../util/errors.ts';
import type { SamplerMode } from '../config.ts';
import { Rng } from '../../util/random.ts';

export interface DatasetRange {
  label: string;
  start: number;
  count: number;
}

/** A batch must hold 2 pairs at least (MNRL needs a negative); smaller tails are dropped. */
const MIN_BATCH = 2;

function cut(indices: Int32Array, batchSize: number, out: Int32Array[]): void {
  for (let i = 0; i < indices.length; i += batchSize) {
    const b = indices.subarray(i, Math.min(i + batchSize, indices.length));
    if (b.length >= MIN_BATCH) out.push(b);
  }
}

export function epochBatches(args: { datasets: readonly DatasetRange[]; batchSize: number; seed: number; epoch: number; sampler: SamplerMode }): Int32Array[] {
  const { datasets, batchSize, seed, epoch, sampler } = args;
  const rng = new Rng((seed * 1000003 + epoch * 7919 + 1) >>> 0);
  const batches: Int32Array[] = [];
  if (sampler === 'mixed') {
    const total = datasets.reduce((s, d) => s + d.count, 0);
    const all = new Int32Array(total);
    let k = 0;
    for (const d of datasets) for (let i = 0; i < d.count; i++) all[k++] = d.start + i;
    cut(rng.shuffle(all), batchSize, batches);
    return batches;
  }
  for (const d of datasets) {
    const idx = new Int32Array(d.count);
    for (let i = 0; i < d.count; i++) idx[i] = d.start + i;
    cut(rng.shuffle(idx), batchSize, batches);
  }
  return rng.shuffle(batches);
}

/** Batches per epoch (independent of the shuffle). */
export function stepsPerEpoch(datasets: readonly DatasetRange[], batchSize: number, sampler: SamplerMode): number {
  const n = (count: number) => Math.floor(count / batchSize) + (count % batchSize >= MIN_BATCH ? 1 : 0);
  if (sampler === 'mixed') return n(datasets.reduce((s, d) => s + d.count, 0));
  return datasets.reduce((s, d) => s + n(d.count), 0);
}

/** Fail early, naming the numbers, when the data cannot fill a batch. */
export function checkBatchSize(datasets: readonly DatasetRange[], batchSize: number, sampler: SamplerMode, where: string): void {
  const total = datasets.reduce((s, d) => s + d.count, 0);
  if (batchSize > total) {
    throw new UserError(`${where}: batch_size ${batchSize} is larger than the ${total} training records; lower it (--batch-size) or add data`);
  }
  if (stepsPerEpoch(datasets, batchSize, sampler) === 0) {
    throw new UserError(`${where}: no batch of at least ${MIN_BATCH} pairs can be formed from ${total} records`);
  }
}
