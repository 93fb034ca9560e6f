/**
 * Whole-file download of the small files beside the weights (tokenizer.json, config.json, the shard index),
 * with retries and a length check. A file the repo does not have is `undefined`, not an error: older repos
 * ship tokenizer.model only, many have no tokenizer_config.json.
 */
import type { HubClient } from './client.ts';
import { resolveUrl } from './client.ts';
import { HubError, TransientError } from './errors.ts';
import { hubGet, readBody } from './http.ts';
import { withRetries } from './retry.ts';

/** Refuse to buffer something that is clearly not a small metadata file (Gemma's tokenizer.json is 34 MB). */
const SMALL_FILE_LIMIT = 256 * 1024 * 1024;

export async function fetchSmallFile(
  client: HubClient,
  repo: string,
  commit: string,
  file: string,
  onBytes?: (n: number) => void,
): Promise<Uint8Array | undefined> {
  const ctx = { repo, revision: commit, file, hubUrl: client.hubUrl, hasToken: Boolean(client.token) };
  const url = resolveUrl(client, repo, commit, file);
  try {
    return await withRetries(
      client.retry,
      `${repo}/${file}`,
      async () => {
        const abort = new AbortController();
        const { res } = await hubGet(client, url, {}, ctx, abort.signal);
        const cl = res.headers.get('content-length');
        const expected = cl === null ? undefined : Number(cl);
        if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) {
          await res.body?.cancel().catch(() => {});
          throw new TransientError(`${repo}/${file}: bad Content-Length "${cl}"`);
        }
        if (expected !== undefined && expected > SMALL_FILE_LIMIT) {
          await res.body?.cancel().catch(() => {});
          throw new HubError(`${repo}/${file} is ${expected} bytes, larger than expected for a metadata file`, 413);
        }
        return readBody(res, expected, client.idleTimeoutMs, abort, `${repo}/${file}`, onBytes);
      },
      client.onRetry,
    );
  } catch (err) {
    if (err instanceof HubError && err.code === 'EntryNotFound') return undefined;
    throw err;
  }
}
