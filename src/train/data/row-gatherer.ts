/**
 * Gather the rows of a batch's unique tokens from the input matrix as float32. Three ways to hold the matrix,
 * chosen by size:
 *   f32   copied into memory once as float32 (USE-lite: 8002 × 256 = 8 MB), when it fits `memory_cache_mb`;
 *   raw   the safetensors tensor's own bytes (f16 for Gemma-2 2B: 1.18 GB instead of 2.36 GB as f32) held in
 *         shared memory, rows decoded per batch, when one file holds it and it fits `rawBudgetBytes`;
 *   disk  rows read per batch by coalesced runs (sync positional reads of one safetensors file, or the async
 *         RowMatrix, e.g. a concat descriptor over several files): memory stays bounded by the batch, whatever
 *         the vocabulary × width (256000 × 10496 works).
 * With `prefetch`, raw and disk gatherers also gather the next batch on a worker thread while this one computes
 * (prefetch.ts); the rows are the same bytes either way.
 */
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import type { RowMatrix } from '../../matrix/row-matrix.ts';
import { DTYPE_BYTES, decodeToF32, type DType } from '../../safetensors/dtype.ts';
import { SafetensorsFile } from '../../safetensors/file.ts';
import { rowWidth } from '../../safetensors/header.ts';
import { RowPrefetcher } from './prefetch.ts';

export type RowHolding = 'f32' | 'raw' | 'disk';

export interface RowGatherer {
  readonly rows: number;
  readonly dim: number;
  /** How the matrix is held (see the module comment). */
  readonly holding: RowHolding;
  /** True when the whole matrix is held in memory as f32. */
  readonly resident: boolean;
  /**
   * Rows of `ids` (sorted ascending, unique) as [ids.length, dim]: into `out` when given, unless a prefetch of
   * exactly these ids is under way, whose shared buffer is returned instead (valid until the second gather after).
   */
  gather(ids: Int32Array, out?: Float32Array): Promise<Float32Array>;
  /**
   * The f16 bits of the whole matrix ([rows, dim], in shared memory) when they are held (holding = raw, an F16
   * tensor): a training step then pools from them in place (step/pool-kernels.ts) instead of gathering f32 rows.
   */
  heldF16(): Uint16Array | undefined;
  /** Start gathering `ids` in the background for a later `gather(ids)`; false when this gatherer cannot. */
  prefetch(ids: Int32Array): boolean;
  /** Whether a prefetch of exactly `ids` is under way (then `gather(ids)` ignores `out`). */
  prefetched(ids: Int32Array): boolean;
  /** Release file handles and the prefetch worker (the RowMatrix itself is closed by its owner). */
  close(): Promise<void>;
}

/** Rows closer than this are read as one run by the async reader (reading a few unused rows beats another await). */
const ASYNC_GAP_ROWS = 8;
/** Rows closer than this are read as one run by the sync reader (a syscall costs about a few rows' copy). */
const SYNC_GAP_ROWS = 3;
/** Upper bound of one read, in rows. */
const MAX_RUN_ROWS = 4096;

/**
 * End (exclusive) of the run of rows starting at `ids[start]`: extended while the next id is at most `maxGapRows`
 * past the previous one and stays under `maxRunRows` of the first. `ids` is sorted ascending and unique; the
 * run's read covers rows ids[start] .. ids[end - 1].
 */
export function runEnd(ids: Int32Array, start: number, maxGapRows: number, maxRunRows = MAX_RUN_ROWS): number {
  let j = start + 1;
  while (j < ids.length && ids[j]! - ids[j - 1]! <= maxGapRows && ids[j]! - ids[start]! < maxRunRows) j++;
  return j;
}

/** The runs of `ids` as [start, end) index pairs (runEnd); the one loop every read path walks. */
function* runsOf(ids: Int32Array, maxGapRows: number): Generator<[number, number]> {
  for (let i = 0; i < ids.length;) {
    const j = runEnd(ids, i, maxGapRows);
    yield [i, j];
    i = j;
  }
}

/**
 * A tensor of a safetensors file read with synchronous positional reads. A batch of uniformly random ids
 * from a 256000-row vocabulary touches ~23000 rows in runs of one or two: one awaited read per run costs
 * far more in promise and thread-pool hops than the copy itself, while a sync pread from the page cache is a
 * few microseconds.
 */
export interface SyncRowFile {
  path: string;
  tensor: string;
}

/** Where a worker finds the same raw rows: the file, and the shared memory holding its bytes when resident. */
export interface RawRowsSpec extends SyncRowFile {
  /** The tensor's bytes in a SharedArrayBuffer (holding = raw). */
  memory?: Uint8Array;
}

