/**
 * One validated byte-range GET. `@huggingface/hub`'s blob slices trust whatever comes back; a CDN that ignores
 * Range answers 200 with the whole file, a proxy may shift or truncate. Every answer is checked: status 206,
 * `Content-Range: bytes start-end/total` equal to the request, Content-Length and body of exactly that length,
 * and the hub's ETag unchanged (a new upload under the same name must not be mixed with old chunks).
 * Sent over node:http(s) (node-http.ts), not fetch: the bulk bytes are CPU-bound on a small machine.
 */
import type { HubClient } from './client.ts';
import { HubError, TransientError, type ErrorContext } from './errors.ts';
import { hubEtag } from './http.ts';
import { discard, rawHubGet, readBodyInto, type RawHubResponse } from './node-http.ts';

export interface RangeResult {
  bytes: Uint8Array;
  /** Whole file size from Content-Range. */
  total: number;
  /** Content identity reported by the hub (X-Linked-Etag / ETag). */
  etag?: string;
  /** X-Repo-Commit when the hub sends it. */
  commit?: string;
}

export interface RangeOptions {
  /** The file size already known (from an earlier answer): a different total means the file changed. */
  expectTotal?: number;
  expectEtag?: string;
  onBytes?: (n: number) => void;
  /** Buffer to read the body into (length ≥ the range). */
  into?: Uint8Array;
  /**
   * Where `url` redirected last time, shared by the chunks of one download: later chunks go there directly
   * instead of through the hub's 307 + 302 (two extra round trips and requests per chunk). Filled by the
   * first answer; a refused direct request (e.g. an expired signed CDN URL: 403) clears it and goes
   * through the hub again.
   */
  redirectCache?: RedirectCache;
}

export interface RedirectCache {
  url?: string;
  /** ETag of the final server's answer: a direct answer must carry the same one (when it sends one). */
  etag?: string;
}

/** The file on the hub changed between requests (new commit on a branch, re-upload): not retryable. */
export class FileChangedError extends HubError {
  constructor(message: string) {
    super(message, 412, 'FileChanged');
    this.name = 'FileChangedError';
  }
}

export function parseContentRange(value: string | null): { start: number; end: number; total: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
}

export async function fetchRange(
  client: HubClient,
  url: string,
  start: number,
  length: number,
  ctx: ErrorContext,
  opts: RangeOptions = {},
): Promise<RangeResult> {
  if (length <= 0) throw new Error(`fetchRange: length ${length} must be positive`);
  const end = start + length - 1;
  const what = `${ctx.file ?? url} bytes ${start}-${end}`;
  const cache = opts.redirectCache;
  const direct = cache?.url;
  let r: RawHubResponse;
  if (direct) {
    try {
      r = await rawHubGet(client, direct, { range: `bytes=${start}-${end}` }, ctx);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      // The cached target refused us (expired signature...): forget it, go through the hub.
      if (cache.url === direct) cache.url = cache.etag = undefined;
      return fetchRange(client, url, start, length, ctx, opts);
    }
  } else {
    r = await rawHubGet(client, url, { range: `bytes=${start}-${end}` }, ctx);
  }
  const { hubHeaders } = r;
  // Through the hub: its identity (X-Linked-Etag) against the header request's. Direct: the final server's own.
  const etag = direct ? hubEtag(r.headers) : (hubEtag(hubHeaders) ?? hubEtag(r.headers));
  const expectEtag = direct ? cache!.etag : opts.expectEtag;
  const commit = hubHeaders.get('x-repo-commit') ?? undefined;
  // Any answer we refuse is not read: its connection is dropped (a 200 may be the whole 5 GB file).
  const fail = (message: string): never => {
    discard(r);
    throw new TransientError(`${what}: ${message}`);
  };
  if (r.status !== 206) {
    fail(
      r.status === 200
        ? `server ignored the Range request and answered 200 with the whole file (${r.headers.get('content-length') ?? '?'} bytes); not accepted`
        : `expected HTTP 206, got ${r.status}`,
    );
  }
  const cr = parseContentRange(r.headers.get('content-range'));
  if (!cr) return fail(`missing or malformed Content-Range "${r.headers.get('content-range')}"`);
  if (cr.start !== start || cr.end !== end) fail(`Content-Range ${cr.start}-${cr.end} does not match the request`);
  if (opts.expectTotal !== undefined && cr.total !== opts.expectTotal) {
    discard(r);
    throw new FileChangedError(`${ctx.repo}/${ctx.file}: size changed from ${opts.expectTotal} to ${cr.total} bytes during the download; re-run to start over`);
  }
  if (expectEtag !== undefined && etag !== undefined && etag !== expectEtag) {
    discard(r);
    throw new FileChangedError(`${ctx.repo}/${ctx.file}: content changed on the hub (ETag ${expectEtag} → ${etag}); re-run to start over`);
  }
  const cl = r.headers.get('content-length');
  if (cl !== null && Number(cl) !== length) fail(`Content-Length ${cl} differs from the ${length} bytes requested`);
  const out = opts.into && opts.into.byteLength >= length ? opts.into.subarray(0, length) : new Uint8Array(length);
  const bytes = await readBodyInto(r, out, client.idleTimeoutMs, what, opts.onBytes);
  if (cache && !direct && r.finalUrl !== url) {
    cache.url = r.finalUrl;
    cache.etag = hubEtag(r.headers);
  }
  return { bytes, total: cr.total, etag, commit };
}
