/**
 * Bring a hub model into the huggingface_hub cache and return its snapshot folder: the cache first (a ref
 * and every needed file present means no request at all), else resolve the revision to a commit, fetch
 * config.json, then only the files the load needs. Every file is checked against the hub's ETag (sha256 for
 * LFS files, git blob sha1 for the others) before it becomes a blob.
 */
import { createHash } from 'node:crypto';
import type { EnvLike, FetchLike } from '../../util/fetch-types.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { hubClientFromEnv, resolveUrl, type HubClient } from '../client.ts';
import { HubError, TransientError } from '../errors.ts';
import { hubEtag, hubGet, readBody } from '../http.ts';
import { resolveRepo } from '../repo.ts';
import { withRetries } from '../retry.ts';
import { MODEL_CONFIG_FILE } from '../../layout/file-names.ts';
import { cachedCommit, hubCacheRoot, repoCacheFolder, snapshotDir, snapshotFiles, storeInSnapshot, writeRef } from './layout.ts';
import { neededFiles } from './needed-files.ts';

export interface HubLoadOptions {
  /** Branch, tag or commit (default: the id's `@rev`, else main). */
  revision?: string;
  /** Width wanted: picks the weights file of that dim when the repo has one per width. */
  dim?: number;
  /** Use the cache only (also HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** Cache root (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Access token for private and gated repos (default HF_TOKEN). */
  token?: string;
  env?: EnvLike;
  fetch?: FetchLike;
  /** One line per file downloaded (the CLI prints them on stderr). */
  onFile?: (file: string, bytes: number) => void;
}

/** Static models are read whole by the loader, which cannot take 2 GiB or more. */
const MAX_FILE_BYTES = 2 * 1024 ** 3 - 1;

/** huggingface_hub's reading of boolean environment variables (constants.py `_is_true`). */
function envTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** The snapshot folder of `repo` at `revision` holding everything a load at `dim` needs. */
export async function cachedModelDir(repo: string, opts: HubLoadOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const revision = opts.revision ?? 'main';
  const folder = repoCacheFolder(opts.cacheDir ?? hubCacheRoot(env), repo);
  const offline = opts.offline ?? envTrue(env.HF_HUB_OFFLINE);

  const known = cachedCommit(folder, revision);
  if (known) {
    const snap = snapshotDir(folder, known);
    const cfgPath = join(snap, MODEL_CONFIG_FILE);
    const need = neededFiles(snapshotFiles(snap), existsSync(cfgPath) ? readJsonFile(cfgPath) : undefined, opts.dim, cfgPath);
    if (!need.missing && (offline || !need.preferred || need.preferred === need.weights)) return snap;
    if (offline) {
      throw new UserError(
        `offline (HF_HUB_OFFLINE): ${repo}@${revision}: ${need.missing ?? need.preferred} is not in the cache folder ${snap}; run once online to download it`,
      );
    }
  } else if (offline) {
    const what = /^[0-9a-f]{40}$/.test(revision) ? `snapshots/${revision}` : `refs/${revision}`;
    throw new UserError(`offline (HF_HUB_OFFLINE): ${repo}@${revision} is not in the cache (no ${what} in ${folder}); run once online to download it`);
  }

  const client = hubClientFromEnv(env, {
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.fetch ? { fetch: opts.fetch as unknown as typeof fetch } : {}),
  });
  const resolved = await resolveRepo(client, repo, revision);
  const snap = snapshotDir(folder, resolved.commit);
  const have = new Set(snapshotFiles(snap));
  const fetchInto = async (file: string) => {
    if (have.has(file)) return;
    const { etag, bytes } = await downloadVerified(client, repo, resolved.commit, file);
    await storeInSnapshot(folder, resolved.commit, file, etag, bytes);
    have.add(file);
    opts.onFile?.(file, bytes.byteLength);
  };
  let config: unknown;
  if (resolved.files.includes(MODEL_CONFIG_FILE)) {
    await fetchInto(MODEL_CONFIG_FILE);
    config = readJsonFile(join(snap, MODEL_CONFIG_FILE));
  }
  const need = neededFiles(resolved.files, config, opts.dim, `${repo}/${MODEL_CONFIG_FILE}`);
  if (need.missing) {
    throw new UserError(
      `${repo}@${revision}: ${need.missing} is not in the repo (files: ${resolved.files.join(', ') || 'none'}); is it a static embedding model?`,
    );
  }
  for (const file of need.files) await fetchInto(file);
  await writeRef(folder, revision, resolved.commit);
  return snap;
}

/** The content identity an ETag promises: sha256 (64 hex, LFS) or git's blob sha1 (40 hex). */
function contentMatches(etag: string, bytes: Uint8Array): boolean {
  if (/^[0-9a-f]{64}$/.test(etag)) return createHash('sha256').update(bytes).digest('hex') === etag;
  if (/^[0-9a-f]{40}$/.test(etag)) {
    return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex') === etag;
  }
  return true; // a mirror's opaque ETag promises nothing we can check; the length check still holds
}

async function downloadVerified(client: HubClient, repo: string, commit: string, file: string): Promise<{ etag: string; bytes: Uint8Array }> {
  const ctx = { repo, revision: commit, file, hubUrl: client.hubUrl, hasToken: Boolean(client.token) };
  return withRetries(
    client.retry,
    `${repo}/${file}`,
    async () => {
      const abort = new AbortController();
      const { res, hubHeaders } = await hubGet(client, resolveUrl(client, repo, commit, file), {}, ctx, abort.signal);
      const cl = res.headers.get('content-length');
      const expected = cl === null ? undefined : Number(cl);
      if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) {
        await res.body?.cancel().catch(() => {});
        throw new TransientError(`${repo}/${file}: bad Content-Length "${cl}"`);
      }
      if (expected !== undefined && expected > MAX_FILE_BYTES) {
        await res.body?.cancel().catch(() => {});
        throw new HubError(
          `${repo}/${file} is ${expected} bytes, too large for a static embedding model loaded whole (at most ${MAX_FILE_BYTES}); use a narrower width or a smaller dtype of it (pipeline export --dim D --dtype f16 writes one)`,
          413,
        );
      }
      const bytes = await readBody(res, expected, client.idleTimeoutMs, abort, `${repo}/${file}`);
      const etag = hubEtag(hubHeaders) ?? createHash('sha256').update(bytes).digest('hex');
      if (!/^[\w.-]+$/.test(etag)) throw new HubError(`${repo}/${file}: the hub sent ETag "${etag}", not usable as a cache blob name`, 502);
      if (!contentMatches(etag, bytes)) throw new TransientError(`${repo}/${file}: downloaded bytes do not match the hub's ETag ${etag}`);
      return { etag, bytes };
    },
    client.onRetry,
  );
}
