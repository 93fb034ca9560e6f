/**
 * GELU in its exact erf form (PyTorch's default `F.gelu`), and its derivative: values against reference numbers
 * computed from the closed form x·Φ(x), and the derivative against central differences.
 */
import { describe, expect, it } from 'vitest';
import { gelu, geluGrad } from '../../src/model/gelu.ts';

// x·Φ(x) with Φ from a high-precision erf (Python: 0.5*x*(1+math.erf(x/math.sqrt(2))))
const REFERENCE: [number, number][] = [
  [0, 0],
  [1, 0.8413447460685429],
  [-1, -0.15865525393145707],
  [0.5, 0.34573123063700656],
  [-2, -0.04550026389635842],
  [3, 2.99595030590511],
];

describe('gelu', () => {
  it('matches the erf form to below float32 precision', () => {
    for (const [x, y] of REFERENCE) expect(Math.abs(gelu(x) - y)).toBeLessThan(2e-7 * Math.max(1, Math.abs(y)));
  });

  it('its derivative matches central differences', () => {
    for (let x = -4; x <= 4; x += 0.25) {
      const h = 1e-4;
      const numeric = (gelu(x + h) - gelu(x - h)) / (2 * h);
      expect(Math.abs(geluGrad(x) - numeric)).toBeLessThan(1e-5);
    }
  });
});
