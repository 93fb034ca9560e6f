/**
 * k-means with k-means++ seeding and several restarts, as WordLlama's `kmeans_clustering`: Euclidean distance,
 * stop when the inertia changes by less than `tolerance` after `minIterations`, keep the restart with the
 * lowest inertia. Seeded (mulberry32), so results are reproducible. Pure, browser-safe.
 *
 * The evaluator's k-means (eval/metrics/kmeans.ts) shares the seeding (`kmeansPlusPlus`, `sqDist`) but not the
 * Lloyd loop, on purpose: its clustering score follows sklearn (iterate until no assignment changes, move an
 * emptied cluster to the farthest point, float64 centers), while `model.cluster` here gives WordLlama's
 * results (inertia tolerance, an emptied cluster keeps its center, float32 centers).
 */
import { UserError } from '../util/errors.ts';
import { mulberry32 } from '../util/random.ts';
import type { ClusterOptions, ClusterResult, Embeddings } from './types.ts';
import { wasmAssign } from './kernels/index.ts';

/** Squared Euclidean distance between the `dim` values of `a` at offset `ao` and of `b` at offset `bo`. */
export function sqDist(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = a[ao + j]! - b[bo + j]!;
    s += d * d;
  }
  return s;
}

/**
 * k-means++ seeding of `k` centers from `n` row-major rows of `data` into `centers` (length k·dim; Float32Array
 * or Float64Array, the caller's precision), returned: the first center is a uniform draw, each next one a row
 * drawn with probability ∝ its squared distance to the nearest center so far (uniform again when every row
 * coincides with a center). One `rand()` per center. Shared with the evaluator's k-means (eval/metrics/kmeans.ts).
 */
export function kmeansPlusPlus<C extends Float32Array | Float64Array>(
  data: ArrayLike<number>,
  n: number,
  dim: number,
  k: number,
  rand: () => number,
  centers: C,
): C {
  const copy = (row: number, c: number) => {
    for (let j = 0; j < dim; j++) centers[c * dim + j] = data[row * dim + j]!;
  };
  copy(Math.floor(rand() * n), 0);
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) dist[i] = sqDist(data, i * dim, centers, 0, dim);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += dist[i]!;
    let pick = n - 1;
    if (total > 0) {
      // Draw proportionally to the squared distance to the nearest chosen center.
      let r = rand() * total;
      for (let i = 0; i < n; i++) {
        r -= dist[i]!;
        if (r < 0) {
          pick = i;
          break;
        }
      }
    } else {
      pick = Math.floor(rand() * n); // all points coincide with centers: any point will do
    }
    copy(pick, c);
    if (c === k - 1) break;
    for (let i = 0; i < n; i++) {
      const d = sqDist(data, i * dim, centers, c * dim, dim);
      if (d < dist[i]!) dist[i] = d;
    }
  }
  return centers;
}

/**
 * Rows per inertia block: the inertia is the sum, in block order, of each block's own sum of squared distances
 * (each from 0, in row order). Fixed, so the threads of src/embed/threads.ts (whose row ranges are whole
 * blocks) add the very same numbers in the very same order as one thread: bit-identical inertia.
 */
export const INERTIA_BLOCK = 1024;

/**
 * Labels of rows [r0, r1) of x (r0 a multiple of INERTIA_BLOCK) into `labels`, and each block's sum of squared
 * distances into partials[r0 / INERTIA_BLOCK …]: the WebAssembly SIMD kernel. False (nothing written) when the
 * kernel cannot run.
 */
export function assignRange(x: Embeddings, centers: Float32Array, k: number, labels: Int32Array, partials: Float64Array, r0: number, r1: number): boolean {
  const dim = x.dim;
  for (let b0 = r0; b0 < r1; b0 += INERTIA_BLOCK) {
    const b1 = Math.min(r1, b0 + INERTIA_BLOCK);
    const block: Embeddings = { data: x.data.subarray(b0 * dim, b1 * dim), rows: b1 - b0, dim };
    const s = wasmAssign(block, centers, k, labels.subarray(b0, b1));
    if (s === undefined) return false;
    partials[b0 / INERTIA_BLOCK] = s;
  }
  return true;
}

