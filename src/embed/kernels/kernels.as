// AssemblyScript source of the WebAssembly SIMD kernels (built by scripts/build-kernels.ts into wasm.generated.ts).
// Named .as, not .ts, so tsc and eslint leave it to asc: its types (f32, v128, usize) are AssemblyScript's.
// Every pointer is a byte offset into this module's memory; the JS side (index.ts) copies inputs in and results
// out. Layouts are those of the JS reference paths: row-major f32 rows, 32-bit code words.

/** Bytes of memory the JS side may use from offset 0, growing it in 64 KiB pages when `bytes` needs more. */
export function reserve(bytes: i32): i32 {
  const have = memory.size() << 16;
  if (bytes > have) {
    const pages = ((bytes - have + 0xffff) >>> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  return 1;
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * Interleave `rows` row-major f32 rows of `dim` values (a multiple of 4) in groups of `group` rows, chunk by
 * chunk: group g, chunk c holds the 16-byte chunks c of rows g·group … g·group + group − 1 one after another.
 * The last group is padded with zero rows. cosineTiles then walks a group with one pointer and constant
 * offsets, instead of one address computation per row per load.
 */
export function packRows(src: usize, rows: i32, dim: i32, group: i32, dst: usize): void {
  const rowBytes = <usize>dim << 2;
  const groups = (rows + group - 1) / group;
  let o = dst;
  for (let g = 0; g < groups; g++) {
    for (let j: usize = 0; j < rowBytes; j += 16) {
      for (let r = 0; r < group; r++) {
        const row = g * group + r;
        v128.store(o, row < rows ? v128.load(src + <usize>row * rowBytes + j) : f32x4.splat(0));
        o += 16;
      }
    }
  }
}

/** (dot · s) · t in f64, the JS reference's order of operations. */
@inline function scaled(c: v128, s: f64, t: f64): f32 {
  return <f32>(<f64>hsum(c) * s * t);
}

/**
 * Cosine tiles: out[i·ldo + k] = (a_i · b_k) · ia[i] · ib[k] for the `groupsA` × 4 rows of a packed by
 * packRows in groups of 4 and the `pairsB` × 2 rows of b packed in groups of 2 (padding rows have zero inverse
 * norms, so their cells are 0). The dot products accumulate in f32 lanes; the inverse norms are f64 and the
 * scaling is done in f64, as in the JS reference, so the only difference from it is the f32 dot product.
 * Four rows of a against two of b per pass: eight accumulators share six loads, all at constant offsets from
 * two pointers. b is walked in panels of about 128 KB that stay in the core's L2 cache while every group of a
 * passes over them. (Unrolling the chunk loop by 2 or 4 measured slower in V8: the optimiser hoists the loads
 * and the accumulators spill out of the 16 vector registers.)
 */
export function cosineTiles(pa: usize, groupsA: i32, pb: usize, pairsB: i32, dim: i32, ia: usize, ib: usize, out: usize, ldo: i32): void {
  const rowBytes = <usize>dim << 2;
  const groupBytes = rowBytes << 2;
  const pairBytes = rowBytes << 1;
  const chunks = dim >> 2;
  const panel = max<i32>(1, (128 << 10) / <i32>pairBytes);
  const step = <usize>ldo << 2;
  for (let p0 = 0; p0 < pairsB; p0 += panel) {
    const p1 = min<i32>(pairsB, p0 + panel);
    for (let g = 0; g < groupsA; g++) {
      const ga = pa + <usize>g * groupBytes;
      const s0 = load<f64>(ia + (<usize>g << 5));
      const s1 = load<f64>(ia + (<usize>g << 5), 8);
      const s2 = load<f64>(ia + (<usize>g << 5), 16);
      const s3 = load<f64>(ia + (<usize>g << 5), 24);
      const o = out + (<usize>g << 2) * step;
      for (let p = p0; p < p1; p++) {
        let y = ga;
        let x = pb + <usize>p * pairBytes;
        let c00 = f32x4.splat(0), c10 = f32x4.splat(0), c20 = f32x4.splat(0), c30 = f32x4.splat(0);
        let c01 = f32x4.splat(0), c11 = f32x4.splat(0), c21 = f32x4.splat(0), c31 = f32x4.splat(0);
        for (let c = 0; c < chunks; c++) {
          const x0 = v128.load(x), x1 = v128.load(x, 16);
          let y0 = v128.load(y);
          c00 = f32x4.add(c00, f32x4.mul(y0, x0)); c01 = f32x4.add(c01, f32x4.mul(y0, x1));
          y0 = v128.load(y, 16);
          c10 = f32x4.add(c10, f32x4.mul(y0, x0)); c11 = f32x4.add(c11, f32x4.mul(y0, x1));
          y0 = v128.load(y, 32);
          c20 = f32x4.add(c20, f32x4.mul(y0, x0)); c21 = f32x4.add(c21, f32x4.mul(y0, x1));
          y0 = v128.load(y, 48);
          c30 = f32x4.add(c30, f32x4.mul(y0, x0)); c31 = f32x4.add(c31, f32x4.mul(y0, x1));
          x += 32;
          y += 64;
        }
        const t0 = load<f64>(ib + (<usize>p << 4));
        const t1 = load<f64>(ib + (<usize>p << 4), 8);
        const q = o + (<usize>p << 3);
        store<f32>(q, scaled(c00, s0, t0));
        store<f32>(q, scaled(c01, s0, t1), 4);
        store<f32>(q + step, scaled(c10, s1, t0));
        store<f32>(q + step, scaled(c11, s1, t1), 4);
        store<f32>(q + 2 * step, scaled(c20, s2, t0));
        store<f32>(q + 2 * step, scaled(c21, s2, t1), 4);
        store<f32>(q + 3 * step, scaled(c30, s3, t0));
        store<f32>(q + 3 * step, scaled(c31, s3, t1), 4);
      }
    }
  }
}

/**
 * out[i·nb + k] = table[distance], the Hamming similarity of code rows i of a and k of b, `words` 32-bit words
 * per row. `table` holds the f32 similarity for every distance 0..bits, computed by the JS side with the JS
 * reference's own arithmetic, so results are bit-identical and the inner loop does no float math. 64-bit XOR +
 * popcnt (one machine instruction each); 256-bit codes, the common width, get a straight-line path.
 */
export function hammingBlock(a: usize, na: i32, b: usize, nb: i32, words: i32, table: usize, out: usize): void {
  const rowBytes = <usize>words << 2;
  const pairBytes = rowBytes & ~(<usize>7);
  for (let i = 0; i < na; i++) {
    const ai = a + <usize>i * rowBytes;
    const o = out + ((<usize>i * <usize>nb) << 2);
    if (rowBytes == 32) {
      const w0 = load<i64>(ai), w1 = load<i64>(ai, 8), w2 = load<i64>(ai, 16), w3 = load<i64>(ai, 24);
      for (let k = 0; k < nb; k++) {
        const bk = b + (<usize>k << 5);
        const d = popcnt<i64>(w0 ^ load<i64>(bk)) + popcnt<i64>(w1 ^ load<i64>(bk, 8))
          + popcnt<i64>(w2 ^ load<i64>(bk, 16)) + popcnt<i64>(w3 ^ load<i64>(bk, 24));
        store<f32>(o + (<usize>k << 2), load<f32>(table + (<usize>d << 2)));
      }
      continue;
    }
    for (let k = 0; k < nb; k++) {
      const bk = b + <usize>k * rowBytes;
      let d: i64 = 0;
      let j: usize = 0;
      for (; j < pairBytes; j += 8) d += popcnt<i64>(load<i64>(ai + j) ^ load<i64>(bk + j));
      if (j < rowBytes) d += <i64>popcnt<i32>(load<i32>(ai + j) ^ load<i32>(bk + j));
      store<f32>(o + (<usize>k << 2), load<f32>(table + (<usize>d << 2)));
    }
  }
}

/**
 * k-means assignment: for each of `n` rows of x, the nearest of `k` centers by squared Euclidean distance
 * (f32 SIMD lanes), its index into labels[i] (i32) and the distance into best[i] (f32). Ties keep the lower
 * center, as the JS reference does. Two centers per pass share each x load.
 */
export function assignBlock(x: usize, n: i32, centers: usize, k: i32, dim: i32, labels: usize, best: usize): void {
  const rowBytes = <usize>dim << 2;
  for (let i = 0; i < n; i++) {
    const xi = x + <usize>i * rowBytes;
    let bestD: f32 = Infinity;
    let bestC = 0;
    let c = 0;
    for (; c + 2 <= k; c += 2) {
      const c0 = centers + <usize>c * rowBytes;
      const c1 = c0 + rowBytes;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
      for (let j: usize = 0; j < rowBytes; j += 16) {
        const v = v128.load(xi + j);
        const d0 = f32x4.sub(v, v128.load(c0 + j));
        const d1 = f32x4.sub(v, v128.load(c1 + j));
        s0 = f32x4.add(s0, f32x4.mul(d0, d0));
        s1 = f32x4.add(s1, f32x4.mul(d1, d1));
      }
      const e0 = hsum(s0);
      const e1 = hsum(s1);
      if (e0 < bestD) { bestD = e0; bestC = c; }
      if (e1 < bestD) { bestD = e1; bestC = c + 1; }
    }
    if (c < k) {
      const c0 = centers + <usize>c * rowBytes;
      let s0 = f32x4.splat(0);
      for (let j: usize = 0; j < rowBytes; j += 16) {
        const d0 = f32x4.sub(v128.load(xi + j), v128.load(c0 + j));
        s0 = f32x4.add(s0, f32x4.mul(d0, d0));
      }
      const e0 = hsum(s0);
      if (e0 < bestD) { bestD = e0; bestC = c; }
    }
    store<i32>(labels + (<usize>i << 2), bestC);
    store<f32>(best + (<usize>i << 2), bestD);
  }
}

/**
 * Gram accumulation for `pipeline inspect`: gram[i·dim + j] += Σ_r cols[i][r] · cols[j][r] for j ≥ i (f64 gram,
 * row-major; a few entries below the diagonal are touched too and are left for the caller to overwrite), where
 * `cols` holds one block of `n` rows transposed to column-major f64 (the f32 rows widened), `n` even (pad with a
 * zero row). The product of two f32 values is exact in f64 and the sums run in f64 lanes, so the result differs
 * from the plain-JS f64 loop only in the order of the additions. f32 lanes would be twice as fast but their
 * rounding (~1e-7 of λ₁ per entry) lifts every small singular value to about √(1e-7)·σ₁, which hides the rank
 * of a rank-deficient matrix and misses 1e-6 relative on all but the leading values.
 * Four columns against two per pass: eight accumulators share six loads (the cosineBlock shape).
 */
export function gramBlock(cols: usize, n: i32, dim: i32, gram: usize): void {
  const colBytes = <usize>n << 3;
  const rowStride = <usize>dim << 3;
  let i = 0;
  for (; i + 4 <= dim; i += 4) {
    const a0 = cols + <usize>i * colBytes;
    const a1 = a0 + colBytes;
    const a2 = a1 + colBytes;
    const a3 = a2 + colBytes;
    const g0 = gram + <usize>i * rowStride;
    let j = i;
    for (; j + 2 <= dim; j += 2) {
      const b0 = cols + <usize>j * colBytes;
      const b1 = b0 + colBytes;
      let c00 = f64x2.splat(0), c10 = f64x2.splat(0), c20 = f64x2.splat(0), c30 = f64x2.splat(0);
      let c01 = f64x2.splat(0), c11 = f64x2.splat(0), c21 = f64x2.splat(0), c31 = f64x2.splat(0);
      for (let r: usize = 0; r < colBytes; r += 16) {
        const x0 = v128.load(b0 + r);
        const x1 = v128.load(b1 + r);
        const y0 = v128.load(a0 + r);
        const y1 = v128.load(a1 + r);
        const y2 = v128.load(a2 + r);
        const y3 = v128.load(a3 + r);
        c00 = f64x2.add(c00, f64x2.mul(y0, x0));
        c10 = f64x2.add(c10, f64x2.mul(y1, x0));
        c20 = f64x2.add(c20, f64x2.mul(y2, x0));
        c30 = f64x2.add(c30, f64x2.mul(y3, x0));
        c01 = f64x2.add(c01, f64x2.mul(y0, x1));
        c11 = f64x2.add(c11, f64x2.mul(y1, x1));
        c21 = f64x2.add(c21, f64x2.mul(y2, x1));
        c31 = f64x2.add(c31, f64x2.mul(y3, x1));
      }
      const o = g0 + (<usize>j << 3);
      addF64(o, c00);
      addF64(o + 8, c01);
      addF64(o + rowStride, c10);
      addF64(o + rowStride + 8, c11);
      addF64(o + 2 * rowStride, c20);
      addF64(o + 2 * rowStride + 8, c21);
      addF64(o + 3 * rowStride, c30);
      addF64(o + 3 * rowStride + 8, c31);
    }
    if (j < dim) {
      for (let k = 0; k < 4; k++) gramPair(cols, i + k, j, colBytes, gram, rowStride);
    }
  }
  for (; i < dim; i++) {
    for (let j = i; j < dim; j++) gramPair(cols, i, j, colBytes, gram, rowStride);
  }
}

@inline function addF64(at: usize, v: v128): void {
  store<f64>(at, load<f64>(at) + (f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1)));
}

@inline function gramPair(cols: usize, i: i32, j: i32, colBytes: usize, gram: usize, rowStride: usize): void {
  const ai = cols + <usize>i * colBytes;
  const bj = cols + <usize>j * colBytes;
  let c = f64x2.splat(0);
  for (let r: usize = 0; r < colBytes; r += 16) c = f64x2.add(c, f64x2.mul(v128.load(ai + r), v128.load(bj + r)));
  addF64(gram + <usize>i * rowStride + (<usize>j << 3), c);
}
