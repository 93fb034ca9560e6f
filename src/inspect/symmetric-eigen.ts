/**
 * Eigenvalues of a dense symmetric matrix: Householder reduction to tridiagonal form, then the implicit QL
 * iteration with Wilkinson-style shifts on the tridiagonal. O(n³) for the reduction (the dominant cost) and
 * O(n²) for the iteration; values only, which is all the spectrum needs. Written for the dim × dim Gram
 * matrices of `pipeline inspect` (up to a few thousand wide; ~10k wide works but takes long, see docs/inspect.md).
 */

/**
 * Reduce the symmetric `a` (n × n row-major, overwritten) to tridiagonal form: returns the diagonal `d` and
 * the sub-diagonal `e` (e[i] couples i and i+1; e[n-1] = 0). Each step applies H = I − β v vᵀ from both sides
 * to the trailing block as a symmetric rank-2 update, S ← S − v wᵀ − w vᵀ with w = p − (β/2)(pᵀv) v, p = β S v.
 */
export function tridiagonalize(a: Float64Array, n: number): { d: Float64Array; e: Float64Array } {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) norm2 += a[i * n + k]! * a[i * n + k]!;
    d[k] = a[k * n + k]!;
    const x0 = a[(k + 1) * n + k]!;
    const norm = Math.sqrt(norm2);
    if (norm2 === 0 || norm2 - x0 * x0 <= 1e-300 * Math.max(1, norm2)) {
      // Already tridiagonal in this column: nothing to reflect.
      e[k] = x0;
      continue;
    }
    const alpha = x0 > 0 ? -norm : norm;
    for (let i = k + 1; i < n; i++) v[i] = a[i * n + k]!;
    v[k + 1] = x0 - alpha;
    // vᵀv = norm² − 2·alpha·x0 + alpha² = 2·norm² − 2·alpha·x0
    const vtv = 2 * norm2 - 2 * alpha * x0;
    const beta = 2 / vtv;
    let pv = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      const row = i * n;
      for (let j = k + 1; j < n; j++) s += a[row + j]! * v[j]!;
      p[i] = beta * s;
      pv += p[i]! * v[i]!;
    }
    const half = (beta / 2) * pv;
    for (let i = k + 1; i < n; i++) p[i] = p[i]! - half * v[i]!;
    for (let i = k + 1; i < n; i++) {
      const vi = v[i]!;
      const wi = p[i]!;
      const row = i * n;
      for (let j = k + 1; j < n; j++) a[row + j] = a[row + j]! - vi * p[j]! - wi * v[j]!;
    }
    e[k] = alpha;
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2]!;
    e[n - 2] = a[(n - 1) * n + n - 2]!;
  }
  if (n >= 1) d[n - 1] = a[(n - 1) * n + n - 1]!;
  return { d, e };
}

/** Eigenvalues of the symmetric tridiagonal (d, e) by implicit QL; `d` and `e` are overwritten. */
export function tridiagonalEigenvalues(d: Float64Array, e: Float64Array): Float64Array {
  const n = d.length;
  const eps = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= eps * dd) break;
      }
      if (m === l) break;
      if (iter === 100) throw new Error(`symmetric eigensolver: no convergence at eigenvalue ${l} of ${n}`);
      // Shift from the leading 2 × 2 block, then chase the bulge up from m to l with Givens rotations.
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let deflated = false;
      for (let i = m - 1; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = d[i + 1]! - p;
          e[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (deflated) continue;
      d[l] = d[l]! - p;
      e[l] = g;
      e[m] = 0;
    }
  }
  return d;
}

/** All eigenvalues of the symmetric n × n `a` (not modified), largest first. */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  if (a.length !== n * n) throw new Error(`symmetricEigenvalues: ${a.length} values for a ${n} × ${n} matrix`);
  const { d, e } = tridiagonalize(Float64Array.from(a), n);
  return tridiagonalEigenvalues(d, e).sort().reverse();
}
