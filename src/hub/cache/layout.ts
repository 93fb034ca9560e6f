/**
 * The huggingface_hub cache layout, as Python's huggingface_hub writes it (file_download.py,
 * `hf_hub_download`): `<cache>/models--<org>--<name>/` holding `blobs/<etag>` (the bytes, named by the hub's
 * ETag: sha256 for LFS files, git blob sha1 for the rest), `snapshots/<commit>/<path>` (a relative symlink to
 * the blob) and `refs/<revision>` (a text file holding the commit the branch or tag pointed at).
 * Sharing this layout means a model Python already downloaded is used offline, and what we download is found
 * by huggingface_hub, model2vec and sentence-transformers.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import type { EnvLike } from '../../util/fetch-types.ts';
import { mkdir, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { homedir } from 'node:os';
import { tempPathFor, writeFileAtomic } from '../../util/atomic.ts';

/**
 * $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub: the
 * rule of Python's huggingface_hub (constants.py) and of @huggingface/hub's getHFHubCachePath, which reads
 * only process.env; taking `env` lets a caller (and the tests) point at another cache.
 */
export function hubCacheRoot(env: EnvLike = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  return join(env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface'), 'hub');
}

/** `models--org--name` inside the cache root. */
export function repoCacheFolder(root: string, repo: string): string {
  return join(root, `models--${repo.split('/').join('--')}`);
}

const COMMIT = /^[0-9a-f]{40}$/;

/** The commit `revision` points at in the cache (a commit itself, or refs/<revision>), if known. */
export function cachedCommit(folder: string, revision: string): string | undefined {
  if (COMMIT.test(revision)) return existsSync(join(folder, 'snapshots', revision)) ? revision : undefined;
  const ref = join(folder, 'refs', revision);
  if (!existsSync(ref)) return undefined;
  const commit = readFileSync(ref, 'utf8').trim();
  return COMMIT.test(commit) ? commit : undefined;
}

export function snapshotDir(folder: string, commit: string): string {
  return join(folder, 'snapshots', commit);
}

/** Repo-relative paths of every file in a snapshot (symlinks whose blob exists, or plain files). */
export function snapshotFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const abs = join(dir, rel);
      if (lstatSync(abs).isDirectory()) walk(rel);
      else if (existsSync(abs)) out.push(rel); // existsSync follows the link: a dangling one is not a file
    }
  };
  walk('');
  return out.sort();
}

/** Store `bytes` as blobs/<etag> and link snapshots/<commit>/<file> to it, each step atomic. */
export async function storeInSnapshot(folder: string, commit: string, file: string, etag: string, bytes: Uint8Array): Promise<string> {
  const blob = join(folder, 'blobs', etag);
  if (!existsSync(blob)) await writeFileAtomic(blob, bytes);
  const link = join(snapshotDir(folder, commit), ...file.split('/'));
  await mkdir(dirname(link), { recursive: true });
  const tmp = tempPathFor(link);
  await symlink(relative(dirname(link), blob), tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return link;
}

/** Record that `revision` (a branch or tag) points at `commit`. */
export async function writeRef(folder: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  await writeFileAtomic(join(folder, 'refs', ...revision.split('/')), commit);
}
