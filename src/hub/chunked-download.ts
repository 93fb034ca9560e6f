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
import { existsSync, writeSync } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import PQueue from 'p-queue';
import { tempPathFor } from '../util/atomic.ts';
import type { HubClient } from './client.ts';
import type { ErrorContext } from './errors.ts';
import { fetchRange, type RedirectCache } from './range.ts';
import { chunkFingerprint } from './chunk-fingerprint.ts';
import { ChunkWorker, type WorkerMode } from './chunk-worker.ts';
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

interface ChunkRecord {
  /** f16 overflows in this chunk. */
  o: number;
  /** Fingerprint of the chunk's output bytes as written (chunkFingerprint). */
  h: string;
}

interface PartialState {
  version: 2;
  identity: Record<string, unknown>;
  done: Record<string, ChunkRecord>;
}

const WRITEBACK_EVERY = 256 * 1024 * 1024;

/**
 * Temp file + rename, without fsync: an fsync here would (on ext4) also force out the partial's dirty data
 * every time. The per-chunk checksums make a stale or lost record harmless.
 */
async function writeStateFile(path: string, state: PartialState): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, JSON.stringify(state));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const partialPaths = (finalPath: string) => ({ data: `${finalPath}.partial`, state: `${finalPath}.partial.json` });

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

async function loadState(statePath: string, dataPath: string, identity: Record<string, unknown>, size: number): Promise<PartialState | undefined> {
  if (!existsSync(statePath) || !existsSync(dataPath)) return undefined;
  try {
    const state = JSON.parse(await readFile(statePath, 'utf8')) as PartialState;
    if (state.version !== 2 || canonical(state.identity) !== canonical(identity)) return undefined;
    if ((await stat(dataPath)).size !== size) return undefined;
    return state;
  } catch {
    return undefined; // unreadable sidecar: start over rather than trust it
  }
}

