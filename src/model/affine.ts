/**
 * The one small dense product the JS side needs (projection of pooled rows, whitening of sentence vectors):
 * out[r] = bias + x[r, :inDim]·M[:, :outDim], float64 accumulation, zero inputs skipped (empty texts give zero
 * rows). Pure, no TF.js.
 */
export function rowsTimesMatrix(
  x: Float32Array,
  rows: number,
  xStride: number,
  inDim: number,
  m: Float32Array,
  mStride: number,
  outDim: number,
  bias?: Float32Array,
  out?: Float32Array,
): Float32Array {
  const res = out && out.length >= rows * outDim ? out : new Float32Array(rows * outDim);
  const acc = new Float64Array(outDim);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < outDim; k++) acc[k] = bias ? bias[k]! : 0;
    for (let i = 0; i < inDim; i++) {
      const v = x[r * xStride + i]!;
      if (v === 0) continue;
      const o = i * mStride;
      for (let k = 0; k < outDim; k++) acc[k]! += v * m[o + k]!;
    }
    for (let k = 0; k < outDim; k++) res[r * outDim + k] = acc[k]!;
  }
  return res.subarray(0, rows * outDim);
}
