/**
 * The spectrum of a token-embedding matrix: singular values (plain and column-centred) from the eigenvalues of
 * the streamed Gram matrix, the effective rank, and how much variance the first k principal components hold
 * for each Matryoshka dim — how close the rows lie to a low-dimensional space.
 */
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { centredGram, streamGram, type GramResult } from './gram.ts';
import { symmetricEigenvalues } from '../util/eigen.ts';

export interface SpectrumSummary {
  /** Singular values, largest first (sqrt of the Gram's eigenvalues; tiny negative round-off clamps to 0). */
  singular_values: number[];
  /** exp(entropy of σ/Σσ) (Roy & Vetterli): 1 for rank one, dim for a flat spectrum. */
  effective_rank: number;
  /** Number of σ above σ₁ · dim · 2⁻²³ (what f32 rows can resolve). */
  numerical_rank: number;
  /** (Σσ²)² / Σσ⁴, the participation ratio of the variances. */
  participation_ratio: number;
}

export interface Spectrum {
  rows: number;
  dim: number;
  uncentred: SpectrumSummary;
  centred: SpectrumSummary;
  /** Fraction of the centred variance in the first k principal components, for each requested k. */
  variance_explained: { k: number; fraction: number }[];
  /** Fraction of Σ‖row‖² in the first k right singular directions (uncentred), for each k. */
  energy_explained: { k: number; fraction: number }[];
}

export function singularValuesFromEigen(eig: Float64Array): number[] {
  return Array.from(eig, (l) => Math.sqrt(Math.max(0, l)));
}

export function summarize(sigma: number[], dim: number): SpectrumSummary {
  const total = sigma.reduce((a, b) => a + b, 0);
  let entropy = 0;
  for (const s of sigma) if (s > 0) entropy -= (s / total) * Math.log(s / total);
  const floor = (sigma[0] ?? 0) * dim * 2 ** -23;
  let sum2 = 0;
  let sum4 = 0;
  for (const s of sigma) {
    sum2 += s * s;
    sum4 += s ** 4;
  }
  return {
    singular_values: sigma,
    effective_rank: total > 0 ? Math.exp(entropy) : 0,
    numerical_rank: sigma.filter((s) => s > floor && s > 0).length,
    participation_ratio: sum4 > 0 ? (sum2 * sum2) / sum4 : 0,
  };
}

/** Fraction of Σσ² held by the first k values, for each k (k capped at the number of values). */
export function explained(sigma: number[], ks: number[]): { k: number; fraction: number }[] {
  const total = sigma.reduce((a, s) => a + s * s, 0);
  return ks.map((k) => {
    let part = 0;
    for (let i = 0; i < Math.min(k, sigma.length); i++) part += sigma[i]! ** 2;
    return { k, fraction: total > 0 ? part / total : 0 };
  });
}

/** The spectrum from an accumulated Gram. */
export function spectrumOfGram(g: GramResult, ks: number[]): Spectrum {
  const plain = singularValuesFromEigen(symmetricEigenvalues(g.gram, g.dim));
  const centred = singularValuesFromEigen(symmetricEigenvalues(centredGram(g), g.dim));
  return {
    rows: g.rows,
    dim: g.dim,
    uncentred: summarize(plain, g.dim),
    centred: summarize(centred, g.dim),
    variance_explained: explained(centred, ks),
    energy_explained: explained(plain, ks),
  };
}

/** Stream the matrix once and compute its spectrum. */
export async function spectrum(m: RowMatrix, ks: number[], opts: { blockRows?: number; onBlock?: (rowsDone: number) => void } = {}): Promise<Spectrum> {
  return spectrumOfGram(await streamGram(m, opts), ks);
}
