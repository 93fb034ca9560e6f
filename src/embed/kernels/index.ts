/**
 * The WebAssembly SIMD kernels (kernels.as, built into wasm.generated.ts by scripts/build-kernels.ts), loaded
 * synchronously from the embedded base64 the same way in Node and the browser (the module is under the 4 KB a
 * browser's main thread may compile synchronously). Each entry point returns undefined when the kernel cannot
 * run (no WebAssembly SIMD, a shape it does not handle, too large for its memory); callers then take their JS
 * reference path, which the tests compare the kernels against. Browser-safe.
 */
import type { BinaryCodes, Embeddings, SimilarityMatrix } from '../types.ts';
import { KERNELS_WASM_BASE64 } from './wasm.generated.ts';

interface KernelExports {
  memory: WebAssembly.Memory;
  reserve(bytes: number): number;
  packRows(src: number, rows: number, dim: number, group: number, dst: number): void;
  cosineTiles(pa: number, groupsA: number, pb: number, pairsB: number, dim: number, ia: number, ib: number, out: number, ldo: number): void;
  hammingBlock(a: number, na: number, b: number, nb: number, words: number, table: number, out: number): void;
  assignBlock(x: number, n: number, centers: number, k: number, dim: number, labels: number, best: number): void;
}

/** Output cells computed per call: bounds the kernel memory (16 MB of output) whatever the matrix size. */
const BLOCK_CELLS = 4 << 20;
/** Memory the kernels may ask for; beyond it the JS path runs (wasm32 memory stops at 4 GB). */
export const MAX_BYTES = 1 << 30;

let loaded: KernelExports | null | undefined;
let disabled = false;

export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function kernels(): KernelExports | null {
  if (disabled) return null;
  if (loaded === undefined) {
    try {
      const module = new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64));
      loaded = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
    } catch {
      loaded = null; // no WebAssembly SIMD here: the JS paths serve
    }
  }
  return loaded;
}

/** Turn the kernels off (true) or back on; for benchmarks and tests that time or check the JS reference. */
export function disableKernels(off: boolean): void {
  disabled = off;
}

/** Whether the kernels loaded (false where WebAssembly SIMD is missing or they are disabled). */
export function kernelsAvailable(): boolean {
  return kernels() !== null;
}

/** A rows count per call: a multiple of 4 (the kernel's row block), at least 4, about BLOCK_CELLS cells. */
function rowsPerBlock(cols: number): number {
  return Math.max(4, Math.floor(BLOCK_CELLS / Math.max(1, cols) / 4) * 4);
}

const align16 = (n: number) => (n + 15) & ~15;

/**
 * One tile of a cosine matrix, handed to a visitor: cell (i0 + r, k0 + c) is data[r·ld + c] for r < rows,
 * c < cols. `data` is a view of the kernels' memory, valid only until the visitor returns (and the visitor must
 * not call a kernel itself).
 */
export interface CosineTile {
  data: Float32Array;
  ld: number;
  i0: number;
  rows: number;
  k0: number;
  cols: number;
}

export interface CosineTileOptions {
  /** Columns (rows of b) per block; each block is packed once. Default 2048. */
  colBlock?: number;
  /** Rows of a to compute against the block of columns [k0, k1) (a prefix of a; default all of a). */
  rowLimit?: (k0: number, k1: number) => number;
}

/** Bytes of packed a kept whole in kernel memory; beyond it a is packed again per block of columns. */
const PACKED_A_BYTES = 256 << 20;
/** Rows copied into kernel memory per packRows call. */
const STAGE_ROWS = 1024;

/**
 * Stream the cosine matrix of a × b through `visit`, tile by tile, without ever holding it whole: blocks of
 * columns in order, and for each block the row chunks of a in order (so a visitor can rely on every earlier
 * column block being done). Inverse norms are the caller's (`ia`, `ib`; 0 for a zero row). Returns false,
 * having visited nothing, when the kernel cannot run (no SIMD, `dim` not a multiple of 4, too much memory).
 */
