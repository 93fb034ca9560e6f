/**
 * What training has to beat, from the Gram matrix alone (no second pass over the rows): for each k, the
 * relative reconstruction error ‖X − X̂‖_F / ‖X‖_F of (a) PCA truncation to k components (uncentred, so
 * directly comparable) and (b) a seeded Gaussian random projection to k dims mapped back through its
 * pseudo-inverse, X̂ = X·P with P the orthogonal projector onto the span of the k random directions. Then
 * ‖X̂‖² = tr(QᵀGQ) (Q an orthonormal basis of that span), and the best scalar c in X̂ ≈ c·X is tr(QᵀGQ)/tr(G),
 * which is k/d in expectation: the "scaled identity plus noise" behaviour of a random projection.
 */

export interface ProjectionBaseline {
  k: number;
  pca_error: number;
  random_error: number;
  /** tr(QᵀGQ)/tr(G), the fitted scale of the random round trip. */
  random_scale: number;
  /** k/d, what random_scale should be near. */
  expected_scale: number;
}

/** mulberry32 uniform stream turned Gaussian by Box–Muller. */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** k orthonormal d-vectors (row-major k × d) spanning k seeded Gaussian directions (modified Gram–Schmidt). */
export function randomOrthonormal(d: number, k: number, seed: number): Float64Array {
  const g = gaussian(seed);
  const q = new Float64Array(k * d);
  for (let i = 0; i < k; i++) {
    const v = q.subarray(i * d, (i + 1) * d);
    for (let tries = 0; ; tries++) {
      for (let j = 0; j < d; j++) v[j] = g();
      for (let p = 0; p < i; p++) {
        const u = q.subarray(p * d, (p + 1) * d);
        let s = 0;
        for (let j = 0; j < d; j++) s += u[j]! * v[j]!;
        for (let j = 0; j < d; j++) v[j] = v[j]! - s * u[j]!;
      }
      const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      if (n > 1e-8) {
        for (let j = 0; j < d; j++) v[j] = v[j]! / n;
        break;
      }
      if (tries > 10) throw new Error(`randomOrthonormal: cannot draw ${k} independent directions in ${d} dims`);
    }
  }
  return q;
}

/** Baselines for each k from the uncentred Gram `gram` (d × d) and its singular values (descending). */
export function projectionBaselines(gram: Float64Array, d: number, sigma: number[], ks: number[], seed = 1): ProjectionBaseline[] {
  let trace = 0;
  for (let i = 0; i < d; i++) trace += gram[i * d + i]!;
  const total = sigma.reduce((s, v) => s + v * v, 0);
  const gq = new Float64Array(d);
  return ks.map((k) => {
    let kept = 0;
    for (let i = 0; i < Math.min(k, sigma.length); i++) kept += sigma[i]! ** 2;
    const q = randomOrthonormal(d, k, seed);
    let captured = 0;
    for (let c = 0; c < k; c++) {
      const v = q.subarray(c * d, (c + 1) * d);
      for (let i = 0; i < d; i++) {
        let s = 0;
        const row = i * d;
        for (let j = 0; j < d; j++) s += gram[row + j]! * v[j]!;
        gq[i] = s;
      }
      for (let i = 0; i < d; i++) captured += v[i]! * gq[i]!;
    }
    const scale = trace > 0 ? captured / trace : 0;
    return {
      k,
      pca_error: total > 0 ? Math.sqrt(Math.max(0, 1 - kept / total)) : 0,
      random_error: Math.sqrt(Math.max(0, 1 - scale)),
      random_scale: scale,
      expected_scale: k / d,
    };
  });
}
