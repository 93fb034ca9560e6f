/**
 * The mean-pooling kernel's driver (pool.as, built into pool-wasm.generated.ts): `embed` hands it each text's
 * token ids, it pools them a batch of texts per kernel call, rows bit-identical to the JS reference `poolIds`
 * (src/embed/pool.ts; the kernel sums in f64 lanes in the same order). Browser-safe.
 *
 * The matrix lives in JS memory and the kernel can only read its own, so rows reach it one of two ways:
 * - `resident`: the whole matrix (with its mapping and scale) is copied into the instance's memory once, when
 *   the model first embeds; each batch then copies only its ids in and its means out. Costs the matrix's bytes
 *   a second time (16 MB for 32000 × 256 f16), so it is used up to RESIDENT_MAX_BYTES.
 * - `gather`: each batch copies the distinct rows its texts use into the instance's memory (a slot per
 *   distinct token id, its scale beside it) and gives the kernel slot numbers; no copy of the matrix, any size.
 * Each model has its own instance, so rows stay put between batches whatever the other kernels do.
 */
import type { TokenMatrix } from '../formats.ts';
import { decodeBase64, kernelsAvailable, MAX_BYTES } from './index.ts';
import { POOL_WASM_BASE64 } from './pool-wasm.generated.ts';

interface PoolExports {
  memory: WebAssembly.Memory;
  reserve(bytes: number): number;
  poolF16(rows: number, rowBytes: number, ids: number, ends: number, texts: number, mapping: number, scale: number, d: number, acc: number, out: number): void;
  poolF32(rows: number, rowBytes: number, ids: number, ends: number, texts: number, mapping: number, scale: number, d: number, acc: number, out: number): void;
}

export type PoolStrategy = 'resident' | 'gather';

/** Matrix bytes (rows + mapping + scale) up to which the rows are kept resident in the kernel's memory. */
export const RESIDENT_MAX_BYTES = 64 << 20;
/** Texts per kernel call: bounds the output area (texts × dim f32). */
const BATCH_TEXTS = 1024;
/** Token ids per kernel call, unless one text has more (the area then grows to fit it). */
const BATCH_IDS = 1 << 15;
/** Bytes of gathered rows per kernel call, unless one text needs more. */
const GATHER_BYTES = 8 << 20;

/** Pools texts in order: `begin`, then `add` once per text, then `finish` (which writes the last batch). */
export interface PoolKernel {
  readonly strategy: PoolStrategy;
  /** Start pooling texts into out[offset + t·d …] (the first d values of each row), t counted from 0. */
  begin(d: number, out: Float32Array, offset?: number): void;
  /**
   * The next text's counted token ids, ids[0..n). False when the kernel cannot take it (its rows would not fit
   * the kernel's memory): the caller pools that text itself into its row, and the kernel goes on after it.
   */
  add(ids: Int32Array, n: number): boolean;
  /** Pool what is still queued. */
  finish(): void;
}

/** Not named `module`: the CommonJS build wraps this file in a function with a `module` parameter. */
let poolWasm: WebAssembly.Module | null | undefined;

function poolModule(): WebAssembly.Module | null {
  if (poolWasm === undefined) {
    try {
      poolWasm = new WebAssembly.Module(decodeBase64(POOL_WASM_BASE64));
    } catch {
      poolWasm = null; // no WebAssembly SIMD, or a host that refuses to compile it synchronously: poolIds serves
    }
  }
  return poolWasm;
}

const align16 = (n: number) => (n + 15) & ~15;

/** Whether `m` would be pooled with its rows resident (the default strategy's choice). */
export function defaultPoolStrategy(m: TokenMatrix): PoolStrategy {
  const valueBytes = m.f16 ? 2 : 4;
  const bytes = m.rows * m.dim * valueBytes + (m.mapping ? m.ids * 4 : 0) + (m.scale ? m.ids * 4 : 0);
  return bytes <= RESIDENT_MAX_BYTES ? 'resident' : 'gather';
}

/**
 * A pooling kernel for `m` with its own instance, or undefined when the kernels are off or unavailable, or the
 * memory it needs cannot be had (the caller then pools with poolIds).
 */
