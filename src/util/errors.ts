/**
 * Errors a user can fix. The CLI prints `error: <message>` on one line and exits with `exitCode`
 * (2 for bad input, 1 for failures outside the user's control); anything else is a bug and gets a stack.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** True for errors that should be shown as one line rather than a stack trace. */
export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/**
 * Filesystem refusals the user fixes by choosing another path or fixing the one given: a read-only or foreign-owned
 * folder, a regular file where a folder must be, a full disk. They reach the CLI as Node's errno errors from wherever
 * a stage first touched the path (mkdir, open, rename...), so they are recognised here, once, by code.
 */
const FS_REFUSALS: Record<string, { why: string; fix: string }> = {
  EACCES: { why: 'permission denied', fix: "choose a folder you can write (--out-dir) or fix the folder's permissions" },
  EPERM: { why: 'operation not permitted', fix: "choose a folder you can write (--out-dir) or fix the folder's permissions" },
  EROFS: { why: 'the file system is read-only', fix: 'choose a folder on a writable file system (--out-dir)' },
  ENOTDIR: { why: 'a part of the path is a file, not a folder', fix: 'choose another path (--out-dir) or move that file away' },
  EEXIST: { why: 'a file is in the way where a folder is needed', fix: 'choose another path (--out-dir) or move that file away' },
  EISDIR: { why: 'it is a folder where a file is needed', fix: 'choose another path or move that folder away' },
  ENOSPC: { why: 'no space left on the device', fix: 'free some space or choose another --out-dir' },
  EDQUOT: { why: 'disk quota exceeded', fix: 'free some space or choose another --out-dir' },
};

const FS_ACTIONS: Record<string, string> = { mkdir: 'create folder', open: 'open', rename: 'rename', link: 'create', unlink: 'remove', write: 'write' };

/** A UserError naming the path and the fix for a filesystem refusal (see FS_REFUSALS); undefined for anything else. */
export function filesystemUserError(err: unknown): UserError | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException & { dest?: string };
  const refusal = e.code !== undefined ? FS_REFUSALS[e.code] : undefined;
  if (!refusal || e.path === undefined) return undefined;
  const action = FS_ACTIONS[e.syscall ?? ''] ?? e.syscall ?? 'use';
  const target = e.dest !== undefined ? `${e.path} → ${e.dest}` : e.path;
  return new UserError(`cannot ${action} ${target}: ${refusal.why} (${e.code}); ${refusal.fix}`);
}

/** Message of any thrown value, for wrapping lower-level errors into a UserError. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
