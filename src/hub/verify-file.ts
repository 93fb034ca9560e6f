/**
 * `--verify`: check a ranged download against the whole file's hash. A byte range cannot be checked on its own:
 * the hub publishes one sha256 per LFS file (its oid, sent as X-Linked-Etag), not per range. Xet-backed files do
 * have per-chunk hashes, but they are BLAKE3-keyed merkle hashes of content-defined chunks reached through the Xet
 * reconstruction API (huggingface.js packages/hub/src/utils/XetBlob.ts), which plain Range requests through the
 * hub's bridge never see. So without --verify a range is checked only by the HTTP contract (206, Content-Range,
 * exact length, unchanged ETag) and the header's consistency, and a proxy that flips a byte goes unnoticed.
 *
 * With it, once every chunk is in the partial file, the whole remote file is streamed again in order (up to
 * `concurrency` validated ranges in flight) and hashed. The tensor's bytes of this pass are converted exactly as
 * the first pass converted them and compared with what the first pass wrote; a chunk that differs is rewritten from
 * this pass. Only when the stream's sha256 equals the hub's oid may the output be renamed into place: a mismatch
 * is one line naming the file and both hashes, and nothing final is written. The cost: the whole shard once more
 * (e.g. 5 GB for Gemma-2 2B's 1.2 GB tensor).
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.ts';
import type { HubClient } from './client.ts';
import type { ErrorContext } from './errors.ts';
import { fetchRange, type RedirectCache } from './range.ts';
import { withRetries } from './retry.ts';

/** A git-LFS oid (and the Xet bridge's X-Linked-Etag): the sha256 of the whole file, as 64 hex digits. */
function lfsSha256(etag: string | undefined): string | undefined {
  return etag !== undefined && /^[0-9a-f]{64}$/.test(etag) ? etag : undefined;
}

export interface VerifyOptions {
  client: HubClient;
  url: string;
  ctx: ErrorContext;
  fileSize: number;
  etag?: string;
  /** The tensor's bytes in the remote file, and where their converted bytes start in the output. */
  srcStart: number;
  srcLength: number;
  outStart: number;
  srcElemBytes: number;
  dstElemBytes: number;
  transform: (bytes: Uint8Array) => { bytes: Uint8Array };
  chunkSize: number;
  concurrency: number;
  redirect?: RedirectCache;
  onLog?: (message: string) => void;
}

export interface VerifyResult {
  sha256: string;
  /** Output bytes that differed from the verified pass and were rewritten from it. */
  correctedBytes: number;
}

/** Pieces of the file in order; inside the tensor they are aligned to its start (and to whole elements). */
function pieces(o: VerifyOptions, chunk: number): { start: number; length: number; tensor: boolean }[] {
  const out: { start: number; length: number; tensor: boolean }[] = [];
  const span = (from: number, to: number, tensor: boolean) => {
    for (let s = from; s < to; s += chunk) out.push({ start: s, length: Math.min(chunk, to - s), tensor });
  };
  span(0, o.srcStart, false);
  span(o.srcStart, o.srcStart + o.srcLength, true);
  span(o.srcStart + o.srcLength, o.fileSize, false);
  return out;
}

/** Stream the whole remote file, repair the output's tensor bytes from it, and check its sha256 (see above). */
export async function verifyAgainstFileHash(o: VerifyOptions, out: FileHandle): Promise<VerifyResult> {
  const label = `${o.ctx.repo}/${o.ctx.file}`;
  const expected = lfsSha256(o.etag);
  if (!expected) {
    throw new UserError(
      `${label}: the hub gives no sha256 for this file (ETag "${o.etag ?? ''}" is not an LFS oid), so --verify cannot check it; run without --verify`,
    );
  }
  const chunk = Math.max(o.srcElemBytes, Math.floor(o.chunkSize / o.srcElemBytes) * o.srcElemBytes);
  const list = pieces(o, chunk);
  const redirectCache: RedirectCache = { ...o.redirect };
  const fetchPiece = (p: { start: number; length: number }) =>
    withRetries(
      o.client.retry,
      `${label} verify bytes ${p.start}-${p.start + p.length - 1}`,
      async () => (await fetchRange(o.client, o.url, p.start, p.length, o.ctx, { expectTotal: o.fileSize, expectEtag: o.etag, redirectCache })).bytes,
      o.client.onRetry,
    );
  const hash = createHash('sha256');
  const inFlight: Promise<Uint8Array>[] = [];
  let next = 0;
  let corrected = 0;
  const written = new Uint8Array((chunk / o.srcElemBytes) * o.dstElemBytes);
  try {
    for (const p of list) {
      while (inFlight.length < Math.max(1, o.concurrency) && next < list.length) {
        const pr = fetchPiece(list[next++]!);
        pr.catch(() => {}); // awaited in order below; marked handled so a later failure is not reported twice
        inFlight.push(pr);
      }
      const bytes = await inFlight.shift()!;
      hash.update(bytes);
      if (!p.tensor) continue;
      const conv = o.transform(bytes).bytes;
      const position = o.outStart + ((p.start - o.srcStart) / o.srcElemBytes) * o.dstElemBytes;
      const view = written.subarray(0, conv.byteLength);
      const { bytesRead } = await out.read(view, 0, view.byteLength, position);
      if (bytesRead === view.byteLength && Buffer.compare(view, conv) === 0) continue;
      let differ = 0;
      for (let i = 0; i < conv.byteLength; i++) if (view[i] !== conv[i]) differ++;
      corrected += differ;
      await out.write(conv, 0, conv.byteLength, position);
    }
  } finally {
    await Promise.allSettled(inFlight);
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    throw new UserError(
      `${label}: sha256 of the downloaded file is ${actual}, the hub's is ${expected}: bytes were corrupted on the way; nothing was written, run again (verified chunks are kept)`,
      1,
    );
  }
  if (corrected > 0) o.onLog?.(`verify: ${label}: ${corrected} bytes of the first download differed from the verified file and were rewritten`);
  return { sha256: actual, correctedBytes: corrected };
}
