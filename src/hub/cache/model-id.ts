/**
 * What `--model` / `load()` accept besides a path: a hub id `org/name`, `org/name@revision` or `hf:org/name`
 * (the `hf:` prefix forces the hub reading even when a folder of that name exists).
 */
export interface HubModelId {
  repo: string;
  /** Branch, tag or commit; `main` when none is given. */
  revision: string;
}

const REPO_PART = /^[A-Za-z0-9][\w.-]*$/;

/** The hub id in `arg`, or undefined when it does not have that shape (then it is only a path). */
export function parseHubModelId(arg: string): HubModelId | undefined {
  const text = arg.startsWith('hf:') ? arg.slice(3) : arg;
  const at = text.indexOf('@');
  const repo = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? 'main' : text.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => REPO_PART.test(p) && !p.endsWith('.git') && !p.includes('..'))) return undefined;
  if (revision === '' || /\s/.test(revision)) return undefined;
  return { repo, revision };
}

/** True when `arg` names the hub explicitly (`hf:`), so a same-named local folder must not win. */
export function isExplicitHubId(arg: string): boolean {
  return arg.startsWith('hf:');
}
