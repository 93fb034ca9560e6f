/**
 * Retry transient failures with exponential backoff and jitter, honouring Retry-After. Definitive answers
 * (HubError: 401/403/404...) and bugs are rethrown at once; exhausting the attempts is a one-line UserError.
 */
import { UserError, errorMessage } from '../util/errors.ts';
import type { RetryPolicy } from './client.ts';
import { TransientError, isNetworkError } from './errors.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Delay before attempt `attempt` (1-based retry count): Retry-After when given, else base·2^(n-1) ± 25%. */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(raw * (0.75 + Math.random() * 0.5));
}

export async function withRetries<T>(policy: RetryPolicy, what: string, fn: (attempt: number) => Promise<T>, onRetry?: (message: string) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isNetworkError(err)) throw err;
      if (attempt >= policy.retries) {
        throw new UserError(`${what}: failed after ${attempt + 1} attempts: ${errorMessage(err)}`, 1);
      }
      const wait = backoffDelay(policy, attempt + 1, err instanceof TransientError ? err.retryAfterMs : undefined);
      onRetry?.(`${what}: ${errorMessage(err)}; retry ${attempt + 1}/${policy.retries} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait);
    }
  }
}
