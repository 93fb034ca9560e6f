/**
 * The token map: a 2-D PCA scatter of a seeded sample of tokens, stratified by token kind so that rare kinds
 * (byte and special tokens) show up beside the letters that fill a vocabulary, with a short readable label for a
 * few tokens of each kind; and the row-norm distribution of each kind. The two principal axes come from the
 * centred Gram the spectrum already accumulated (no extra pass over the rows), the sample's rows are then read
 * one by one.
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';
import type { TextTokenizer } from '../tokenize/tokenizer.ts';
import { mulberry32, shuffleInPlace } from '../util/random.ts';
import { TOKEN_KINDS, tokenText, type TokenKind } from './token-kind.ts';

/**
 * The top `count` eigenvectors (unit, as rows of the result) and eigenvalues of the symmetric d × d matrix `a`,
 * by subspace iteration with a Rayleigh–Ritz step: O(iterations · p · d²) against the O(d³) of a full
 * decomposition (seconds at 2304 wide rather than minutes). The block is wider than `count` (p = count + 6) so
 * the asked vectors converge at the rate λ_{p+1}/λ_count, not λ_{count+1}/λ_count.
 */
export function topEigenvectors(
  a: Float64Array,
  d: number,
  count: number,
  opts: { iterations?: number; seed?: number } = {},
): { values: number[]; vectors: Float64Array[] } {
  const p = Math.min(d, count + 6);
  const rnd = mulberry32(opts.seed ?? 1);
  let q = Array.from({ length: p }, () => Float64Array.from({ length: d }, () => rnd() - 0.5));
  orthonormalize(q);
  let values: number[] = [];
  for (let it = 0; it < (opts.iterations ?? 200); it++) {
    const z = q.map((v) => multiply(a, d, v));
    orthonormalize(z);
    // Rayleigh–Ritz: eigen-decompose the p × p projection ZᵀAZ (Jacobi; p is tiny) and rotate Z by it.
    const az = z.map((v) => multiply(a, d, v));
    const h = new Float64Array(p * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) h[i * p + j] = dot(z[i]!, az[j]!);
    const { values: ritz, vectors } = jacobiEigen(h, p);
    q = ritz.map((_, c) => {
      const v = new Float64Array(d);
      for (let i = 0; i < p; i++) {
        const w = vectors[i * p + c]!;
        const zi = z[i]!;
        for (let j = 0; j < d; j++) v[j] = v[j]! + w * zi[j]!;
      }
      return v;
    });
    const next = ritz.slice(0, count);
    const settled = values.length === count && next.every((v, i) => Math.abs(v - values[i]!) <= 1e-12 * Math.abs(ritz[0]!));
    values = next;
    if (settled) break;
  }
  // A fixed sign (largest-magnitude entry positive) so that the same matrix always draws the same map.
  const vectors = q.slice(0, count).map((v) => {
    let big = 0;
    for (let j = 0; j < d; j++) if (Math.abs(v[j]!) > Math.abs(v[big]!)) big = j;
    if (v[big]! < 0) for (let j = 0; j < d; j++) v[j] = -v[j]!;
    return v;
  });
  return { values, vectors };
}

function multiply(a: Float64Array, d: number, v: Float64Array): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    const row = i * d;
    for (let j = 0; j < d; j++) s += a[row + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** Modified Gram–Schmidt in place; a vector that collapses (rank-deficient input) is replaced by zeros. */
function orthonormalize(vs: Float64Array[]): void {
  for (let i = 0; i < vs.length; i++) {
    const v = vs[i]!;
    for (let k = 0; k < i; k++) {
      const u = vs[k]!;
      const s = dot(u, v);
      for (let j = 0; j < v.length; j++) v[j] = v[j]! - s * u[j]!;
    }
    const n = Math.sqrt(dot(v, v));
    for (let j = 0; j < v.length; j++) v[j] = n > 1e-300 ? v[j]! / n : 0;
  }
}

/** Cyclic Jacobi for a small symmetric matrix: eigenvalues descending, eigenvectors as columns (row-major). */
function jacobiEigen(h: Float64Array, p: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(h);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += a[i * p + j]! ** 2;
    if (off < 1e-30) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = a[i * p + j]!;
        if (aij === 0) continue;
        const theta = (a[j * p + j]! - a[i * p + i]!) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < p; k++) {
          const aki = a[k * p + i]!;
          const akj = a[k * p + j]!;
          a[k * p + i] = c * aki - s * akj;
          a[k * p + j] = s * aki + c * akj;
        }
        for (let k = 0; k < p; k++) {
          const aik = a[i * p + k]!;
          const ajk = a[j * p + k]!;
          a[i * p + k] = c * aik - s * ajk;
          a[j * p + k] = s * aik + c * ajk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i]!;
          const vkj = v[k * p + j]!;
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort((x, y) => a[y * p + y]! - a[x * p + x]!);
  const vectors = new Float64Array(p * p);
  order.forEach((src, c) => {
    for (let k = 0; k < p; k++) vectors[k * p + c] = v[k * p + src]!;
  });
  return { values: order.map((i) => a[i * p + i]!), vectors };
}

