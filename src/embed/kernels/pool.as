// AssemblyScript source of the mean-pooling kernel (built by scripts/build-kernels.ts into pool-wasm.generated.ts),
// the inner loop of `embed`: the average of a text's token rows, float16 rows decoded in the kernel. A module of
// its own, apart from kernels.as: each model holds an instance whose memory keeps its rows between calls
// (src/embed/kernels/pool-kernel.ts), and the similarity kernels stay small enough to compile synchronously on a
// browser's main thread wherever this one cannot.
// Named .as, not .ts, so tsc and eslint leave it to asc: its types (f32, v128, usize) are AssemblyScript's.
export { reserve } from './kernels';

/** 2^112 as f32: scales a float16's bits moved into f32 position (<< 13) to its value, subnormals included. */
const HALF_SCALE: f32 = reinterpret<f32>(0x77800000);

/**
 * Four float16 values (u16 bits in the i32 lanes of `h`) as f32x4, exactly: the 15 low bits shifted into f32
 * position give the value times 2^-112 for normals and subnormals alike, so one exact multiply by 2^112 decodes
 * both. Exponent 31 (Inf, NaN) comes out of the multiply with f32 exponent 143, whose bits are a subset of
 * 255's: or-ing 0x7f800000 into those lanes makes them Inf or NaN with their mantissa kept. The sign is or-ed
 * back last. The same values as the JS reference's 65 536-entry table, bit for bit (tested over all 65 536).
 * (The table itself, in wasm memory, measured no faster: 16 scalar loads per 16 values instead of 4 vector ones.)
 */
@inline function halfToF32x4(h: v128): v128 {
  const abs = v128.and(h, i32x4.splat(0x7fff));
  const value = f32x4.mul(i32x4.shl(abs, 13), f32x4.splat(HALF_SCALE));
  const special = v128.and(i32x4.gt_s(abs, i32x4.splat(0x7bff)), i32x4.splat(0x7f800000));
  return v128.or(v128.or(value, special), i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** The scalar form of halfToF32x4, for the last d % 4 values. */
@inline function halfToF32(h: u32): f32 {
  const abs = h & 0x7fff;
  const value = abs > 0x7bff ? reinterpret<f32>((abs << 13) | 0x7f800000) : reinterpret<f32>(abs << 13) * HALF_SCALE;
  return reinterpret<f32>(reinterpret<u32>(value) | ((h & 0x8000) << 16));
}

/** Four values of a row at `p` as f32x4: float16 bits decoded, or f32 as they are (`half` is a constant after inlining). */
@inline function load4(half: bool, p: usize): v128 {
  return half ? halfToF32x4(v128.load16x4_u(p)) : v128.load(p);
}

@inline function load1(half: bool, p: usize): f32 {
  return half ? halfToF32(<u32>load<u16>(p)) : load<f32>(p);
}

@inline function lowF64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

@inline function highF64(v: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3));
}

/** Tokens per pass over a text's rows: the rows of one pass (≤ 64 × 512 B at 256 f16 values) stay in L1. */
const TOKEN_GROUP = 64;

/** Byte address of the row of token k: ids[k] through `mapping` when there is one. */
@inline function rowAt(rows: usize, rowBytes: usize, ids: usize, mapping: usize, k: i32): usize {
  const id = load<i32>(ids + (<usize>k << 2));
  const row = mapping ? load<i32>(mapping + (<usize>id << 2)) : id;
  return rows + <usize>row * rowBytes;
}

/** Scale of token k (1 without a scale array), as the f64 the reference multiplies by. */
@inline function scaleAt(ids: usize, scale: usize, k: i32): f64 {
  return scale ? <f64>load<f32>(scale + (<usize>load<i32>(ids + (<usize>k << 2)) << 2)) : 1.0;
}

/**
 * Mean pooling, the body of poolF16 and poolF32 (`half` a constant there): for each of `texts` texts, whose
 * tokens are ids[ends[t−1] … ends[t]) (ends[−1] = 0), out[t·d + j] = f32((Σ_k s_k · row_k[j]) · (1/n)) for j < d,
 * row_k the matrix row of token k (through `mapping` when non-zero), s_k its scale (`scale` non-zero: f32 per
 * token id), n the text's tokens; a text with no tokens gets zeros.
 * The sums run in f64 lanes, component by component in token order, each value widened exactly from f32 and
 * each product of two f32 exact in f64: the same operations in the same order as the JS reference (poolIds), so
 * the rows are bit-identical to it, however long the text (no f32 partial sums, nothing to bound).
 * Columns go 16 at a time (eight f64x2 accumulators in registers) over the rows of up to TOKEN_GROUP tokens;
 * longer texts carry the sums between groups in `acc` (d f64), so each group's rows stay in cache while
 * every column block reads them.
 */
