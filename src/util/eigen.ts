/**
 * Eigen-decomposition of a real symmetric matrix: Householder tridiagonalisation then the implicit QL
 * algorithm (tred2/tql2 from EISPACK, as in JAMA's EigenvalueDecomposition). O(n³) once, float64 throughout:
 * a 1024 × 1024 covariance takes a few seconds in plain JS, where Jacobi sweeps take tens.
 */

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Eigenvectors as columns of an n × n row-major matrix, in the order of `values`. */
  vectors: Float64Array;
}

/** `a` is n × n row-major and symmetric (only read, not modified). */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n * n} values, got ${a.length}`);
  const V = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  // Both steps work on the transpose of EISPACK's V, so their O(n³) loops walk contiguous rows (4× faster at
  // n = 1024); a is symmetric, so it is its own transpose to start from.
  tred2(V, d, e, n);
  tql2(V, d, e, n);
  transposeInPlace(V, n);
  // tql2 sorts ascending; return descending.
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = n - 1 - k;
    values[k] = d[src]!;
    for (let i = 0; i < n; i++) vectors[i * n + k] = V[i * n + src]!;
  }
  return { values, vectors };
}

/**
 * Eigenvalues only, descending: the same reduction without accumulating eigenvectors, which saves most of the
 * O(n³) work (spectra of wide Gram matrices need no vectors). `a` is only read.
 */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  if (a.length !== n * n) throw new RangeError(`symmetricEigenvalues: expected ${n * n} values, got ${a.length}`);
  const V = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(V, d, e, n, false);
  tql2(V, d, e, n, false);
  return d.reverse();
}

function transposeInPlace(m: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const t = m[i * n + j]!;
      m[i * n + j] = m[j * n + i]!;
      m[j * n + i] = t;
    }
  }
}

/**
 * Householder reduction to tridiagonal form; on return V holds the transpose of the accumulated
 * transformations. EISPACK's tred2 with every V[r][c] read as V[c][r]: its O(n³) loops then walk rows
 * (contiguous) instead of columns, and the result is already the layout tql2 below works on.
 */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, withVectors = true): void {
  for (let j = 0; j < n; j++) d[j] = V[j * n + n - 1]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[j * n + i - 1]!;
        V[j * n + i] = 0;
        V[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[i * n + j] = f;
        g = e[j]! + V[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[j * n + k]! * d[k]!;
          e[k]! += V[j * n + k]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[j * n + k]! -= f * e[k]! + g * d[k]!;
        d[j] = V[j * n + i - 1]!;
        V[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  if (!withVectors) {
    // Values only: the tridiagonal's diagonal is left on V's diagonal; skip accumulating the transformations.
    for (let j = 0; j < n; j++) d[j] = V[j * n + j]!;
    e[0] = 0;
    return;
  }
  for (let i = 0; i < n - 1; i++) {
    V[i * n + n - 1] = V[i * n + i]!;
    V[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[(i + 1) * n + k]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[(i + 1) * n + k]! * V[j * n + k]!;
        for (let k = 0; k <= i; k++) V[j * n + k]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[j * n + n - 1]!;
    V[j * n + n - 1] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e), accumulating into Vᵀ (eigenvectors as rows); eigenvalues end ascending in d. */
function tql2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, withVectors = true): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('symmetricEigen: QL iteration did not converge');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          const ri = i * n;
          const ri1 = (i + 1) * n;
          if (withVectors)
            for (let k = 0; k < n; k++) {
              h = V[ri1 + k]!;
              V[ri1 + k] = s * V[ri + k]! + c * h;
              V[ri + k] = c * V[ri + k]! - s * h;
            }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  // Sort ascending (selection sort, as JAMA).
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = V[i * n + j]!;
        V[i * n + j] = V[k * n + j]!;
        V[k * n + j] = t;
      }
    }
  }
}
