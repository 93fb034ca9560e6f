/**
 * The redirect and status policy shared by both hub transports: `hubGet` (fetch, http.ts) and `rawHubGet`
 * (the raw range client, node-http.ts). The hub answers `resolve/` with 302 to a CDN (S3/CloudFront signed URL,
 * or the Xet bridge) for large files and 307 for relative/same-site redirects. The token must reach the hub
 * but never another host (S3 even rejects a request carrying both a signature and a Bearer header), so
 * redirects are followed by hand and Authorization is attached only on hops to the hub's own origin.
 */
import type { HubClient } from './client.ts';
import { HubError, TransientError, hubErrorFor, isRetryableStatus, parseRetryAfter, type ErrorContext } from './errors.ts';

export const MAX_REDIRECTS = 10;

/** What the policy needs to see of a response, whichever transport produced it. */
export interface HopResponse {
  status: number;
  headers: Headers;
}

export interface FollowedResponse<R> {
  /** The first answer that is not a redirect (any status: the caller decides what is OK). */
  r: R;
  /** Headers of the first (hub) response: X-Repo-Commit, X-Linked-Etag, X-Linked-Size live here. */
  hubHeaders: Headers;
  finalUrl: string;
}

/**
 * GET `url` through `send` (one request, no redirect handling), following 3xx answers (except 304) to their
 * Location, relative ones resolved against the current URL, at most MAX_REDIRECTS times. Each hop sends
 * `accept-encoding: identity` plus `headers`, and `Authorization: Bearer <token>` only when the hop's origin is
 * the hub's. A redirect's body is dropped through `drop` before the next hop.
 */
export async function followRedirects<R extends HopResponse>(
  client: Pick<HubClient, 'hubUrl' | 'token'>,
  url: string,
  headers: Record<string, string>,
  send: (url: string, headers: Record<string, string>) => Promise<R>,
  drop: (r: R) => void | Promise<void>,
): Promise<FollowedResponse<R>> {
  const hubOrigin = new URL(client.hubUrl).origin;
  let current = url;
  let hubHeaders: Headers | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const sameOrigin = new URL(current).origin === hubOrigin;
    const h: Record<string, string> = { 'accept-encoding': 'identity', ...headers };
    if (client.token && sameOrigin) h.authorization = `Bearer ${client.token}`;
    const r = await send(current, h);
    hubHeaders ??= r.headers;
    if (r.status >= 300 && r.status < 400 && r.status !== 304) {
      const location = r.headers.get('location');
      await drop(r);
      if (!location) throw new TransientError(`${current}: HTTP ${r.status} redirect without a Location header`);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new HubError(`${current} redirected to "${location}", which is not a URL; refusing to follow it (check HF_ENDPOINT)`, r.status, 'BadRedirect');
      }
      // Only http(s) is a hub or CDN: a `file:` (or any other) Location would make us read local files or
      // speak another protocol on the hub's say-so. Definitive, so it is not retried.
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new HubError(
          `${current} redirected to ${next.href}, which is not an http(s) URL; refusing to follow it (check HF_ENDPOINT)`,
          r.status,
          'BadRedirect',
        );
      }
      current = next.toString();
      continue;
    }
    return { r, hubHeaders, finalUrl: current };
  }
  throw new TransientError(`${url}: more than ${MAX_REDIRECTS} redirects`);
}

/**
 * The error for a refused (non-2xx, non-redirect) answer from `url`: a TransientError for 5xx/429/408/425
 * (Retry-After kept) so callers can retry, else a definitive HubError.
 */
export function statusError(r: HopResponse, url: string, ctx: ErrorContext): Error {
  if (isRetryableStatus(r.status)) {
    return new TransientError(`${ctx.file ?? ctx.repo}: HTTP ${r.status} from ${new URL(url).host}`, parseRetryAfter(r.headers.get('retry-after')));
  }
  return hubErrorFor(r, ctx);
}