@inline function poolBody(half: bool, rows: usize, rowBytes: usize, ids: usize, ends: usize, texts: i32, mapping: usize, scale: usize, d: i32, acc: usize, out: usize): void {
  const vb: usize = half ? 1 : 2; // log2 of the bytes per value
  let start = 0;
  for (let t = 0; t < texts; t++) {
    const end = load<i32>(ends + (<usize>t << 2));
    const o = out + ((<usize>t * <usize>d) << 2);
    const n = end - start;
    if (n == 0) {
      memory.fill(o, 0, <usize>d << 2);
      continue;
    }
    for (let g0 = start; g0 < end; g0 += TOKEN_GROUP) {
      const g1 = min<i32>(end, g0 + TOKEN_GROUP);
      const first = g0 == start;
      let c = 0;
      for (; c + 16 <= d; c += 16) {
        const at = acc + (<usize>c << 3);
        let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
        let a4 = f64x2.splat(0), a5 = f64x2.splat(0), a6 = f64x2.splat(0), a7 = f64x2.splat(0);
        if (!first) {
          a0 = v128.load(at); a1 = v128.load(at, 16); a2 = v128.load(at, 32); a3 = v128.load(at, 48);
          a4 = v128.load(at, 64); a5 = v128.load(at, 80); a6 = v128.load(at, 96); a7 = v128.load(at, 112);
        }
        const col = <usize>c << vb;
        if (scale) {
          for (let k = g0; k < g1; k++) {
            const p = rowAt(rows, rowBytes, ids, mapping, k) + col;
            const s = f64x2.splat(scaleAt(ids, scale, k));
            const v0 = load4(half, p), v1 = load4(half, p + (4 << vb)), v2 = load4(half, p + (8 << vb)), v3 = load4(half, p + (12 << vb));
            a0 = f64x2.add(a0, f64x2.mul(lowF64(v0), s)); a1 = f64x2.add(a1, f64x2.mul(highF64(v0), s));
            a2 = f64x2.add(a2, f64x2.mul(lowF64(v1), s)); a3 = f64x2.add(a3, f64x2.mul(highF64(v1), s));
            a4 = f64x2.add(a4, f64x2.mul(lowF64(v2), s)); a5 = f64x2.add(a5, f64x2.mul(highF64(v2), s));
            a6 = f64x2.add(a6, f64x2.mul(lowF64(v3), s)); a7 = f64x2.add(a7, f64x2.mul(highF64(v3), s));
          }
        } else {
          for (let k = g0; k < g1; k++) {
            const p = rowAt(rows, rowBytes, ids, mapping, k) + col;
            const v0 = load4(half, p), v1 = load4(half, p + (4 << vb)), v2 = load4(half, p + (8 << vb)), v3 = load4(half, p + (12 << vb));
            a0 = f64x2.add(a0, lowF64(v0)); a1 = f64x2.add(a1, highF64(v0));
            a2 = f64x2.add(a2, lowF64(v1)); a3 = f64x2.add(a3, highF64(v1));
            a4 = f64x2.add(a4, lowF64(v2)); a5 = f64x2.add(a5, highF64(v2));
            a6 = f64x2.add(a6, lowF64(v3)); a7 = f64x2.add(a7, highF64(v3));
          }
        }
        v128.store(at, a0); v128.store(at, a1, 16); v128.store(at, a2, 32); v128.store(at, a3, 48);
        v128.store(at, a4, 64); v128.store(at, a5, 80); v128.store(at, a6, 96); v128.store(at, a7, 112);
      }
      for (; c + 4 <= d; c += 4) {
        const at = acc + (<usize>c << 3);
        let a0 = first ? f64x2.splat(0) : v128.load(at);
        let a1 = first ? f64x2.splat(0) : v128.load(at, 16);
        const col = <usize>c << vb;
        for (let k = g0; k < g1; k++) {
          const v = load4(half, rowAt(rows, rowBytes, ids, mapping, k) + col);
          if (scale) {
            const s = f64x2.splat(scaleAt(ids, scale, k));
            a0 = f64x2.add(a0, f64x2.mul(lowF64(v), s)); a1 = f64x2.add(a1, f64x2.mul(highF64(v), s));
          } else {
            a0 = f64x2.add(a0, lowF64(v)); a1 = f64x2.add(a1, highF64(v));
          }
        }
        v128.store(at, a0); v128.store(at, a1, 16);
      }
      for (; c < d; c++) {
        const at = acc + (<usize>c << 3);
        let a: f64 = first ? 0 : load<f64>(at);
        const col = <usize>c << vb;
        for (let k = g0; k < g1; k++) {
          const v = <f64>load1(half, rowAt(rows, rowBytes, ids, mapping, k) + col);
          a += scale ? v * scaleAt(ids, scale, k) : v;
        }
        store<f64>(at, a);
      }
    }
    // The mean, multiplied by 1/n in f64 and rounded once to f32, as the reference does.
    const inv = f64x2.splat(1.0 / <f64>n);
    let c = 0;
    for (; c + 4 <= d; c += 4) {
      const at = acc + (<usize>c << 3);
      const lo = f32x4.demote_f64x2_zero(f64x2.mul(v128.load(at), inv));
      const hi = f32x4.demote_f64x2_zero(f64x2.mul(v128.load(at, 16), inv));
      v128.store(o + (<usize>c << 2), i32x4.shuffle(lo, hi, 0, 1, 4, 5));
    }
    for (; c < d; c++) store<f32>(o + (<usize>c << 2), <f32>(load<f64>(acc + (<usize>c << 3)) * (1.0 / <f64>n)));
    start = end;
  }
}

/** Mean pooling of float16 rows (`rowBytes` apart from `rows`); see poolBody. */
export function poolF16(rows: usize, rowBytes: usize, ids: usize, ends: usize, texts: i32, mapping: usize, scale: usize, d: i32, acc: usize, out: usize): void {
  poolBody(true, rows, rowBytes, ids, ends, texts, mapping, scale, d, acc, out);
}

/** Mean pooling of f32 rows; see poolBody. */
export function poolF32(rows: usize, rowBytes: usize, ids: usize, ends: usize, texts: i32, mapping: usize, scale: usize, d: i32, acc: usize, out: usize): void {
  poolBody(false, rows, rowBytes, ids, ends, texts, mapping, scale, d, acc, out);
}
