/**
 * Hub datasets (e.g. `sentence-transformers/all-nli`, subset `triplet`, split `train`): list the dataset
 * repo's parquet files through @huggingface/hub, download the ones of the subset/split into the cache
 * (streamed to a temp file, renamed when complete; a file already there with the right size is reused),
 * and return their local paths. `hubUrl` and `fetch` are injectable so tests talk to a loopback server.
 */
import { createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { downloadFile, listFiles, type ListFileEntry } from '@huggingface/hub';
import { tempPathFor, writeJsonAtomic } from '../util/atomic.ts';
import { UserError, errorMessage } from '../util/errors.ts';

export interface HubDatasetOptions {
  repo: string;
  subset?: string;
  split?: string;
  revision?: string;
  cacheDir: string;
  /** Defaults to $HF_ENDPOINT or https://huggingface.co. */
  hubUrl?: string;
  fetch?: typeof fetch;
  accessToken?: string;
  log?: (message: string) => void;
}

/** Does a parquet path belong to `split`? Covers `sub/train-00000-of-00001.parquet` and `sub/train/0000.parquet`. */
export function isSplitFile(path: string, split: string): boolean {
  const parts = path.split('/');
  const name = parts[parts.length - 1]!;
  const dir = parts.length > 1 ? parts[parts.length - 2] : undefined;
  return dir === split || name === `${split}.parquet` || name.startsWith(`${split}-`) || name.startsWith(`${split}_`);
}

/** Choose the parquet files of one subset and split among a repo listing. */
export function selectParquetFiles(files: string[], repo: string, subset: string | undefined, split: string): string[] {
  const parquet = files.filter((f) => f.endsWith('.parquet'));
  if (parquet.length === 0) throw new UserError(`hub dataset ${repo}: no .parquet files in the repo (only parquet datasets are supported)`);
  let inSubset: string[];
  if (subset !== undefined) {
    inSubset = parquet.filter((f) => f.startsWith(`${subset}/`) || f.startsWith(`data/${subset}/`));
    if (inSubset.length === 0) {
      const subsets = [...new Set(parquet.map((f) => f.split('/')[0]).filter((s) => s && !s.endsWith('.parquet')))];
      throw new UserError(`hub dataset ${repo}: no subset "${subset}" (subsets: ${subsets.join(', ') || 'none'})`);
    }
  } else {
    inSubset = parquet;
  }
  const chosen = inSubset.filter((f) => isSplitFile(f, split)).sort();
  if (chosen.length === 0) {
    const splits = [
      ...new Set(
        inSubset.map((f) =>
          f
            .split('/')
            .pop()!
            .replace(/[-_.].*$/, ''),
        ),
      ),
    ];
    throw new UserError(`hub dataset ${repo}${subset ? ` subset "${subset}"` : ''}: no split "${split}" (files look like splits: ${splits.join(', ')})`);
  }
  if (subset === undefined) {
    const tops = new Set(chosen.map((f) => (f.includes('/') ? f.split('/')[0] : '')));
    if (tops.size > 1 && !tops.has('data')) {
      throw new UserError(`hub dataset ${repo}: several subsets (${[...tops].join(', ')}); choose one with subset = "..."`);
    }
  }
  return chosen;
}

/** Download (or reuse) the parquet files of a hub dataset split; returns local paths in a stable order. */
export async function fetchHubDatasetFiles(opts: HubDatasetOptions): Promise<string[]> {
  const split = opts.split ?? 'train';
  const revision = opts.revision ?? 'main';
  const hubUrl = opts.hubUrl ?? process.env.HF_ENDPOINT;
  const accessToken = opts.accessToken ?? process.env.HF_TOKEN;
  const common = {
    repo: { type: 'dataset' as const, name: opts.repo },
    revision,
    ...(hubUrl ? { hubUrl } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(accessToken ? { accessToken } : {}),
  };
  const root = join(opts.cacheDir, 'hub-datasets', ...opts.repo.split('/'), revision.replace(/[^\w.-]/g, '_'));
  const manifestPath = join(root, `files-${(opts.subset ?? '_').replace(/[^\w.-]/g, '_')}-${split.replace(/[^\w.-]/g, '_')}.json`);
  const entries: ListFileEntry[] = [];
  try {
    for await (const e of listFiles({ ...common, recursive: true })) if (e.type === 'file') entries.push(e);
  } catch (err) {
    // Offline re-runs: a complete earlier download of this subset/split is used as it is.
    const cached = readManifest(manifestPath);
    if (cached) {
      opts.log?.(`hub dataset ${opts.repo}: listing failed (${errorMessage(err).split('\n')[0]}); using the ${cached.length} files downloaded before`);
      return cached;
    }
    throw new UserError(`hub dataset ${opts.repo}@${revision}: cannot list files (${errorMessage(err)})`, 1);
  }
  const sizes = new Map(entries.map((e) => [e.path, e.lfs?.size ?? e.size]));
  const chosen = selectParquetFiles(
    entries.map((e) => e.path),
    opts.repo,
    opts.subset,
    split,
  );
  const out: string[] = [];
  for (const path of chosen) {
    const local = join(root, ...path.split('/'));
    const size = sizes.get(path);
    if (existsSync(local) && (size === undefined || statSync(local).size === size)) {
      out.push(local);
      continue;
    }
    opts.log?.(`downloading ${opts.repo}/${path}${size !== undefined ? ` (${(size / 1e6).toFixed(1)} MB)` : ''}`);
    let blob: Blob | null;
    try {
      blob = await downloadFile({ ...common, path, xet: false });
    } catch (err) {
      throw new UserError(`hub dataset ${opts.repo}: download of ${path} failed (${errorMessage(err)})`, 1);
    }
    if (!blob) throw new UserError(`hub dataset ${opts.repo}: ${path} listed but not found at revision ${revision}`, 1);
    await mkdir(dirname(local), { recursive: true });
    const tmp = tempPathFor(local);
    try {
      await pipeline(Readable.fromWeb(blob.stream() as unknown as WebReadableStream), createWriteStream(tmp));
      const got = statSync(tmp).size;
      if (size !== undefined && got !== size) {
        throw new UserError(`hub dataset ${opts.repo}: ${path} arrived with ${got} bytes, the listing says ${size}; retry`, 1);
      }
      await rename(tmp, local);
    } catch (err) {
      await rm(tmp, { force: true });
      if (err instanceof UserError) throw err;
      throw new UserError(`hub dataset ${opts.repo}: writing ${local} failed (${errorMessage(err)})`, 1);
    }
    out.push(local);
  }
  await writeJsonAtomic(manifestPath, { repo: opts.repo, revision, subset: opts.subset ?? null, split, files: out.map((f) => relative(root, f)) });
  return out;
}

/** Local files of an earlier complete download, when all are still there. */
function readManifest(path: string): string[] | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as { files: string[] };
    const files = m.files.map((f) => join(dirname(path), f));
    return files.length > 0 && files.every((f) => existsSync(f)) ? files : undefined;
  } catch {
    return undefined;
  }
}
