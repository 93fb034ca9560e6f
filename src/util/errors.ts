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

/** Message of any thrown value, for wrapping lower-level errors into a UserError. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
