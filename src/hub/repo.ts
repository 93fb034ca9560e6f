/**
 * Resolve a repo + revision to an immutable commit and its file list, through `@huggingface/hub`'s
 * `modelInfo` (GET api/models/{repo}/revision/{rev}) with our hub URL, token and fetch. Downloads then use
 * `resolve/<commit>/...`, so a branch that moves mid-download cannot mix two versions of a file.
 */
import { HubApiError, modelInfo } from '@huggingface/hub';
import type { HubClient } from './client.ts';
import { HubError, TransientError, hubErrorFor, isRetryableStatus } from './errors.ts';
import { withRetries } from './retry.ts';

export interface ResolvedRepo {
  repo: string;
  revision: string;
  commit: string;
  files: string[];
  gated: false | 'auto' | 'manual';
  /** The licence id the repo's card states (`cardData.license`, else a `license:<id>` tag), when it states one. */
  license?: string;
}

/**
 * The licence of a model from its info: the card's YAML `license` (what huggingface_hub reads as
 * `ModelInfo.card_data.license`), else the `license:<id>` tag the hub derives from it.
 */
export function licenseOf(cardData: unknown, tags: unknown): string | undefined {
  const card = (cardData as { license?: unknown } | undefined)?.license;
  if (typeof card === 'string' && card !== '') return card;
  if (Array.isArray(card) && typeof card[0] === 'string') return card[0];
  const tag = Array.isArray(tags) ? tags.find((t): t is string => typeof t === 'string' && t.startsWith('license:')) : undefined;
  return tag ? tag.slice('license:'.length) : undefined;
}

export async function resolveRepo(client: HubClient, repo: string, revision: string): Promise<ResolvedRepo> {
  const ctx = { repo, revision, hubUrl: client.hubUrl, hasToken: Boolean(client.token) };
  return withRetries(
    client.retry,
    `${repo}@${revision}`,
    async () => {
      // Keep the last raw response: HubApiError drops the X-Error-Code header that says *why* (RepoNotFound...).
      let last: Response | undefined;
      const recording: typeof fetch = async (input, init) => {
        last = await client.fetch(input, init);
        return last;
      };
      try {
        const info = await modelInfo({
          name: repo,
          revision,
          hubUrl: client.hubUrl,
          accessToken: client.token,
          fetch: recording,
          additionalFields: ['sha', 'filePaths', 'cardData', 'tags'],
        });
        if (typeof info.sha !== 'string' || !/^[0-9a-f]{40}$/.test(info.sha)) {
          throw new HubError(`${client.hubUrl}: api/models/${repo}/revision/${revision} did not return a commit sha`, 502);
        }
        const license = licenseOf(info.cardData, info.tags);
        return { repo, revision, commit: info.sha, files: info.filePaths ?? [], gated: info.gated ?? false, ...(license ? { license } : {}) };
      } catch (err) {
        if (err instanceof HubApiError) {
          if (isRetryableStatus(err.statusCode)) {
            throw new TransientError(`${repo}: HTTP ${err.statusCode} from the hub API`, undefined);
          }
          const headers = last?.headers ?? new Headers();
          const bodyMsg = typeof err.data?.error === 'string' ? err.data.error : undefined;
          let code = headers.get('x-error-code');
          if (!code && bodyMsg) {
            if (/not found/i.test(bodyMsg) && !/rev/i.test(bodyMsg)) code = 'RepoNotFound';
            else if (/rev/i.test(bodyMsg)) code = 'RevisionNotFound';
          }
          const h = new Headers(headers);
          if (code) h.set('x-error-code', code);
          throw hubErrorFor({ status: err.statusCode, headers: h }, ctx, bodyMsg);
        }
        throw err;
      }
    },
    client.onRetry,
  );
}

/**
 * What to throw for `err`, met while downloading from `resolved.commit`: when the hub no longer knows that commit
 * because the branch it was resolved from moved (a force-push, a squashed history), say so with both commits and how
 * to pin one, instead of blaming the config's `revision`; any other error is returned unchanged.
 */
export async function movedRevisionError(client: HubClient, resolved: ResolvedRepo, err: unknown): Promise<unknown> {
  if (!(err instanceof HubError) || err.code !== 'RevisionNotFound' || resolved.revision === resolved.commit) return err;
  let now: ResolvedRepo;
  try {
    now = await resolveRepo(client, resolved.repo, resolved.revision);
  } catch {
    return err;
  }
  if (now.commit === resolved.commit) return err;
  return new HubError(
    `${resolved.repo}: "${resolved.revision}" moved from commit ${resolved.commit} to ${now.commit} during the download; run extract again to take ${now.commit.slice(0, 12)}, or set revision = "${now.commit}" in the config to pin one commit`,
    409,
    'RevisionMoved',
  );
}
