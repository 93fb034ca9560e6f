/**
 * Seeded k-means (k-means++ seeding, then Lloyd iterations until no assignment changes) over row-major
 * float rows. Several restarts (`nInit`) keep the lowest inertia. Deterministic for a given seed: the only
 * randomness is the seeding, drawn from mulberry32(seed). The seeding is the embedding library's
 * (embed/kmeans.ts); the Lloyd loop is not: this one runs until no assignment changes and relocates an emptied
 * cluster to the farthest point (sklearn), in float64, while the library's follows WordLlama (stop on an
 * inertia change below a tolerance, an emptied cluster keeps its center, float32 centers).
 */
import { kmeansPlusPlus, sqDist } from '../../embed/kmeans.ts';
import { mulberry32 } from '../../util/random.ts';

export interface KMeansOptions {
  seed?: number;
  maxIter?: number;
  nInit?: number;
}

export interface KMeansResult {
  labels: Int32Array;
  centers: Float64Array;
  inertia: number;
  iterations: number;
}

function lloyd(data: ArrayLike<number>, n: number, dim: number, k: number, centers: Float64Array, maxIter: number): KMeansResult {
  const labels = new Int32Array(n).fill(-1);
  const dist = new Float64Array(n);
  let iterations = 0;
  for (; iterations < maxIter; iterations++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = sqDist(data, i * dim, centers, c * dim, dim);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      dist[i] = bestD;
      if (labels[i] !== best) {
        labels[i] = best;
        changed = true;
      }
    }
    if (!changed) break;
    const counts = new Int32Array(k);
    centers.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      counts[c]!++;
      for (let j = 0; j < dim; j++) centers[c * dim + j]! += data[i * dim + j]!;
    }
    const taken = new Uint8Array(n);
    for (let c = 0; c < k; c++) {
      if (counts[c]! > 0) {
        for (let j = 0; j < dim; j++) centers[c * dim + j]! /= counts[c]!;
        continue;
      }
      // An empty cluster takes the point farthest from its current center (sklearn's relocation rule).
      let far = -1;
      for (let i = 0; i < n; i++) if (!taken[i] && (far < 0 || dist[i]! > dist[far]!)) far = i;
      taken[far] = 1;
      dist[far] = 0;
      for (let j = 0; j < dim; j++) centers[c * dim + j] = data[far * dim + j]!;
    }
  }
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += sqDist(data, i * dim, centers, labels[i]! * dim, dim);
  return { labels, centers, inertia, iterations };
}

export function kmeans(data: ArrayLike<number>, n: number, dim: number, k: number, opts: KMeansOptions = {}): KMeansResult {
  if (data.length < n * dim) throw new Error(`kmeans: data holds ${data.length} values, need ${n}×${dim}`);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`kmeans: k = ${k} must be between 1 and the ${n} points`);
  const rand = mulberry32(opts.seed ?? 42);
  let best: KMeansResult | undefined;
  for (let run = 0; run < (opts.nInit ?? 1); run++) {
    const result = lloyd(data, n, dim, k, kmeansPlusPlus(data, n, dim, k, rand, new Float64Array(k * dim)), opts.maxIter ?? 300);
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}