export function wasmCosineTiles(
  a: Embeddings,
  ia: Float64Array,
  b: Embeddings,
  ib: Float64Array,
  visit: (t: CosineTile) => void,
  opts: CosineTileOptions = {},
): boolean {
  const k = kernels();
  const dim = a.dim;
  if (!k || dim % 4 !== 0 || dim === 0 || a.rows === 0 || b.rows === 0) return false;
  const rowBytes = dim * 4;
  const colBlock = Math.min(b.rows, Math.max(2, opts.colBlock ?? 2048));
  const pairsMax = Math.ceil(colBlock / 2);
  const ldoMax = pairsMax * 2;
  const rowsA = Math.ceil(a.rows / 4) * 4;
  // Row chunks are a multiple of the column block when they can be, so a chunk boundary never splits a
  // diagonal block [k0, k1) of a matrix against itself.
  const unit = colBlock % 4 === 0 ? colBlock : colBlock % 2 === 0 ? colBlock * 2 : colBlock * 4;
  let rowChunk = Math.max(4, Math.floor(BLOCK_CELLS / ldoMax / 4) * 4);
  // (A column block too wide for the tile budget still gets a whole block of rows per tile.)
  rowChunk = Math.min(Math.max(unit, Math.floor(rowChunk / unit) * unit), rowsA);
  const packWhole = rowsA * rowBytes <= PACKED_A_BYTES;
  const stageRows = Math.min(STAGE_ROWS, Math.max(rowsA, ldoMax));
  const iaAt = 0;
  const aAt = align16(iaAt + rowsA * 8);
  const ibAt = align16(aAt + (packWhole ? rowsA : rowChunk) * rowBytes);
  const bAt = align16(ibAt + ldoMax * 8);
  const stageAt = align16(bAt + ldoMax * rowBytes);
  const outAt = align16(stageAt + stageRows * rowBytes);
  const end = outAt + rowChunk * ldoMax * 4;
  if (end > MAX_BYTES || !k.reserve(end)) return false;
  const f32 = new Float32Array(k.memory.buffer);
  const f64 = new Float64Array(k.memory.buffer);
  // Pack rows [r0, r1) of m in groups of `group` at dst, through the staging area.
  const pack = (m: Embeddings, r0: number, r1: number, group: number, dst: number) => {
    for (let s = r0; s < r1; s += stageRows) {
      const e = Math.min(r1, s + stageRows);
      f32.set(m.data.subarray(s * dim, e * dim), stageAt >> 2);
      k.packRows(stageAt, e - s, dim, group, dst + (s - r0) * rowBytes);
    }
  };
  f64.fill(0, iaAt >> 3, (iaAt >> 3) + rowsA);
  f64.set(ia.subarray(0, a.rows), iaAt >> 3);
  if (packWhole) pack(a, 0, a.rows, 4, aAt);
  for (let k0 = 0; k0 < b.rows; k0 += colBlock) {
    const k1 = Math.min(b.rows, k0 + colBlock);
    const pairs = Math.ceil((k1 - k0) / 2);
    f64.fill(0, ibAt >> 3, (ibAt >> 3) + pairs * 2);
    f64.set(ib.subarray(k0, k1), ibAt >> 3);
    pack(b, k0, k1, 2, bAt);
    const rowEnd = Math.min(a.rows, opts.rowLimit ? opts.rowLimit(k0, k1) : a.rows);
    for (let i0 = 0; i0 < rowEnd; i0 += rowChunk) {
      const rows = Math.min(rowChunk, rowEnd - i0);
      const groups = Math.ceil(rows / 4);
      let at = aAt + i0 * rowBytes;
      if (!packWhole) {
        pack(a, i0, i0 + rows, 4, aAt);
        at = aAt;
      }
      k.cosineTiles(at, groups, bAt, pairs, dim, iaAt + i0 * 8, ibAt, outAt, pairs * 2);
      visit({ data: f32.subarray(outAt >> 2, (outAt >> 2) + rows * pairs * 2), ld: pairs * 2, i0, rows, k0, cols: k1 - k0 });
    }
  }
  return true;
}