export interface MapPoint {
  id: number;
  /** The token as decoded text (null when the matrix has rows beyond the tokenizer). */
  token: string | null;
  kind: TokenKind | 'unknown';
  x: number;
  y: number;
  /** Drawn with its text on the page. */
  labelled: boolean;
}

export interface TokenMap {
  /** Fraction of the centred variance along each of the two axes. */
  axis_variance: [number, number];
  points: MapPoint[];
}

export interface KindNorms {
  kind: TokenKind | 'unknown';
  count: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  mean: number;
}

/** Quantile q of sorted values by linear interpolation between order statistics (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

type Kinds = readonly (TokenKind | undefined)[] | undefined;

const kindOf = (kinds: Kinds, id: number): TokenKind | 'unknown' => kinds?.[id] ?? 'unknown';

/** Row-norm quartiles per kind, in TOKEN_KINDS order (kinds with no rows left out; 'unknown' last). */
export function normsByKind(norms: Float64Array, kinds: Kinds): KindNorms[] {
  const groups = new Map<TokenKind | 'unknown', number[]>();
  norms.forEach((n, id) => {
    const k = kindOf(kinds, id);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(n);
  });
  return [...TOKEN_KINDS, 'unknown' as const]
    .filter((k) => groups.has(k))
    .map((kind) => {
      const g = Float64Array.from(groups.get(kind)!).sort();
      return {
        kind,
        count: g.length,
        min: g[0]!,
        q1: quantile(g, 0.25),
        median: quantile(g, 0.5),
        q3: quantile(g, 0.75),
        max: g[g.length - 1]!,
        mean: g.reduce((s, v) => s + v, 0) / g.length,
      };
    });
}

/** A token as a short one-line label: whitespace made visible, long tokens cut. */
export function tokenLabel(text: string): string {
  const shown = text.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/\r/g, '↵');
  const chars = [...shown];
  return chars.length > 12 ? `${chars.slice(0, 11).join('')}…` : shown;
}

export interface TokenMapOptions {
  /** Points per kind at most (default 400). */
  perKind?: number;
  /** Points per kind drawn with their text (default 6). */
  labelsPerKind?: number;
  seed?: number;
}

/**
 * Project a stratified seeded sample of rows onto the top two principal axes of `centred` (the centred Gram;
 * `mean` the column means). Zero rows are left out (they sit at −mean, telling nothing about the tokens).
 */
export async function tokenMap(
  m: RowMatrix,
  centred: Float64Array,
  mean: Float64Array,
  norms: Float64Array,
  kinds: Kinds,
  tok: TextTokenizer | undefined,
  opts: TokenMapOptions = {},
): Promise<TokenMap> {
  const d = m.dim;
  const { values, vectors } = topEigenvectors(centred, d, Math.min(2, d));
  let trace = 0;
  for (let i = 0; i < d; i++) trace += centred[i * d + i]!;
  const byKind = new Map<TokenKind | 'unknown', number[]>();
  for (let id = 0; id < m.rows; id++) {
    if (norms[id] === 0) continue;
    const k = kindOf(kinds, id);
    let g = byKind.get(k);
    if (!g) byKind.set(k, (g = []));
    g.push(id);
  }
  const rnd = mulberry32(opts.seed ?? 1);
  const points: MapPoint[] = [];
  for (const [kind, ids] of byKind) {
    const pick = shuffleInPlace(ids, rnd).slice(0, opts.perKind ?? 400);
    // Labels on the random sample's first few, so each kind shows readable examples; rows are then read in order.
    const labelled = new Set(pick.slice(0, opts.labelsPerKind ?? 6));
    pick.sort((a, b) => a - b);
    for (let i = 0; i < pick.length; i++) {
      const id = pick[i]!;
      const row = await m.readRows(id, 1);
      const xy = vectors.map((v) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += (row[j]! - mean[j]!) * v[j]!;
        return s;
      });
      points.push({ id, token: tok ? (tokenText(tok, id) ?? null) : null, kind, x: xy[0] ?? 0, y: xy[1] ?? 0, labelled: labelled.has(id) });
    }
  }
  const frac = (i: number) => (trace > 0 ? Math.max(0, values[i] ?? 0) / trace : 0);
  return { axis_variance: [frac(0), frac(1)], points };
}
