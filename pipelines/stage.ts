/**
 * What every stage module exports, and the shared option parsing. A stage declares each flag once in a table
 * (`defineFlags`): its parser (`parseFlags`) and its `--help` lines (`flagLines`) both come from that table. It then
 * calls the library, reports progress on stderr, writes outputs atomically and returns an exit code.
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
function parseStageArgs<O extends Options>(stage: string, argv: string[], options: O, allowPositionals = false) {
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

/**
 * One stage flag, declared once: the parser's option and its `--help` line come from this. A flag with a `value`
 * placeholder takes a string (`--dim D`); one without is a switch.
 */
export interface FlagSpec {
  /** Placeholder shown after the flag in help (`PATH`, `N`, `f16|f32`); absent for a switch. */
  value?: string;
  /** The flag may be repeated; its values arrive as an array. */
  multiple?: boolean;
  /** Help text; a line break continues the text under the help column. */
  help: string;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** What parsing a table gives: strings for valued flags (arrays when repeatable), booleans for switches. */
export type FlagValues<F extends FlagTable> = {
  [K in keyof F]?: F[K] extends { value: string } ? (F[K] extends { multiple: true } ? string[] : string) : boolean;
};

/** Declare a flag table with its literal types kept, so parsed values are typed per flag. */
export function defineFlags<const F extends FlagTable>(flags: F): F {
  return flags;
}

/**
 * The `--help` lines of a flag table: `  --name VALUE   help`. The help column is one gap past the longest flag, or past
 * `width` when given (so several tables of one stage line up); a longer flag pushes only its own first line right.
 */
export function flagLines(flags: FlagTable, width?: number): string {
  const heads = Object.entries(flags).map(([name, f]) => `--${name}${f.value ? ` ${f.value}` : ''}`);
  const column = (width ?? Math.max(...heads.map((h) => h.length))) + 2;
  return Object.values(flags)
    .map((f, i) => `  ${heads[i]!.padEnd(column - 2)}  ${f.help.split('\n').join(`\n  ${' '.repeat(column)}`)}`)
    .join('\n');
}

/** Parse `argv` against flag tables (merged; a later table may not redefine an earlier flag). */
export function parseFlags<F extends FlagTable>(stage: string, argv: string[], flags: F, allowPositionals = false) {
  const options: Options = {};
  for (const [name, f] of Object.entries(flags)) {
    options[name] = f.value ? { type: 'string', multiple: f.multiple ?? false } : { type: 'boolean' };
  }
  const { values, positionals } = parseStageArgs(stage, argv, options, allowPositionals);
  return { values: values as FlagValues<F>, positionals };
}

/** A table's flags as one comma-separated list (`--steps N, --lr X`), wrapped at 80 characters. */
export function flagList(flags: FlagTable, indent = 2): string {
  const items = Object.entries(flags).map(([name, f]) => `--${name}${f.value ? ` ${f.value}` : ''}`);
  const lines: string[] = [];
  let line = '';
  for (const [i, item] of items.entries()) {
    const piece = item + (i < items.length - 1 ? ',' : '');
    if (line && line.length + 1 + piece.length > 80) {
      lines.push(line);
      line = ' '.repeat(indent) + piece;
    } else line = line ? `${line} ${piece}` : piece;
  }
  return [...lines, line].join('\n');
}
