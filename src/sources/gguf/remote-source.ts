/**
 * A GGUF file on the hub as a ByteSource made of validated Range requests (src/hub/range.ts: 206, exact
 * Content-Range and length, the same size and ETag as the first answer, the hub's redirects followed with the
 * token kept off the CDN). The header parser asks it for a growing prefix, so a 40 GB file costs about its
 * header; the tensor's bytes then go through the chunked, resumable download with the same URL, ETag and
 * redirect.
 */
import type { HubClient } from '../../hub/client.ts';
import { resolveUrl } from '../../hub/client.ts';
import type { ErrorContext } from '../../hub/errors.ts';
import { fetchRange, type RedirectCache } from '../../hub/range.ts';
import { withRetries } from '../../hub/retry.ts';
import type { ByteSource } from './header.ts';

/** The first request: enough for the magic and version, and it tells the file's size and ETag. */
const PROBE_BYTES = 8;

export interface RemoteGguf extends ByteSource {
  url: string;
  ctx: ErrorContext;
  etag?: string;
  /** Where the hub redirected: the tensor's chunks start there directly. */
  redirect: RedirectCache;
  /** Body bytes fetched through this source so far. */
  bytesRead(): number;
}

export async function openRemoteGguf(client: HubClient, repo: string, commit: string, file: string): Promise<RemoteGguf> {
  const ctx: ErrorContext = { repo, revision: commit, file, hubUrl: client.hubUrl, hasToken: Boolean(client.token) };
  const url = resolveUrl(client, repo, commit, file);
  const name = `${repo}/${file}`;
  const redirect: RedirectCache = {};
  let read = 0;
  const first = await withRetries(
    client.retry,
    `${name} header`,
    () => fetchRange(client, url, 0, PROBE_BYTES, ctx, { redirectCache: redirect }),
    client.onRetry,
  );
  read += first.bytes.byteLength;
  const head = first.bytes.slice();
  const fetchSlice = async (offset: number, length: number) => {
    const r = await withRetries(
      client.retry,
      `${name} header`,
      () => fetchRange(client, url, offset, length, ctx, { expectTotal: first.total, expectEtag: first.etag, redirectCache: redirect }),
      client.onRetry,
    );
    read += r.bytes.byteLength;
    return r.bytes;
  };
  return {
    name,
    size: first.total,
    url,
    ctx,
    ...(first.etag !== undefined ? { etag: first.etag } : {}),
    redirect,
    bytesRead: () => read,
    async read(offset, length) {
      // The probe's bytes are not fetched twice: the parser's first read starts at 0.
      const cached = Math.max(0, Math.min(head.byteLength - offset, length));
      if (cached === length) return head.slice(offset, offset + length);
      const rest = await fetchSlice(offset + cached, length - cached);
      if (cached === 0) return rest;
      const out = new Uint8Array(length);
      out.set(head.subarray(offset, offset + cached));
      out.set(rest, cached);
      return out;
    },
  };
}
