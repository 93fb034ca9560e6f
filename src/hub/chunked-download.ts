/**
 * Download one byte range of a remote file in parallel chunks (p-queue), converting each chunk and writing it
 * straight to its place in the output file, resumably:
 *
 *   <final>.partial       the output being filled (header first, data at fixed offsets; sparse until done)
 *   <final>.partial.json  which chunks are verified and written, each with a fingerprint of its output bytes, plus
 *                         everything that decides the bytes (repo, commit, ETag, size, range, dtypes, chunk size,
 *                         output header)
 *
 * A re-run with the same identity re-reads the recorded chunks from the partial file, keeps those whose
 * fingerprint still matches (so even a power loss that dropped unflushed pages cannot slip zeros into the output) and
 * downloads only the rest; a different identity (new commit, changed ETag, other dtype...) starts over. No
 * fsync is needed for that (`sync` adds one before the rename, for durability across power loss). Nothing that
 * looks complete exists before every chunk is in place. Chunk buffers are pooled (one per concurrent request),
 * so memory does not grow with the tensor.
 */
import { writeSync } from 'node:fs';
import { mkdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import PQueue from 'p-queue';
import type { HubClient } from './client.ts';
import type { ErrorContext } from './errors.ts';
import { fetchRange, type RedirectCache } from './range.ts';
import { chunkFingerprint } from './chunk-fingerprint.ts';
import { ChunkBufferPool } from './chunk-buffer-pool.ts';
import { ChunkWorker, type WorkerMode } from './chunk-worker.ts';
import { openPartial, partialPaths, throttledStateWriter, type ChunkPlacement, type PartialPaths, type PartialState } from './partial-download.ts';
import { withRetries } from './retry.ts';

export interface ChunkTransform {
  (bytes: Uint8Array): { bytes: Uint8Array; overflows: number };
}

export interface RangeDownloadOptions {
  client: HubClient;
  url: string;
  ctx: ErrorContext;
  /** Absolute byte range of the remote file to fetch. */
  srcStart: number;
  srcLength: number;
  /** Remote file size and content identity from the header request: any change aborts. */
  fileSize: number;
  etag?: string;
  /** Bytes per source element: chunks are aligned to it so each converts on its own. */
  srcElemBytes: number;
  dstElemBytes: number;
  transform: ChunkTransform;
  /** Output file: the header bytes written first, then srcLength/srcElemBytes·dstElemBytes data bytes. */
  finalPath: string;
  outHeader: Uint8Array;
  chunkSize: number;
  concurrency: number;
  /** Everything else that decides the output bytes (repo, commit, tensor, dtypes...): part of the resume identity. */
  identity: Record<string, unknown>;
  /** Verified source bytes so far (including resumed ones). */
  onProgress?: (doneBytes: number) => void;
  onLog?: (message: string) => void;
  /** Minimum ms between sidecar writes. */
  flushEveryMs?: number;
  /**
   * Flush the output to disk before the final rename (with background writeback every 256 MB meanwhile).
   * Off by default, as in huggingface_hub and curl: the checksums already make resume safe, and an fsync makes
   * a fast download wait for the disk.
   */
  sync?: boolean;
  /**
   * Do conversion (when it is BF16 → F16 or none), write and hash on a worker thread over shared buffers
   * instead of calling `transform` on the main thread. `table` is the BF16 → F16 lookup table for 'bf16-f16'.
   */
  worker?: { mode: WorkerMode; table?: Uint16Array };
  /** Where `url` redirected to already (the header requests): chunks start there directly. */
  redirect?: RedirectCache;
  /**
   * Called with the complete partial file (every chunk written) before it is renamed into place; a throw leaves the
   * partial and its record for the next run, and no output. `--verify` checks the whole file's hash here.
   */
  beforeRename?: (partial: FileHandle) => Promise<void>;
}

export interface RangeDownloadResult {
  /** Source bytes fetched in this run (verified chunks only). */
  bytesDownloaded: number;
  /** Source bytes that were already verified by an earlier run. */
  bytesResumed: number;
  chunks: number;
  overflows: number;
}

const WRITEBACK_EVERY = 256 * 1024 * 1024;

/** How the source range splits into chunks, and where each chunk's converted bytes go in the output. */
interface ChunkPlan extends ChunkPlacement {
  chunkSize: number;
  /** Header plus data bytes. */
  outSize: number;
  /** Source bytes of chunk i (the last one may be short). */
  chunkLen(i: number): number;
}

function planChunks(o: RangeDownloadOptions): ChunkPlan {
  // Whole source elements per chunk, so each chunk converts on its own.
  const chunkSize = Math.max(o.srcElemBytes, Math.floor(o.chunkSize / o.srcElemBytes) * o.srcElemBytes);
  const chunkLen = (i: number) => Math.min(chunkSize, o.srcLength - i * chunkSize);
  return {
    chunkSize,
    nChunks: Math.ceil(o.srcLength / chunkSize),
    outSize: o.outHeader.byteLength + (o.srcLength / o.srcElemBytes) * o.dstElemBytes,
    chunkLen,
    outPos: (i) => o.outHeader.byteLength + ((i * chunkSize) / o.srcElemBytes) * o.dstElemBytes,
    outLen: (i) => (chunkLen(i) / o.srcElemBytes) * o.dstElemBytes,
  };
}

/** Everything that decides the output bytes: a partial recorded under any other identity is started over. */
function resumeIdentity(o: RangeDownloadOptions, chunkSize: number): Record<string, unknown> {
  return {
    ...o.identity,
    etag: o.etag ?? null,
    fileSize: o.fileSize,
    srcStart: o.srcStart,
    srcLength: o.srcLength,
    chunkSize,
    srcElemBytes: o.srcElemBytes,
    dstElemBytes: o.dstElemBytes,
    header: Buffer.from(o.outHeader).toString('base64'),
  };
}

/** With `sync`, start writeback in the background every WRITEBACK_EVERY bytes, so the final datasync has little left. */
function backgroundWriteback(fh: FileHandle, enabled: boolean): { wrote(bytes: number): void; settled(): Promise<void> } {
  let sinceWriteback = 0;
  let writeback: Promise<void> = Promise.resolve();
  return {
    wrote(bytes) {
      sinceWriteback += bytes;
      if (!enabled || sinceWriteback < WRITEBACK_EVERY) return;
      sinceWriteback = 0;
      writeback = writeback.then(() => fh.datasync()).catch(() => {});
    },
    settled: () => writeback,
  };
}

/** Marks chunk i verified and written: `len` source bytes, `written` output bytes. */
type RecordChunk = (i: number, len: number, written: number, overflows: number, hash: string) => void;

/** What every chunk task of one run shares. */
interface ChunkTask {
  o: RangeDownloadOptions;
  plan: ChunkPlan;
  fh: FileHandle;
  pool: ChunkBufferPool;
  worker: ChunkWorker | undefined;
  /** Chunks after the first go straight to where the hub redirected (validated the same way). */
  redirectCache: RedirectCache;
  record: RecordChunk;
  fail: (err: unknown) => void;
  failed: () => boolean;
  /** Worker writes in flight, drained before the partial is closed. */
  writes: Set<Promise<void>>;
}

/** Fetch chunk i into a pooled buffer, then convert, write and fingerprint it (on the worker when there is one). */
async function fetchAndWriteChunk(t: ChunkTask, i: number): Promise<void> {
  if (t.failed()) return;
  const { o, plan } = t;
  const start = o.srcStart + i * plan.chunkSize;
  const len = plan.chunkLen(i);
  const buffer = await t.pool.acquire();
  let handedOff = false;
  try {
    const { bytes } = await withRetries(
      o.client.retry,
      `${o.ctx.repo}/${o.ctx.file} chunk ${i + 1}/${plan.nChunks}`,
      () => fetchRange(o.client, o.url, start, len, o.ctx, { expectTotal: o.fileSize, expectEtag: o.etag, into: buffer, redirectCache: t.redirectCache }),
      o.client.onRetry,
    );
    if (t.failed()) return;
    const position = plan.outPos(i);
    if (t.worker) {
      // Hand the bytes to the worker and free this connection for the next range at once.
      handedOff = true;
      const w: Promise<void> = t.worker
        .process({ buffer: buffer.buffer as SharedArrayBuffer, length: len, fd: t.fh.fd, position })
        .then((r) => t.record(i, len, len, r.overflows, r.hash), t.fail)
        .finally(() => {
          t.pool.release(buffer);
          t.writes.delete(w);
        });
      t.writes.add(w);
    } else {
      const out = o.transform(bytes);
      // Synchronous positional write (into the page cache), then the fingerprint.
      let off = 0;
      while (off < out.bytes.byteLength) off += writeSync(t.fh.fd, out.bytes, off, out.bytes.byteLength - off, position + off);
      t.record(i, len, out.bytes.byteLength, out.overflows, chunkFingerprint(out.bytes));
    }
  } finally {
    if (!handedOff) t.pool.release(buffer);
  }
}

interface MissingChunksParams {
  o: RangeDownloadOptions;
  plan: ChunkPlan;
  fh: FileHandle;
  done: PartialState['done'];
  record: RecordChunk;
}

/**
 * Fetch every chunk not yet in `done`, `concurrency` at a time; the first failure stops new chunks from starting.
 * Resolves once nothing is in flight, with that failure (undefined when every chunk landed).
 */
async function downloadMissingChunks(p: MissingChunksParams): Promise<unknown> {
  const concurrency = Math.max(1, p.o.concurrency);
  const queue = new PQueue({ concurrency });
  const worker = p.o.worker ? new ChunkWorker(p.o.worker.mode, p.o.worker.table) : undefined;
  // Chunk buffers: at most `concurrency + 2` with a worker, so a connection can start its next range while the
  // worker still writes the previous one, and memory stays bounded when the disk is slower than the network.
  const pool = new ChunkBufferPool(p.plan.chunkSize, worker ? concurrency + 2 : concurrency, worker !== undefined);
  let firstError: unknown;
  const fail = (err: unknown) => {
    firstError ??= err;
    queue.clear();
  };
  const writes = new Set<Promise<void>>();
  const task: ChunkTask = { ...p, pool, worker, redirectCache: { ...p.o.redirect }, fail, failed: () => Boolean(firstError), writes };
  for (let i = 0; i < p.plan.nChunks; i++) {
    if (p.done[String(i)] !== undefined) continue;
    queue.add(() => fetchAndWriteChunk(task, i)).catch(fail);
  }
  await queue.onIdle();
  while (writes.size > 0) await Promise.all([...writes]);
  await worker?.close();
  return firstError;
}

/**
 * Run `beforeRename` on the complete partial, then rename it into place and drop its record. On any failure
 * (`firstError` or from `beforeRename`) the partial and its record stay for the next run and nothing is renamed.
 */
async function finishPartial(o: RangeDownloadOptions, fh: FileHandle, paths: PartialPaths, firstError: unknown): Promise<void> {
  if (!firstError && o.beforeRename) {
    try {
      await o.beforeRename(fh);
    } catch (err) {
      firstError = err;
    }
  }
  if (firstError) {
    await fh.close().catch(() => {});
    throw firstError;
  }
  if (o.sync) await fh.datasync();
  await fh.close();
  await rename(paths.data, o.finalPath);
  await rm(paths.state, { force: true });
}

export async function downloadRangeResumable(o: RangeDownloadOptions): Promise<RangeDownloadResult> {
  if (o.srcLength % o.srcElemBytes !== 0) throw new Error(`range length ${o.srcLength} is not a multiple of ${o.srcElemBytes}`);
  if (o.worker && o.srcElemBytes !== o.dstElemBytes) throw new Error('chunk worker converts in place only (same element width)');
  const plan = planChunks(o);
  const paths = partialPaths(o.finalPath);
  const identity = resumeIdentity(o, plan.chunkSize);
  await mkdir(dirname(o.finalPath), { recursive: true });
  const { fh, state } = await openPartial({
    paths,
    identity,
    outSize: plan.outSize,
    outHeader: o.outHeader,
    placement: plan,
    file: o.ctx.file,
    onLog: o.onLog,
  });
  const done = state.done;
  let verified = 0;
  for (const k of Object.keys(done)) verified += plan.chunkLen(Number(k));
  const bytesResumed = verified;
  o.onProgress?.(verified);

  const flush = throttledStateWriter(paths.state, identity, done, o.flushEveryMs ?? 500);
  const writeback = backgroundWriteback(fh, o.sync === true);
  let downloaded = 0;
  const record: RecordChunk = (i, len, written, overflows, hash) => {
    done[String(i)] = { o: overflows, h: hash };
    downloaded += len;
    verified += len;
    writeback.wrote(written);
    o.onProgress?.(verified);
    void flush(false);
  };
  let firstError = await downloadMissingChunks({ o, plan, fh, done, record });
  try {
    await flush(true);
  } catch (err) {
    firstError ??= err;
  }
  await writeback.settled();
  await finishPartial(o, fh, paths, firstError);
  const overflows = Object.values(done).reduce((a, b) => a + b.o, 0);
  return { bytesDownloaded: downloaded, bytesResumed, chunks: plan.nChunks, overflows };
}
