/**
 * What every stage module exports, and the shared option parsing. A stage parses its own flags, calls the
 * library, reports progress on stderr, writes outputs atomically and returns an exit code.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../src/util/errors.ts';

/** A stage's name and one-line summary live in cli.ts's table, which lists stages without loading them. */
export interface Stage {
  /** Full `pipeline <stage> --help` text. */
  help: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parse flags with node:util parseArgs; unknown flags and missing values become one-line UserErrors that point
 * at `--help`. `--help` itself is handled by the CLI before a stage runs.
 */
export function parseStageArgs<O extends Options>(stage: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    throw new UserError(`${stage}: ${msg} (see: pipeline ${stage} --help)`);
  }
}

/** Parse an integer flag value with a precise message. */
export function intFlag(stage: string, flag: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${stage}: --${flag} expects an integer ≥ ${min}, got "${value}"`);
  return n;
}

/** Parse a float flag value with a precise message. */
export function numberFlag(stage: string, flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UserError(`${stage}: --${flag} expects a number, got "${value}"`);
  return n;
}