/**
 * All-pairs cosine `a.rows × b.rows` given the rows' inverse norms into out[offset …] (row-major, b.rows per
 * row), f32 accumulation in SIMD lanes (within 1e-6 of the float64 JS reference for cosines). False when the
 * kernel cannot run (then nothing is written). Needs `dim` a multiple of 4.
 */
export function wasmCosineInto(a: Embeddings, b: Embeddings, ia: Float64Array, ib: Float64Array, out: Float32Array, offset: number): boolean {
  const cols = b.rows;
  return wasmCosineTiles(a, ia, b, ib, (t) => {
    const at = offset + t.i0 * cols + t.k0;
    if (t.ld === cols && t.k0 === 0) out.set(t.data.subarray(0, t.rows * cols), at);
    else for (let r = 0; r < t.rows; r++) out.set(t.data.subarray(r * t.ld, r * t.ld + t.cols), at + r * cols);
  });
}

/** All-pairs Hamming similarity `1 − 2·distance/bits`, bit-identical to the JS reference. */
export function wasmHammingSimilarity(a: BinaryCodes, b: BinaryCodes): SimilarityMatrix | undefined {
  const k = kernels();
  const words = a.words;
  if (!k || words === 0) return undefined;
  const block = Math.min(rowsPerBlock(b.rows), Math.max(4, a.rows));
  const tableAt = 0;
  const bAt = align16(tableAt + (words * 32 + 1) * 4);
  const aAt = align16(bAt + b.rows * words * 4);
  const outAt = align16(aAt + block * words * 4);
  const end = outAt + block * b.rows * 4;
  if (end > MAX_BYTES || !k.reserve(end)) return undefined;
  const u32 = new Uint32Array(k.memory.buffer);
  const f32 = new Float32Array(k.memory.buffer);
  u32.set(b.data.subarray(0, b.rows * words), bAt >> 2);
  const out = new Float32Array(a.rows * b.rows);
  // Similarity per distance, by the JS reference's arithmetic (f64, rounded to f32 on store). Distances can
  // reach words·32 only in theory (padding bits are zero), but the table covers every value the kernel can see.
  const scale = 2 / a.bits;
  for (let d = 0; d <= words * 32; d++) f32[(tableAt >> 2) + d] = 1 - d * scale;
  for (let i0 = 0; i0 < a.rows; i0 += block) {
    const n = Math.min(block, a.rows - i0);
    u32.set(a.data.subarray(i0 * words, (i0 + n) * words), aAt >> 2);
    k.hammingBlock(aAt, n, bAt, b.rows, words, tableAt, outAt);
    out.set(f32.subarray(outAt >> 2, (outAt >> 2) + n * b.rows), i0 * b.rows);
  }
  return { data: out, rows: a.rows, cols: b.rows };
}

/** Rows of x per assignment call: bounds the kernel memory at about 16 MB of rows. */
const ASSIGN_BLOCK_BYTES = 16 << 20;

/**
 * k-means assignment: the nearest of `k` centers for every row of x into `labels`, and the inertia (the f64 sum,
 * in row order, of the f32 squared distances). Needs `dim` a multiple of 4.
 */
