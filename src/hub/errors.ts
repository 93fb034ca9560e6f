/**
 * Hub answers turned into errors a user can act on. The real hub says what went wrong in `X-Error-Code`
 * (`RepoNotFound`, `GatedRepo`, `RevisionNotFound`, `EntryNotFound`) and `X-Error-Message`; we map those,
 * and plain statuses for mirrors that send neither.
 */
import { UserError } from '../util/errors.ts';

/** A failure worth another attempt: network drop, 5xx, 429, a response that breaks the Range contract. */
export class TransientError extends Error {
  constructor(
    message: string,
    /** Milliseconds the server asked us to wait (Retry-After), when it did. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TransientError';
  }
}

/** A definitive hub answer (401/403/404/416...): retrying will not help. Keeps the HTTP status. */
export class HubError extends UserError {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message, 2);
    this.name = 'HubError';
  }
}

export interface ErrorContext {
  repo: string;
  revision?: string;
  file?: string;
  hubUrl: string;
  hasToken: boolean;
}

/** Parse Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Statuses that a retry may fix. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Turn a non-OK, non-retryable response into a one-line HubError. */
export function hubErrorFor(res: { status: number; headers: Headers }, ctx: ErrorContext, bodyMessage?: string): HubError {
  const code = res.headers.get('x-error-code') ?? undefined;
  const serverMsg = res.headers.get('x-error-message') ?? bodyMessage;
  const page = `${ctx.hubUrl}/${ctx.repo}`;
  const what = ctx.file ? `${ctx.repo}/${ctx.file}` : ctx.repo;
  const status = res.status;
  if (code === 'GatedRepo' || ((status === 401 || status === 403) && /gated|restricted/i.test(serverMsg ?? ''))) {
    return new HubError(
      ctx.hasToken
        ? `${ctx.repo} is a gated model and HF_TOKEN's account has no access yet (HTTP ${status}): accept the licence on ${page} with that account, then re-run`
        : `${ctx.repo} is a gated model (HTTP ${status}): accept the licence on ${page}, then set HF_TOKEN to an access token of that account (https://huggingface.co/settings/tokens)`,
      status,
      code,
    );
  }
  if (code === 'RepoNotFound' || (status === 404 && !ctx.file && code === undefined)) {
    return new HubError(
      `repository "${ctx.repo}" not found on ${ctx.hubUrl}${ctx.hasToken ? '' : ' (if it is private, set HF_TOKEN)'}; check hf_model_id in the config`,
      status,
      code,
    );
  }
  if (code === 'RevisionNotFound') {
    return new HubError(`revision "${ctx.revision}" not found in ${ctx.repo}; check revision in the config`, status, code);
  }
  if (code === 'EntryNotFound' || status === 404) {
    return new HubError(`${what} not found at revision ${ctx.revision ?? 'main'}`, status, code ?? 'EntryNotFound');
  }
  if (status === 401) {
    return new HubError(
      ctx.hasToken
        ? `${what}: HF_TOKEN was rejected (HTTP 401); check the token at https://huggingface.co/settings/tokens`
        : `${what}: authentication required (HTTP 401); set HF_TOKEN (and accept the licence on ${page} if the model is gated)`,
      status,
      code,
    );
  }
  if (status === 403) {
    return new HubError(
      `${what}: access denied (HTTP 403)${serverMsg ? `: ${serverMsg}` : ''}; accept the licence on ${page} and check HF_TOKEN`,
      status,
      code,
    );
  }
  return new HubError(`${what}: unexpected HTTP ${status}${serverMsg ? ` (${serverMsg})` : ''}`, status, code);
}

/** Network-level failures from fetch/undici (reset, refused, closed mid-body) are transient. */
export function isNetworkError(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return true;
  if (err instanceof TypeError && /fetch failed|terminated|network|socket/i.test(err.message)) return true;
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  return typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/.test(code);
}
