/**
 * Exact GELU (the erf form PyTorch's `F.gelu` uses by default) and its derivative, in plain JS: token
 * weights are scaled by gelu(w) on the CPU side of the pooled formulation, so no tensor library is needed.
 */

/** erf(x) to ~1.2e-7 relative error (Numerical Recipes' Chebyshev fit of erfc): below float32 precision. */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** gelu(x) = x·Φ(x). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** d gelu / dx = Φ(x) + x·φ(x). */
export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}