/** The inertia from the blocks' partial sums, in block order (the one order every thread count shares). */
export function sumPartials(partials: Float64Array): number {
  let s = 0;
  for (let i = 0; i < partials.length; i++) s += partials[i]!;
  return s;
}

/**
 * Label of the nearest center for every point, and the inertia (sum of squared distances): the WebAssembly
 * SIMD kernel when it can run (summed by INERTIA_BLOCK blocks), else the JS reference.
 */
export function assign(x: Embeddings, centers: Float32Array, k: number, labels: Int32Array): number {
  const partials = new Float64Array(Math.ceil(x.rows / INERTIA_BLOCK));
  return assignRange(x, centers, k, labels, partials, 0, x.rows) ? sumPartials(partials) : assignJs(x, centers, k, labels);
}

/** The JS reference of `assign` (float64 distances), which the kernel is tested against. */
export function assignJs(x: Embeddings, centers: Float32Array, k: number, labels: Int32Array): number {
  const { rows: n, dim, data } = x;
  let inertia = 0;
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let bestC = 0;
    for (let c = 0; c < k; c++) {
      const d = sqDist(data, i * dim, centers, c * dim, dim);
      if (d < best) {
        best = d;
        bestC = c;
      }
    }
    labels[i] = bestC;
    inertia += best;
  }
  return inertia;
}

function update(x: Embeddings, labels: Int32Array, k: number, previous: Float32Array): Float32Array {
  const { rows: n, dim, data } = x;
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    counts[c]!++;
    for (let j = 0; j < dim; j++) sums[c * dim + j]! += data[i * dim + j]!;
  }
  const out = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) {
    // An empty cluster keeps its previous center rather than collapsing to the origin.
    if (counts[c] === 0) out.set(previous.subarray(c * dim, (c + 1) * dim), c * dim);
    else for (let j = 0; j < dim; j++) out[c * dim + j] = sums[c * dim + j]! / counts[c]!;
  }
  return out;
}

/**
 * The k-means loop without its assignment step: yields the centers to assign, receives the inertia (the driver
 * filled `labels`), returns the best restart. One loop for both drivers, `kmeans` here (one thread) and
 * `kmeansThreads` (src/embed/threads.ts, the assignment split across worker threads): the same seeding, the same
 * update, the same stopping rule, so equal assignments give equal results.
 */
export function* kmeansSteps(
  x: Embeddings,
  k: number,
  opts: ClusterOptions,
  labels: Int32Array,
): Generator<Float32Array, ClusterResult & { centers: Float32Array }, number> {
  const maxIterations = opts.maxIterations ?? 100;
  const tolerance = opts.tolerance ?? 1e-4;
  const nInit = opts.nInit ?? 10;
  const minIterations = opts.minIterations ?? 5;
  const rand = mulberry32(opts.seed ?? 0);
  let best: (ClusterResult & { centers: Float32Array }) | undefined;
  for (let run = 0; run < nInit; run++) {
    let centers: Float32Array = kmeansPlusPlus(x.data, x.rows, x.dim, k, rand, new Float32Array(k * x.dim));
    let inertia = Infinity;
    for (let it = 0; it < maxIterations; it++) {
      const prev = inertia;
      inertia = yield centers;
      if (it >= minIterations - 1 && Math.abs(prev - inertia) < tolerance) break;
      centers = update(x, labels, k, centers);
    }
    // Report labels and inertia for the same centers.
    inertia = yield centers;
    if (!best || inertia < best.inertia) best = { labels: Array.from(labels), inertia, centers };
  }
  return best!;
}

/** Bad k is the caller's one-line error (checked before any work). */
export function checkClusterK(x: Embeddings, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new UserError(`cluster: k must be a positive integer, got ${k}`);
  if (k > x.rows) throw new UserError(`cluster: k = ${k} is larger than the number of docs (${x.rows})`);
}

export function kmeans(x: Embeddings, k: number, opts: ClusterOptions = {}): ClusterResult & { centers: Float32Array } {
  checkClusterK(x, k);
  const labels = new Int32Array(x.rows);
  const steps = kmeansSteps(x, k, opts, labels);
  for (let s = steps.next(); ; s = steps.next(assign(x, s.value, k, labels))) if (s.done) return s.value;
}