/** Raw bytes of a tensor's rows, from its file or from memory holding them. */
export interface RawRows {
  rows: number;
  dim: number;
  dtype: DType;
  rowBytes: number;
  /** Rows closer than this are read as one run. */
  gapRows: number;
  /** Raw bytes of rows [start, start+count) (a view valid until the next call). */
  read(start: number, count: number): Uint8Array;
  close(): void;
}

interface TensorPlace {
  rows: number;
  dim: number;
  dtype: DType;
  rowBytes: number;
  /** Byte offset of row 0 in the file. */
  dataStart: number;
}

async function tensorPlace(src: SyncRowFile): Promise<TensorPlace> {
  const f = await SafetensorsFile.open(src.path);
  try {
    const t = f.tensor(src.tensor);
    const dim = rowWidth(t);
    return { rows: t.shape[0]!, dim, dtype: t.dtype, rowBytes: dim * DTYPE_BYTES[t.dtype], dataStart: f.header.dataStart + t.begin };
  } finally {
    await f.close();
  }
}

function readFully(fd: number, buf: Uint8Array, position: number, path: string): void {
  for (let off = 0; off < buf.length;) {
    const got = readSync(fd, buf, off, buf.length - off, position + off);
    if (got === 0) throw new Error(`${path}: unexpected end of file at byte ${position + off}`);
    off += got;
  }
}

/** The raw rows of `spec`: views into its shared memory when given, else positional reads of the file. */
export async function openRawRows(spec: RawRowsSpec): Promise<RawRows> {
  const p = await tensorPlace(spec);
  const base = { rows: p.rows, dim: p.dim, dtype: p.dtype, rowBytes: p.rowBytes };
  const mem = spec.memory;
  if (mem) {
    if (mem.length !== p.rows * p.rowBytes) throw new Error(`${spec.path}: ${mem.length} bytes in memory, the tensor has ${p.rows * p.rowBytes}`);
    return { ...base, gapRows: 0, read: (start, count) => mem.subarray(start * p.rowBytes, (start + count) * p.rowBytes), close() {} };
  }
  const fd = openSync(spec.path, 'r');
  let buf = new Uint8Array(0);
  return {
    ...base,
    gapRows: SYNC_GAP_ROWS,
    read(start, count) {
      const n = count * p.rowBytes;
      if (buf.length < n) buf = new Uint8Array(Math.max(n, buf.length * 2));
      const view = buf.subarray(0, n);
      readFully(fd, view, p.dataStart + start * p.rowBytes, spec.path);
      return view;
    },
    close: () => closeSync(fd),
  };
}

/** The whole tensor's bytes in a SharedArrayBuffer (read in 64 MB blocks), for holding = raw. */
async function loadRawBytes(spec: SyncRowFile, p: TensorPlace): Promise<Uint8Array> {
  const mem = new Uint8Array(new SharedArrayBuffer(p.rows * p.rowBytes));
  const fd = openSync(spec.path, 'r');
  try {
    const block = 1 << 26;
    for (let off = 0; off < mem.length; off += block) {
      readFully(fd, mem.subarray(off, Math.min(off + block, mem.length)), p.dataStart + off, spec.path);
      if ((off / block) % 8 === 7) await new Promise((r) => setImmediate(r)); // let progress and signals through
    }
  } finally {
    closeSync(fd);
  }
  return mem;
}

/** Rows of `ids` from `src` into `out` as f32, one read per run: shared by the main thread and the prefetch worker. */
export function gatherRawRows(src: RawRows, ids: Int32Array, out: Float32Array): Float32Array {
  const { dim, rowBytes, dtype } = src;
  for (const [i, j] of runsOf(ids, src.gapRows)) {
    const first = ids[i]!;
    const raw = src.read(first, ids[j - 1]! - first + 1);
    for (let k = i; k < j; k++) {
      const off = (ids[k]! - first) * rowBytes;
      decodeToF32(raw.subarray(off, off + rowBytes), dtype, out.subarray(k * dim, (k + 1) * dim));
    }
  }
  return out;
}

/**
 * The default budget for holding a single file's raw bytes: a quarter of this machine's memory, at most half of
 * what is free now, and at most one ArrayBuffer (4 GB in Node 20). Gemma-2 2B's f16 matrix (1.18 GB) fits a
 * 24 GB machine; a 256000 × 10496 f16 matrix (5.4 GB) stays on disk.
 */
export function defaultRawBudgetBytes(): number {
  return Math.min(totalmem() / 4, freemem() / 2, bufferConstants.MAX_LENGTH);
}

