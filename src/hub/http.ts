/**
 * Hub GETs over fetch (small files and the repo API): redirects followed by hand with the token only on the
 * hub's own origin (the policy lives in redirect.ts, shared with the raw range client in node-http.ts).
 */
import type { HubClient } from './client.ts';
import { TransientError, type ErrorContext } from './errors.ts';
import { followRedirects, statusError } from './redirect.ts';

export interface HubResponse {
  res: Response;
  /** Headers of the first (hub) response: X-Repo-Commit, X-Linked-Etag, X-Linked-Size live here. */
  hubHeaders: Headers;
  finalUrl: string;
}

/** Strip quotes and weak prefix: `W/"abc"` → `abc`. */
export function normaliseEtag(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  return value.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** The content identity the hub reports for a file: X-Linked-Etag (LFS/Xet sha256) or ETag. */
export function hubEtag(h: Headers): string | undefined {
  return normaliseEtag(h.get('x-linked-etag') ?? h.get('etag'));
}

/**
 * Fetch `url` following redirects. Non-OK answers become a HubError (definitive) or a TransientError
 * (5xx/429/408, Retry-After kept) so callers can retry; the body of a returned response is unread.
 */
export async function hubGet(client: HubClient, url: string, headers: Record<string, string>, ctx: ErrorContext, signal?: AbortSignal): Promise<HubResponse> {
  const {
    r: res,
    hubHeaders,
    finalUrl,
  } = await followRedirects(
    client,
    url,
    headers,
    (current, h) => client.fetch(current, { headers: h, redirect: 'manual', signal }),
    (res) => res.body?.cancel().catch(() => {}),
  );
  if (res.ok) return { res, hubHeaders, finalUrl };
  const err = statusError(res, finalUrl, ctx);
  await res.body?.cancel().catch(() => {});
  throw err;
}

/**
 * Read a response body into exactly `expected` bytes (when given), aborting on a stall longer than
 * `idleTimeoutMs`. Too few or too many bytes is a TransientError: the transfer broke or the server lied.
 */
export async function readBody(
  res: Response,
  expected: number | undefined,
  idleTimeoutMs: number,
  abort: AbortController,
  what: string,
  onBytes?: (n: number) => void,
  /** Reuse this buffer (length ≥ expected) instead of allocating one: the chunk downloader pools them. */
  into?: Uint8Array,
): Promise<Uint8Array> {
  if (!res.body) {
    if (expected === 0 || expected === undefined) return new Uint8Array(0);
    throw new TransientError(`${what}: empty body, expected ${expected} bytes`);
  }
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let out = expected !== undefined ? (into && into.byteLength >= expected ? into.subarray(0, expected) : new Uint8Array(expected)) : undefined;
  let got = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new TransientError(`${what}: no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  };
  try {
    arm();
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (err) {
        const reason = abort.signal.aborted ? abort.signal.reason : err;
        throw reason instanceof TransientError
          ? reason
          : new TransientError(`${what}: connection broke after ${got} bytes (${(reason as Error)?.message ?? reason})`);
      }
      if (step.done) break;
      const chunk = step.value;
      if (out) {
        if (got + chunk.byteLength > out.byteLength) {
          await reader.cancel().catch(() => {});
          throw new TransientError(`${what}: server sent more than the ${expected} bytes requested`);
        }
        out.set(chunk, got);
      } else {
        parts.push(chunk);
      }
      got += chunk.byteLength;
      onBytes?.(chunk.byteLength);
      arm();
    }
  } finally {
    clearTimeout(timer);
  }
  if (out) {
    if (got !== out.byteLength) throw new TransientError(`${what}: body ended after ${got} of ${expected} bytes`);
    return out;
  }
  out = new Uint8Array(got);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
