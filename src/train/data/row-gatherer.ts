/**
 * Gather the rows of a batch's unique tokens from the input matrix as float32. Small matrices (USE-lite:
 * 8002 × 256 = 8 MB) are copied into memory once; large ones (Gemma-2: 256000 × 2304, or concatenations past
 * 2^31 elements) stay on disk and are read by coalesced row runs, so memory stays bounded by the batch.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { RowMatrix } from '../../matrix/row-matrix.ts';
import { DTYPE_BYTES, decodeToF32, type DType } from '../../safetensors/dtype.ts';
import { SafetensorsFile } from '../../safetensors/file.ts';
import { rowWidth } from '../../safetensors/header.ts';

export interface RowGatherer {
  readonly rows: number;
  readonly dim: number;
  /** True when the whole matrix is held in memory as f32. */
  readonly resident: boolean;
  /** Rows of `ids` (sorted ascending, unique) into `out` ([ids.length, dim], allocated when absent). */
  gather(ids: Int32Array, out?: Float32Array): Promise<Float32Array>;
  /** Release file handles (the RowMatrix itself is closed by its owner). */
  close(): void;
}

/** Rows closer than this are read as one run (reading a few unused rows beats another syscall). */
const MAX_GAP_ROWS = 8;
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

interface SyncReader {
  rows: number;
  dim: number;
  dtype: DType;
  rowBytes: number;
  /** Raw bytes of rows [start, start+count) into `buf` (grown when needed); returns the filled view. */
  readRaw(start: number, count: number): Uint8Array;
  close(): void;
}

async function openSyncReader(src: SyncRowFile): Promise<SyncReader> {
  const f = await SafetensorsFile.open(src.path);
  const t = f.tensor(src.tensor);
  const dataStart = f.header.dataStart + t.begin;
  await f.close();
  const dim = rowWidth(t);
  const rowBytes = dim * DTYPE_BYTES[t.dtype];
  const fd = openSync(src.path, 'r');
  let buf = new Uint8Array(0);
  return {
    rows: t.shape[0]!,
    dim,
    dtype: t.dtype,
    rowBytes,
    readRaw(start, count) {
      const n = count * rowBytes;
      if (buf.length < n) buf = new Uint8Array(Math.max(n, buf.length * 2));
      let off = 0;
      while (off < n) {
        const got = readSync(fd, buf, off, n - off, dataStart + start * rowBytes + off);
        if (got === 0) throw new Error(`${src.path}: unexpected end of file at row ${start}`);
        off += got;
      }
      return buf.subarray(0, n);
    },
    close: () => closeSync(fd),
  };
}

/** Rows closer than this are read as one run by the sync reader (a syscall costs about a few rows' copy). */
const SYNC_GAP_ROWS = 3;

export async function createRowGatherer(matrix: RowMatrix, memoryCacheMb: number, syncFile?: SyncRowFile): Promise<RowGatherer> {
  const { rows, dim } = matrix;
  const bytes = rows * dim * 4;
  if (bytes <= memoryCacheMb * 1e6) {
    const all = new Float32Array(rows * dim);
    const block = Math.max(1, Math.floor((1 << 24) / dim));
    for (let start = 0; start < rows; start += block) {
      const count = Math.min(block, rows - start);
      all.set(await matrix.readRows(start, count), start * dim);
    }
    return {
      rows,
      dim,
      resident: true,
      async gather(ids, out) {
        const o = out ?? new Float32Array(ids.length * dim);
        for (let i = 0; i < ids.length; i++) {
          const r = ids[i]!;
          o.set(all.subarray(r * dim, (r + 1) * dim), i * dim);
        }
        return o;
      },
      close() {},
    };
  }
  if (syncFile) {
    const r = await openSyncReader(syncFile);
    if (r.dim !== dim || r.rows < rows) {
      r.close();
      throw new Error(`${syncFile.path}: ${r.rows} × ${r.dim} does not match ${matrix.label} (${rows} × ${dim})`);
    }
    return {
      rows,
      dim,
      resident: false,
      async gather(ids, out) {
        const o = out ?? new Float32Array(ids.length * dim);
        let i = 0;
        while (i < ids.length) {
          const j = runEnd(ids, i, SYNC_GAP_ROWS);
          const first = ids[i]!;
          const raw = r.readRaw(first, ids[j - 1]! - first + 1);
          for (let k = i; k < j; k++) {
            const off = (ids[k]! - first) * r.rowBytes;
            decodeToF32(raw.subarray(off, off + r.rowBytes), r.dtype, o.subarray(k * dim, (k + 1) * dim));
          }
          i = j;
        }
        return o;
      },
      close: () => r.close(),
    };
  }
  let scratch = new Float32Array(0);
  return {
    rows,
    dim,
    resident: false,
    async gather(ids, out) {
      const o = out ?? new Float32Array(ids.length * dim);
      let i = 0;
      while (i < ids.length) {
        const j = runEnd(ids, i, MAX_GAP_ROWS);
        const first = ids[i]!;
        const span = ids[j - 1]! - first + 1;
        if (span === j - i) {
          await matrix.readRows(first, span, o.subarray(i * dim, j * dim));
        } else {
          if (scratch.length < span * dim) scratch = new Float32Array(span * dim);
          const block = await matrix.readRows(first, span, scratch);
          for (let k = i; k < j; k++) {
            const r = ids[k]! - first;
            o.set(block.subarray(r * dim, (r + 1) * dim), k * dim);
          }
        }
        i = j;
      }
      return o;
    },
    close() {},
  };
}
