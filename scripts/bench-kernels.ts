/**
 * Similarity kernels' throughput: cosine all-pairs (f32, 256-d) and Hamming all-pairs (256-bit codes), one
 * thread, on seeded random rows. Prints pairs/s beside the issue's goals (cosine ≥ 30 M/s, Hamming ≥ 200 M/s)
 * and the machine's load average, because the machine is shared and the numbers move with it.
 *
 *   nice npx tsx scripts/bench-kernels.ts [--rows N] [--runs N]
 */
import { loadavg } from 'node:os';
import { binarize, hammingSimilarity } from '../src/embed/binary.ts';
import { cosineMatrix } from '../src/embed/similarity.ts';
import type { Embeddings } from '../src/embed/types.ts';
import { mulberry32 } from '../src/util/random.ts';

const args = process.argv.slice(2);
const rows = args.includes('--rows') ? Number(args[args.indexOf('--rows') + 1]) : 2000;
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const DIM = 256;

function randomEmbeddings(n: number, seed: number): Embeddings {
  const next = mulberry32(seed);
  const data = new Float32Array(n * DIM);
  for (let i = 0; i < data.length; i++) data[i] = next() * 2 - 1;
  return { data, rows: n, dim: DIM };
}

/** Best-of-`runs` seconds of `work` (the best run is the one least disturbed by the other users of the machine). */
function bestSeconds(work: () => void): number {
  work();
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    work();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const a = randomEmbeddings(rows, 1);
const b = randomEmbeddings(rows, 2);
const ca = binarize(a);
const cb = binarize(b);
const pairs = rows * rows;
const load = loadavg()[0]!.toFixed(2);
const lines = [
  { work: 'cosine all-pairs, JS reference', goal: 30e6, seconds: bestSeconds(() => cosineMatrix(a, b)) },
  { work: 'hamming all-pairs, JS reference', goal: 200e6, seconds: bestSeconds(() => hammingSimilarity(ca, cb)) },
];
console.log(`${rows} × ${rows} × ${DIM}, 1 thread, best of ${runs}, load ${load}`);
for (const { work, goal, seconds } of lines) {
  const rate = pairs / seconds;
  console.log(`${work}: ${(rate / 1e6).toFixed(1)} M pairs/s (goal ${goal / 1e6} M: ${rate >= goal ? 'met' : 'not met'})`);
}
