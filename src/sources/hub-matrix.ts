/**
 * The download of one matrix's bytes from a hub file into the extracted output, shared by the hub adapters
 * (a safetensors shard, a GGUF file): the verified, resumable, parallel chunk path (src/hub/chunked-download.ts),
 * a progress bar counting this run's bytes, the worker thread for plain copies and BF16 → F16, and before the
 * rename `--verify` (the whole file streamed again and hashed against the hub's sha256, src/hub/verify-file.ts)
 * then the adapter's own check of the rows as they landed; nothing at all when the output is already current.
 */
import type { FileHandle } from 'node:fs/promises';
import type { HubClient } from '../hub/client.ts';
import { downloadRangeResumable, type ChunkTransform, type RangeDownloadResult } from '../hub/chunked-download.ts';
import type { ErrorContext } from '../hub/errors.ts';
import type { RedirectCache } from '../hub/range.ts';
import { verifyAgainstFileHash } from '../hub/verify-file.ts';
import { DTYPE_BYTES, bf16ToF16Table } from '../safetensors/dtype.ts';
import type { ExtractOptions } from './extract.ts';
import type { SourceJob } from './source-job.ts';
import { outputHeader, refuseNonFinite } from './write-matrix.ts';
import { NonFiniteRows } from '../util/non-finite.ts';

export interface HubMatrixDownload {
  client: HubClient;
  job: SourceJob;
  /** The remote file at one commit: its resolve URL, error context, where it redirected, size and ETag. */
  remote: { url: string; ctx: ErrorContext; redirect?: RedirectCache; size: number; etag?: string };
  /** The matrix's stored bytes in the file. */
  srcStart: number;
  srcLength: number;
  /** One stored element (a value, or a ggml block) and what it becomes: chunks hold whole elements. */
  srcElemBytes: number;
  dstElemBytes: number;
  transform: ChunkTransform;
  /** The stored dtype's name: equal to the output dtype (a copy) or BF16 → F16 runs on a worker thread. */
  storedDtype: string;
  /** The output: [rows, dim] with this `__metadata__` (provenance), also what decides whether it is current. */
  rows: number;
  dim: number;
  metadata: Record<string, string>;
  /** Checks the complete rows in the partial file from byte `start` (after --verify, before the rename); a throw leaves no output. */
  checkRows?: (partial: FileHandle, start: number) => Promise<void>;
}

export interface HubMatrixResult extends RangeDownloadResult {
  /** The output already held exactly this extraction: nothing was fetched. */
  skipped: boolean;
}

export async function downloadHubMatrix(d: HubMatrixDownload): Promise<HubMatrixResult> {
  const { opts, source, outPath } = d.job;
  const { remote } = d;
  if (await opts.isCurrent(outPath, d.metadata, opts.dtype)) {
    opts.log(`${source.name}: ${outPath} is already extracted from this commit (use --force to redo)`);
    return { bytesDownloaded: 0, bytesResumed: 0, overflows: 0, chunks: 0, skipped: true };
  }
  // The bar counts this run's bytes (rate and ETA stay true after a resume); resumed bytes are logged.
  let base: number | undefined;
  let progress: ReturnType<ExtractOptions['progress']> | undefined;
  const onProgress = (n: number) => {
    if (base === undefined) {
      base = n;
      progress = opts.progress(source.name, d.srcLength - n);
      if (n > 0) progress.log(`${source.name}: ${(n / 1e6).toFixed(1)} MB already verified from an earlier run`);
    }
    progress!.update(n - base);
  };
  const common = {
    client: d.client,
    url: remote.url,
    ctx: remote.ctx,
    redirect: remote.redirect,
    fileSize: remote.size,
    etag: remote.etag,
    srcStart: d.srcStart,
    srcLength: d.srcLength,
    srcElemBytes: d.srcElemBytes,
    dstElemBytes: d.dstElemBytes,
    transform: d.transform,
    chunkSize: opts.chunkSize,
    concurrency: opts.concurrency,
  };
  const stored = d.storedDtype;
  const outHeader = outputHeader(d.rows, d.dim, opts.dtype, d.metadata);
  const result = await downloadRangeResumable({
    ...common,
    finalPath: outPath,
    outHeader,
    sync: opts.fsync,
    worker: stored === opts.dtype ? { mode: 'same' } : stored === 'BF16' && opts.dtype === 'F16' ? { mode: 'bf16-f16', table: bf16ToF16Table() } : undefined,
    identity: { ...d.metadata, dtype: opts.dtype, shard: remote.ctx.file },
    onProgress,
    onLog: (m) => (progress ? progress.log(m) : opts.log(m)),
    beforeRename: async (partial) => {
      if (opts.verify) {
        opts.log(`${source.name}: --verify: streaming all of ${remote.ctx.file} (${remote.size} bytes) to check its sha256`);
        await verifyAgainstFileHash({ ...common, outStart: outHeader.byteLength, onLog: opts.log }, partial);
      }
      await d.checkRows?.(partial, outHeader.byteLength);
    },
  });
  progress?.finish();
  return { ...result, skipped: false };
}

/**
 * Count the rows of the downloaded matrix (in `file` from byte `start`) that hold NaN or ±Inf and refuse the
 * source when there are any. After a conversion to a narrower type (BF16 → F16) ±Inf can be an overflow, which is
 * counted and reported apart, so only NaN counts there.
 */
export async function refuseNonFiniteRows(
  file: FileHandle,
  m: { start: number; rows: number; dim: number; dtype: 'F32' | 'F16' | 'BF16'; converted: boolean; path: string },
): Promise<void> {
  const rowBytes = m.dim * DTYPE_BYTES[m.dtype];
  const blockRows = Math.max(1, Math.floor((8 << 20) / rowBytes));
  const buf = new Uint8Array(blockRows * rowBytes);
  const found = new NonFiniteRows(m.dim);
  for (let row = 0; row < m.rows; row += blockRows) {
    const count = Math.min(blockRows, m.rows - row);
    const { bytesRead } = await file.read(buf, 0, count * rowBytes, m.start + row * rowBytes);
    if (bytesRead !== count * rowBytes) throw new Error(`${m.path}: short read of the downloaded rows at row ${row}`);
    const bytes = buf.subarray(0, bytesRead);
    if (m.converted && m.dtype !== 'F32') found.addNaNBytes(bytes, m.dtype, row);
    else found.addBytes(bytes, m.dtype, row);
  }
  refuseNonFinite(found, m.rows, m.path);
}
