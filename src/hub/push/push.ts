/**
 * Publish a saved model's release files to a hub repo with @huggingface/hub: create the repo when it does not
 * exist, create the branch when it is not main, then one commit with every file (large ones through LFS, which
 * the library negotiates). Files are passed as file: URLs, so the library streams them instead of us reading
 * multi-GB weights into memory.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createBranch, createRepo, uploadFiles } from '@huggingface/hub';
import type { HubClient } from '../client.ts';
import { UserError } from '../../util/errors.ts';
import { releaseFiles } from './release-files.ts';

export interface PushParams {
  dir: string;
  /** `user/name` or `org/name`. */
  repo: string;
  client: HubClient;
  private?: boolean;
  revision?: string;
  message?: string;
  log?: (message: string) => void;
}

export interface PushResult {
  repo: string;
  revision: string;
  commit: string;
  created: boolean;
  files: string[];
}

const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

/** HTTP status of an error thrown by @huggingface/hub (its HubApiError keeps it). */
const statusOf = (err: unknown): number | undefined => (err as { statusCode?: unknown }).statusCode as number | undefined;

export async function pushModel(p: PushParams): Promise<PushResult> {
  if (!REPO_ID.test(p.repo)) throw new UserError(`push: --repo "${p.repo}" is not a repo id (expected user/name)`);
  const accessToken = p.client.token;
  if (!accessToken)
    throw new UserError('push: HF_TOKEN is not set; create a token with write access at https://huggingface.co/settings/tokens and export HF_TOKEN=hf_...');
  const { files } = releaseFiles(p.dir);
  const revision = p.revision ?? 'main';
  const base = { repo: p.repo, accessToken, hubUrl: p.client.hubUrl, fetch: p.client.fetch };
  const fail = (what: string, err: unknown): never => {
    throw new UserError(
      `push: ${what} ${p.repo} on ${p.client.hubUrl} failed: ${(err as Error).message.replace(/\.+$/, '')} (check HF_TOKEN has write access)`,
    );
  };
  let created = true;
  try {
    await createRepo({ ...base, private: p.private ?? false });
  } catch (err) {
    // 409: the repo exists already, which is fine (we add a commit to it).
    if (statusOf(err) !== 409) fail('creating', err);
    created = false;
  }
  if (revision !== 'main') {
    try {
      await createBranch({ ...base, branch: revision });
    } catch (err) {
      if (statusOf(err) !== 409) fail(`creating branch ${revision} of`, err);
    }
  }
  p.log?.(`uploading ${files.length} files to ${p.repo}@${revision}`);
  let res: Awaited<ReturnType<typeof uploadFiles>>;
  try {
    res = await uploadFiles({
      ...base,
      branch: revision,
      commitTitle: p.message ?? `Upload ${files.length} files with wordllama-ts`,
      files: files.map((f) => ({ path: f, content: pathToFileURL(join(p.dir, f)) })),
    });
  } catch (err) {
    return fail('uploading to', err);
  }
  if (!res) return fail('uploading to', new Error('the hub answered no commit'));
  return { repo: p.repo, revision, commit: res.commit.oid, created, files };
}