export async function downloadRangeResumable(o: RangeDownloadOptions): Promise<RangeDownloadResult> {
  const chunkSize = Math.max(o.srcElemBytes, Math.floor(o.chunkSize / o.srcElemBytes) * o.srcElemBytes);
  if (o.srcLength % o.srcElemBytes !== 0) throw new Error(`range length ${o.srcLength} is not a multiple of ${o.srcElemBytes}`);
  const nChunks = Math.ceil(o.srcLength / chunkSize);
  const dataBytes = (o.srcLength / o.srcElemBytes) * o.dstElemBytes;
  const outSize = o.outHeader.byteLength + dataBytes;
  const paths = partialPaths(o.finalPath);
  const identity = {
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

  await mkdir(dirname(o.finalPath), { recursive: true });
  const chunkLen = (i: number) => Math.min(chunkSize, o.srcLength - i * chunkSize);
  const outPos = (i: number) => o.outHeader.byteLength + ((i * chunkSize) / o.srcElemBytes) * o.dstElemBytes;
  const outLen = (i: number) => (chunkLen(i) / o.srcElemBytes) * o.dstElemBytes;
  let state = await loadState(paths.state, paths.data, identity, outSize);
  let fh: FileHandle;
  if (state) {
    fh = await open(paths.data, 'r+');
    // Trust nothing unverified: re-hash every recorded chunk from disk.
    const recorded = Object.keys(state.done);
    let bad = 0;
    const buf = new Uint8Array(outLen(0));
    for (const k of recorded) {
      const i = Number(k);
      const view = buf.subarray(0, outLen(i));
      const { bytesRead } = await fh.read(view, 0, view.byteLength, outPos(i));
      if (bytesRead !== view.byteLength || chunkFingerprint(view) !== state.done[k]!.h) {
        delete state.done[k];
        bad++;
      }
    }
    o.onLog?.(
      `resuming ${o.ctx.file}: ${recorded.length - bad}/${nChunks} chunks already verified` +
        (bad > 0 ? ` (${bad} recorded chunks did not match their checksum and will be fetched again)` : ''),
    );
  } else {
    await rm(paths.state, { force: true });
    await rm(paths.data, { force: true });
    state = { version: 2, identity, done: {} };
    fh = await open(paths.data, 'w+');
    await fh.write(o.outHeader, 0, o.outHeader.byteLength, 0);
    await fh.truncate(outSize);
    await writeStateFile(paths.state, state);
  }
  const done = state.done;
  let verified = 0;
  for (const k of Object.keys(done)) verified += chunkLen(Number(k));
  const bytesResumed = verified;
  o.onProgress?.(verified);

  // Sidecar writes are serialised and throttled (the checksums, not fsync, make them safe to trust).
  let flushing: Promise<void> = Promise.resolve();
  let lastFlush = 0;
  const flush = (force: boolean) => {
    const now = Date.now();
    if (!force && now - lastFlush < (o.flushEveryMs ?? 500)) return flushing;
    lastFlush = now;
    const snapshot: PartialState = { version: 2, identity, done: { ...done } };
    flushing = flushing.then(() => writeStateFile(paths.state, snapshot));
    return flushing;
  };
  // Start writeback in the background every WRITEBACK_EVERY bytes, so the final datasync has little left.
  let sinceWriteback = 0;
  let writeback: Promise<void> = Promise.resolve();
  const maybeWriteback = (n: number) => {
    sinceWriteback += n;
    if (!o.sync || sinceWriteback < WRITEBACK_EVERY) return;
    sinceWriteback = 0;
    writeback = writeback.then(() => fh.datasync()).catch(() => {});
  };

  const concurrency = Math.max(1, o.concurrency);
  const queue = new PQueue({ concurrency });
  if (o.worker && o.srcElemBytes !== o.dstElemBytes) throw new Error('chunk worker converts in place only (same element width)');
  const worker = o.worker ? new ChunkWorker(o.worker.mode, o.worker.table) : undefined;

  // Chunk buffers: at most `concurrency + 2`, so a connection can start its next range while the worker still
  // writes the previous one, and memory stays bounded when the disk is slower than the network.
  const maxBuffers = worker ? concurrency + 2 : concurrency;
  const pool: Uint8Array[] = [];
  const waiting: ((b: Uint8Array) => void)[] = [];
  let allocated = 0;
  const acquire = (): Promise<Uint8Array> => {
    const b = pool.pop();
    if (b) return Promise.resolve(b);
    if (allocated < maxBuffers) {
      allocated++;
      return Promise.resolve(worker ? new Uint8Array(new SharedArrayBuffer(chunkSize)) : new Uint8Array(chunkSize));
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (b: Uint8Array) => {
    const next = waiting.shift();
    if (next) next(b);
    else pool.push(b);
  };

  let firstError: unknown;
  const fail = (err: unknown) => {
    firstError ??= err;
    queue.clear();
  };
  let downloaded = 0;
  const record = (i: number, len: number, written: number, overflows: number, hash: string) => {
    done[String(i)] = { o: overflows, h: hash };
    downloaded += len;
    verified += len;
    maybeWriteback(written);
    o.onProgress?.(verified);
    void flush(false);
  };
  const writes = new Set<Promise<void>>();
  // Chunks after the first go straight to where the hub redirected (validated the same way).
  const redirectCache: RedirectCache = { ...o.redirect };
  for (let i = 0; i < nChunks; i++) {
    if (done[String(i)] !== undefined) continue;
    queue
      .add(async () => {
        if (firstError) return;
        const start = o.srcStart + i * chunkSize;
        const len = chunkLen(i);
        const buffer = await acquire();
        let handedOff = false;
        try {
          const { bytes } = await withRetries(
            o.client.retry,
            `${o.ctx.repo}/${o.ctx.file} chunk ${i + 1}/${nChunks}`,
            () => fetchRange(o.client, o.url, start, len, o.ctx, { expectTotal: o.fileSize, expectEtag: o.etag, into: buffer, redirectCache }),
            o.client.onRetry,
          );
          if (firstError) return;
          const position = outPos(i);
          if (worker) {
            // Hand the bytes to the worker and free this connection for the next range at once.
            handedOff = true;
            const w: Promise<void> = worker
              .process({ buffer: buffer.buffer as SharedArrayBuffer, length: len, fd: fh.fd, position })
              .then((r) => record(i, len, len, r.overflows, r.hash), fail)
              .finally(() => {
                release(buffer);
                writes.delete(w);
              });
            writes.add(w);
          } else {
            const out = o.transform(bytes);
            // Synchronous positional write (into the page cache), then the fingerprint.
            let off = 0;
            while (off < out.bytes.byteLength) off += writeSync(fh.fd, out.bytes, off, out.bytes.byteLength - off, position + off);
            record(i, len, out.bytes.byteLength, out.overflows, chunkFingerprint(out.bytes));
          }
        } finally {
          if (!handedOff) release(buffer);
        }
      })
      .catch(fail);
  }
  await queue.onIdle();
  while (writes.size > 0) await Promise.all([...writes]);
  await worker?.close();
  try {
    await flush(true);
  } catch (err) {
    firstError ??= err;
  }
  await writeback;
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
  const overflows = Object.values(done).reduce((a, b) => a + b.o, 0);
  return { bytesDownloaded: downloaded, bytesResumed, chunks: nChunks, overflows };
}