export function wasmAssign(x: Embeddings, centers: Float32Array, k: number, labels: Int32Array): number | undefined {
  const kr = kernels();
  const dim = x.dim;
  if (!kr || dim % 4 !== 0 || dim === 0) return undefined;
  const block = Math.max(1, Math.min(x.rows, Math.floor(ASSIGN_BLOCK_BYTES / (dim * 4))));
  const cAt = 0;
  const xAt = align16(cAt + k * dim * 4);
  const labelsAt = align16(xAt + block * dim * 4);
  const bestAt = align16(labelsAt + block * 4);
  const end = bestAt + block * 4;
  if (end > MAX_BYTES || !kr.reserve(end)) return undefined;
  const f32 = new Float32Array(kr.memory.buffer);
  const i32 = new Int32Array(kr.memory.buffer);
  f32.set(centers.subarray(0, k * dim), cAt >> 2);
  let inertia = 0;
  for (let i0 = 0; i0 < x.rows; i0 += block) {
    const n = Math.min(block, x.rows - i0);
    f32.set(x.data.subarray(i0 * dim, (i0 + n) * dim), xAt >> 2);
    kr.assignBlock(xAt, n, cAt, k, dim, labelsAt, bestAt);
    labels.set(i32.subarray(labelsAt >> 2, (labelsAt >> 2) + n), i0);
    const best = bestAt >> 2;
    for (let i = 0; i < n; i++) inertia += f32[best + i]!;
  }
  return inertia;
}

/**
 * Rows per kernel call of the Gram accumulator: the transposed block (GRAM_BLOCK_ROWS × dim f64, 590 KB at 2304
 * wide) stays in cache while every column pair reads it. The kernel's products and sums are f64, so the block
 * size does not change the accuracy.
 */
const GRAM_BLOCK_ROWS = 32;

interface GramExports {
  memory: WebAssembly.Memory;
  reserve(bytes: number): number;
  gramBlock(cols: number, n: number, dim: number, gram: number): void;
}

let gramModule: WebAssembly.Module | null | undefined;

/** XᵀX accumulated block by block over rows given as row-major f32; `gram()` returns the full symmetric f64. */
export interface WasmGramAccumulator {
  add(rows: Float32Array, count: number): void;
  gram(): Float64Array;
}

/**
 * A Gram accumulator for `dim`-wide rows with its own kernel instance, so its f64 total (8·dim² bytes) stays in
 * that instance's memory between blocks without another kernel call overwriting it. Equal to the plain f64 loop
 * up to the order of additions (see gramBlock). Undefined when the kernels are off or the Gram and one block do
 * not fit MAX_BYTES (dim above ~11000); the caller then takes its JS path.
 */
export function wasmGramAccumulator(dim: number): WasmGramAccumulator | undefined {
  if (!kernelsAvailable() || dim <= 0) return undefined;
  if (gramModule === undefined) {
    try {
      gramModule = new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64));
    } catch {
      gramModule = null;
    }
  }
  if (!gramModule) return undefined;
  const gramAt = 0;
  const colsAt = align16(gramAt + dim * dim * 8);
  const end = colsAt + GRAM_BLOCK_ROWS * dim * 8;
  if (end > MAX_BYTES) return undefined;
  const k = new WebAssembly.Instance(gramModule, {}).exports as unknown as GramExports;
  if (!k.reserve(end)) return undefined;
  // The memory's buffer is fixed once reserved (nothing grows it later), so these views stay valid.
  const cols = new Float64Array(k.memory.buffer, colsAt, GRAM_BLOCK_ROWS * dim);
  return {
    add(rows, count) {
      for (let r0 = 0; r0 < count; r0 += GRAM_BLOCK_ROWS) {
        const n = Math.min(GRAM_BLOCK_ROWS, count - r0);
        const padded = n + (n & 1); // the kernel takes rows in pairs; a zero row adds nothing to XᵀX
        for (let j = 0; j < dim; j++) {
          const c = j * padded;
          for (let r = 0; r < n; r++) cols[c + r] = rows[(r0 + r) * dim + j]!;
          if (padded > n) cols[c + n] = 0;
        }
        k.gramBlock(colsAt, padded, dim, gramAt);
      }
    },
    gram() {
      const g = new Float64Array(k.memory.buffer, gramAt, dim * dim).slice();
      for (let i = 0; i < dim; i++) for (let j = 0; j < i; j++) g[i * dim + j] = g[j * dim + i]!;
      return g;
    },
  };
}
