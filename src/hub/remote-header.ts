/**
 * Read a remote safetensors header with two exact Range requests (8-byte length, then the JSON), so a
 * 5 GB shard costs a few kB to inspect. The size from Content-Range lets the header parser check that
 * the tensors tile the file exactly.
 */
import { parseHeader, readHeaderLength, type SafetensorsHeader } from '../safetensors/header.ts';
import type { HubClient } from './client.ts';
import { resolveUrl } from './client.ts';
import { fetchRange, type RedirectCache } from './range.ts';
import { withRetries } from './retry.ts';

export interface RemoteHeader {
  header: SafetensorsHeader;
  fileSize: number;
  etag?: string;
  url: string;
  /** Bytes transferred for the header (8 + JSON). */
  bytes: number;
  /** Where the hub redirected the header requests: the tensor's chunks can start there directly. */
  redirect: RedirectCache;
}

export async function readRemoteHeader(client: HubClient, repo: string, commit: string, file: string): Promise<RemoteHeader> {
  const ctx = { repo, revision: commit, file, hubUrl: client.hubUrl, hasToken: Boolean(client.token) };
  const url = resolveUrl(client, repo, commit, file);
  const source = `${repo}/${file}`;
  const redirect: RedirectCache = {};
  const first = await withRetries(client.retry, `${source} header`, () => fetchRange(client, url, 0, 8, ctx, { redirectCache: redirect }), client.onRetry);
  const n = readHeaderLength(first.bytes, source, first.total);
  const json = await withRetries(
    client.retry,
    `${source} header`,
    () => fetchRange(client, url, 8, n, ctx, { expectTotal: first.total, expectEtag: first.etag, redirectCache: redirect }),
    client.onRetry,
  );
  return { header: parseHeader(json.bytes, source, first.total), fileSize: first.total, etag: first.etag, url, bytes: 8 + n, redirect };
}