export interface GathererOptions {
  /** Hold the matrix as f32 when rows × dim × 4 bytes ≤ this many MB (0 also turns the raw holding off). */
  memoryCacheMb: number;
  /** The one safetensors file behind the matrix, when there is one: sync reads, raw holding and prefetch need it. */
  syncFile?: SyncRowFile;
  /** Hold the file's raw bytes when they fit this many bytes (default defaultRawBudgetBytes(); 0 = never). */
  rawBudgetBytes?: number;
  /** Gather the next batch on a worker thread while this one computes (disk holding of a sync file only). */
  prefetch?: boolean;
}

export async function createRowGatherer(matrix: RowMatrix, opts: GathererOptions): Promise<RowGatherer> {
  const { rows, dim } = matrix;
  const noPrefetch = { prefetch: () => false, prefetched: () => false, heldF16: () => undefined };
  if (rows * dim * 4 <= opts.memoryCacheMb * 1e6) {
    const all = new Float32Array(rows * dim);
    const block = Math.max(1, Math.floor((1 << 24) / dim));
    for (let start = 0; start < rows; start += block) {
      const count = Math.min(block, rows - start);
      all.set(await matrix.readRows(start, count), start * dim);
    }
    return {
      rows,
      dim,
      holding: 'f32',
      resident: true,
      async gather(ids, out) {
        const o = out ?? new Float32Array(ids.length * dim);
        for (let i = 0; i < ids.length; i++) {
          const r = ids[i]!;
          o.set(all.subarray(r * dim, (r + 1) * dim), i * dim);
        }
        return o;
      },
      ...noPrefetch,
      async close() {},
    };
  }
  if (opts.syncFile) return syncGatherer(matrix, opts, opts.syncFile);
  let scratch = new Float32Array(0);
  return {
    rows,
    dim,
    holding: 'disk',
    resident: false,
    async gather(ids, out) {
      const o = out ?? new Float32Array(ids.length * dim);
      for (const [i, j] of runsOf(ids, ASYNC_GAP_ROWS)) {
        const first = ids[i]!;
        const span = ids[j - 1]! - first + 1;
        if (span === j - i) {
          await matrix.readRows(first, span, o.subarray(i * dim, j * dim));
          continue;
        }
        if (scratch.length < span * dim) scratch = new Float32Array(span * dim);
        const block = await matrix.readRows(first, span, scratch);
        for (let k = i; k < j; k++) {
          const r = ids[k]! - first;
          o.set(block.subarray(r * dim, (r + 1) * dim), k * dim);
        }
      }
      return o;
    },
    ...noPrefetch,
    async close() {},
  };
}

async function syncGatherer(matrix: RowMatrix, opts: GathererOptions, file: SyncRowFile): Promise<RowGatherer> {
  const { rows, dim } = matrix;
  const place = await tensorPlace(file);
  if (place.dim !== dim || place.rows < rows) {
    throw new Error(`${file.path}: ${place.rows} × ${place.dim} does not match ${matrix.label} (${rows} × ${dim})`);
  }
  const budget = opts.memoryCacheMb === 0 ? 0 : (opts.rawBudgetBytes ?? defaultRawBudgetBytes());
  const spec: RawRowsSpec = { ...file, memory: place.rows * place.rowBytes <= budget ? await loadRawBytes(file, place) : undefined };
  const src = await openRawRows(spec);
  // Prefetch only rows that come from disk. Measured at 256000 × 10496 (5.4 GB, not held): the gather waits on I/O
  // and prefetching made a step 4.7× faster. With the rows in memory (Gemma-2 2B's 1.18 GB) the gather is f16→f32
  // conversion on a core the two compute threads already use, and a third thread made every step slower.
  const prefetcher = opts.prefetch && !spec.memory ? await RowPrefetcher.start(spec, dim) : undefined;
  const mem = spec.memory;
  const heldF16 = mem && place.dtype === 'F16' ? new Uint16Array(mem.buffer, mem.byteOffset, mem.length / 2) : undefined;
  return {
    rows,
    dim,
    holding: spec.memory ? 'raw' : 'disk',
    resident: false,
    async gather(ids, out) {
      const ready = prefetcher?.take(ids);
      if (ready) return ready;
      return gatherRawRows(src, ids, out ?? new Float32Array(ids.length * dim));
    },
    heldF16: () => heldF16,
    prefetch: (ids) => (prefetcher ? (prefetcher.prefetch(ids), true) : false),
    prefetched: (ids) => prefetcher?.pendingFor(ids) === true,
    async close() {
      src.close();
      await prefetcher?.close();
    },
  };
}
