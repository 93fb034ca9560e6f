/**
 * Download one byte range of a remote file in parallel chunks (p-queue), converting each chunk and writing it
 * straight to its place in the output file, resumably:
 *
 *   <final>.partial       the output being filled (header first, data at fixed offsets; sparse until done)
 *   <final>.partial.json  which chunks are verified and written, plus everything that decides the bytes
 *                         (repo, commit, ETag, file size, range, dtypes, chunk size, output header)
 *
 * A re-run with the same identity continues and re-downloads nothing recorded; a different identity (new
 * commit, changed ETag, other dtype...) throws the partial away. The sidecar is written only after the data it
 * lists has been flushed to disk (datasync), so it never claims a chunk that a crash could lose. On success the
 * partial is renamed to the final name: nothing that looks complete exists before every chunk is in place.
 */
import { existsSync } from 'node:fs';
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import PQueue from 'p-queue';
import { writeJsonAtomic } from '../util/atomic.ts';
import type { HubClient } from './client.ts';
import type { ErrorContext } from './errors.ts';
import { fetchRange } from './range.ts';
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
}

export interface RangeDownloadResult {
  /** Source bytes fetched in this run (verified chunks only). */
  bytesDownloaded: number;
  /** Source bytes that were already verified by an earlier run. */
  bytesResumed: number;
  chunks: number;
  overflows: number;
}

interface PartialState {
  version: 1;
  identity: Record<string, unknown>;
  done: Record<string, number>; // chunk index → f16 overflows in that chunk
}

export const partialPaths = (finalPath: string) => ({ data: `${finalPath}.partial`, state: `${finalPath}.partial.json` });

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

async function loadState(statePath: string, dataPath: string, identity: Record<string, unknown>, size: number): Promise<PartialState | undefined> {
  if (!existsSync(statePath) || !existsSync(dataPath)) return undefined;
  try {
    const state = JSON.parse(await readFile(statePath, 'utf8')) as PartialState;
    if (state.version !== 1 || canonical(state.identity) !== canonical(identity)) return undefined;
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
  let state = await loadState(paths.state, paths.data, identity, outSize);
  let fh: FileHandle;
  if (state) {
    fh = await open(paths.data, 'r+');
    o.onLog?.(`resuming ${o.ctx.file}: ${Object.keys(state.done).length}/${nChunks} chunks already verified`);
  } else {
    await rm(paths.state, { force: true });
    await rm(paths.data, { force: true });
    state = { version: 1, identity, done: {} };
    fh = await open(paths.data, 'w+');
    await fh.write(o.outHeader, 0, o.outHeader.byteLength, 0);
    await fh.truncate(outSize);
    await writeJsonAtomic(paths.state, state);
  }
  const done = state.done;
  const chunkLen = (i: number) => Math.min(chunkSize, o.srcLength - i * chunkSize);
  let verified = 0;
  for (const k of Object.keys(done)) verified += chunkLen(Number(k));
  const bytesResumed = verified;
  o.onProgress?.(verified);

  // Sidecar writes are serialised and throttled; each one first flushes the data it is about to list.
  let flushing: Promise<void> = Promise.resolve();
  let lastFlush = 0;
  const flush = (force: boolean) => {
    const now = Date.now();
    if (!force && now - lastFlush < (o.flushEveryMs ?? 500)) return flushing;
    lastFlush = now;
    const snapshot: PartialState = { version: 1, identity, done: { ...done } };
    flushing = flushing.then(async () => {
      await fh.datasync();
      await writeJsonAtomic(paths.state, snapshot);
    });
    return flushing;
  };

  const queue = new PQueue({ concurrency: Math.max(1, o.concurrency) });
  let firstError: unknown;
  let downloaded = 0;
  for (let i = 0; i < nChunks; i++) {
    if (done[String(i)] !== undefined) continue;
    queue
      .add(async () => {
        if (firstError) return;
        const start = o.srcStart + i * chunkSize;
        const len = chunkLen(i);
        const { bytes } = await withRetries(
          o.client.retry,
          `${o.ctx.repo}/${o.ctx.file} chunk ${i + 1}/${nChunks}`,
          () => fetchRange(o.client, o.url, start, len, o.ctx, { expectTotal: o.fileSize, expectEtag: o.etag }),
          o.client.onRetry,
        );
        if (firstError) return;
        const out = o.transform(bytes);
        const position = o.outHeader.byteLength + ((i * chunkSize) / o.srcElemBytes) * o.dstElemBytes;
        let off = 0;
        while (off < out.bytes.byteLength) {
          const { bytesWritten } = await fh.write(out.bytes, off, out.bytes.byteLength - off, position + off);
          off += bytesWritten;
        }
        done[String(i)] = out.overflows;
        downloaded += len;
        verified += len;
        o.onProgress?.(verified);
        void flush(false);
      })
      .catch((err: unknown) => {
        firstError ??= err;
        queue.clear();
      });
  }
  await queue.onIdle();
  try {
    await flush(true);
  } catch (err) {
    firstError ??= err;
  }
  if (firstError) {
    await fh.close().catch(() => {});
    throw firstError;
  }
  await fh.sync();
  await fh.close();
  await rename(paths.data, o.finalPath);
  await rm(paths.state, { force: true });
  const overflows = Object.values(done).reduce((a, b) => a + b, 0);
  return { bytesDownloaded: downloaded, bytesResumed, chunks: nChunks, overflows };
}
