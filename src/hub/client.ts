/**
 * How we talk to a hub: its base URL (HF_ENDPOINT, for mirrors and the tests' loopback server), an optional
 * token (HF_TOKEN), the fetch to use (injectable, like @huggingface/hub's own functions) and retry policy.
 */
import { UserError } from '../util/errors.ts';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** First backoff delay; doubles every attempt (with jitter), capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest Retry-After we honour; a server asking for more gets this (and the user sees a message). */
  maxRetryAfterMs: number;
}

export interface HubClient {
  hubUrl: string;
  token?: string;
  fetch: typeof fetch;
  retry: RetryPolicy;
  /** Abort a response that delivers no bytes for this long (a stalled CDN connection), then retry. */
  idleTimeoutMs: number;
  /** Called before a retry is scheduled (progress output). */
  onRetry?: (message: string) => void;
}

const DEFAULT_RETRY: RetryPolicy = { retries: 6, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/** Build a client from the environment: HF_ENDPOINT (default huggingface.co), HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN). */
export function hubClientFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HubClient> = {}): HubClient {
  const hubUrl = (overrides.hubUrl ?? env.HF_ENDPOINT ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  try {
    new URL(hubUrl);
  } catch {
    throw new UserError(`HF_ENDPOINT "${hubUrl}" is not a URL (expected e.g. https://huggingface.co)`);
  }
  const token = overrides.token ?? (env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined);
  if (token !== undefined && !/^hf_\w+$/.test(token.trim())) {
    throw new UserError(
      'HF_TOKEN does not look like a Hugging Face access token (they start with "hf_"); create one at https://huggingface.co/settings/tokens',
    );
  }
  return {
    hubUrl,
    token: token?.trim(),
    fetch: overrides.fetch ?? globalThis.fetch,
    retry: overrides.retry ?? DEFAULT_RETRY,
    idleTimeoutMs: overrides.idleTimeoutMs ?? 60_000,
    onRetry: overrides.onRetry,
  };
}

/** `resolve/` URL of one file at one revision (commit sha preferred: immutable, so chunks of one file never mix). */
export function resolveUrl(client: HubClient, repo: string, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${client.hubUrl}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}