export function createPoolKernel(m: TokenMatrix, strategy: PoolStrategy = defaultPoolStrategy(m)): PoolKernel | undefined {
  if (!kernelsAvailable() || m.dim === 0) return undefined;
  const mod = poolModule();
  if (!mod) return undefined;
  const k = new WebAssembly.Instance(mod, {}).exports as unknown as PoolExports;
  const half = m.f16 !== undefined;
  const dim = m.dim;
  const rowBytes = dim * (half ? 2 : 4);
  const resident = strategy === 'resident';
  // Resident: rows, mapping, scale at fixed places, copied once. Gather: `slots` rows and their scales.
  const mappingAt = resident && m.mapping ? align16(m.rows * rowBytes) : 0;
  const scaleAt = resident && m.scale ? align16((mappingAt || m.rows * rowBytes) + (m.mapping ? m.ids * 4 : 0)) : 0;
  const fixedEnd = resident ? align16(Math.max(m.rows * rowBytes, mappingAt + (m.mapping ? m.ids * 4 : 0), scaleAt + (m.scale ? m.ids * 4 : 0))) : 0;
  let slots = resident ? 0 : Math.max(BATCH_TEXTS, Math.floor(GATHER_BYTES / rowBytes));
  let idsCap = BATCH_IDS;
  let slotScaleAt = 0,
    accAt = 0,
    endsAt = 0,
    idsAt = 0,
    outAt = 0;
  let u16 = new Uint16Array(0),
    i32 = new Int32Array(0),
    f32 = new Float32Array(0);

  /** Place the scratch areas for the current capacities and get the memory; false when it cannot grow. */
  const layout = (): boolean => {
    const rowsEnd = resident ? fixedEnd : align16(slots * rowBytes);
    slotScaleAt = rowsEnd;
    accAt = align16(slotScaleAt + (!resident && m.scale ? slots * 4 : 0));
    endsAt = align16(accAt + dim * 8);
    idsAt = align16(endsAt + BATCH_TEXTS * 4);
    outAt = align16(idsAt + idsCap * 4);
    const end = outAt + BATCH_TEXTS * dim * 4;
    if (end > MAX_BYTES || !k.reserve(end)) return false;
    const buffer = k.memory.buffer;
    u16 = new Uint16Array(buffer);
    i32 = new Int32Array(buffer);
    f32 = new Float32Array(buffer);
    return true;
  };
  if (!layout()) return undefined;
  if (resident) {
    if (half) u16.set(m.f16!.subarray(0, m.rows * dim), 0);
    else f32.set(m.f32!.subarray(0, m.rows * dim), 0);
    if (m.mapping) i32.set(m.mapping.subarray(0, m.ids), mappingAt >> 2);
    if (m.scale) f32.set(m.scale.subarray(0, m.ids), scaleAt >> 2);
  }
  // Gather: slot of each token id in this batch (−1: none yet), and the ids holding a slot.
  const slotOf = resident ? new Int32Array(0) : new Int32Array(m.ids).fill(-1);
  let slotIds = new Int32Array(slots);
  let used = 0;

  let texts = 0;
  let tokens = 0;
  let d = dim;
  let out: Float32Array = new Float32Array(0);
  let written = 0;

  const flush = () => {
    if (texts === 0) return;
    const pool = half ? k.poolF16 : k.poolF32;
    const scale = resident ? scaleAt : m.scale ? slotScaleAt : 0;
    pool(0, rowBytes, idsAt, endsAt, texts, resident ? mappingAt : 0, scale, d, accAt, outAt);
    out.set(f32.subarray(outAt >> 2, (outAt >> 2) + texts * d), written);
    written += texts * d;
    texts = 0;
    tokens = 0;
    for (let s = 0; s < used; s++) slotOf[slotIds[s]!] = -1;
    used = 0;
  };

  /** Gather: the slot of token `id`, its row (and scale) copied in on first use in this batch. */
  const slotFor = (id: number): number => {
    let s = slotOf[id]!;
    if (s >= 0) return s;
    s = used++;
    slotOf[id] = s;
    slotIds[s] = id;
    const row = m.mapping ? m.mapping[id]! : id;
    if (half) u16.set(m.f16!.subarray(row * dim, row * dim + dim), (s * rowBytes) >> 1);
    else f32.set(m.f32!.subarray(row * dim, row * dim + dim), (s * rowBytes) >> 2);
    if (m.scale) f32[(slotScaleAt >> 2) + s] = m.scale[id]!;
    return s;
  };

  return {
    strategy,
    begin(dims, into, offset = 0) {
      texts = 0;
      tokens = 0;
      for (let s = 0; s < used; s++) slotOf[slotIds[s]!] = -1;
      used = 0;
      d = dims;
      out = into;
      written = offset;
    },
    add(ids, n) {
      // A text has at most min(n, vocabulary) distinct ids, so that many free slots always suffice.
      const distinct = Math.min(n, m.ids);
      if (texts === BATCH_TEXTS || tokens + n > idsCap || (!resident && used + distinct > slots)) flush();
      if (n > idsCap || (!resident && distinct > slots)) {
        // One text longer than a batch: make room for it (the queue is empty, nothing in memory to keep).
        const keep = { idsCap, slots };
        idsCap = Math.max(idsCap, n);
        if (!resident) slots = Math.max(slots, distinct);
        if (!layout()) {
          idsCap = keep.idsCap;
          slots = keep.slots;
          layout(); // the smaller areas, which fitted before
          written += d;
          return false;
        }
        if (slotIds.length < slots) slotIds = new Int32Array(slots);
      }
      const at = (idsAt >> 2) + tokens;
      if (resident) {
        if (n > 64) i32.set(ids.subarray(0, n), at);
        else for (let t = 0; t < n; t++) i32[at + t] = ids[t]!;
      } else {
        for (let t = 0; t < n; t++) i32[at + t] = slotFor(ids[t]!);
      }
      tokens += n;
      i32[(endsAt >> 2) + texts++] = tokens;
      return true;
    },
    finish: flush,
  };
}
