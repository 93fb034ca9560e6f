/**
 * A tiny declarative schema for TOML tables. Each key is declared once with its kind, default, check and
 * doc line; the TypeScript type of the validated table is inferred from that declaration (`TableOf`), so a
 * table's type and its defaults cannot drift apart. Errors name the file, the table and the key, and say
 * what was expected: `config/x.toml: [model] dim: expected a positive integer, got "2304"`. Unknown keys are
 * errors too (they are usually typos).
 */
import { UserError } from '../util/errors.ts';
import { resolveConfigRelativePath } from './paths.ts';

export type FieldKind = 'string' | 'int' | 'number' | 'bool' | 'string[]' | 'int[]' | 'number[]' | 'table' | 'table[]';

/** Where a value sits: the config file and the table/key as written in TOML (`[training] lr`). */
export interface Place {
  file: string;
  where: string;
}

export interface FieldSpec {
  kind: FieldKind;
  required?: boolean;
  /** Used when the key is absent (not checked: it is the declaration's own value). */
  default?: unknown;
  /** Extra check on the typed value; returns an error text (after "expected") or undefined. */
  check?: (value: never) => string | undefined;
  /** Turns the checked value into what the program uses (resolve a path, check a table's contradictions). */
  refine?: (value: never, at: Place) => unknown;
  /** One line shown in `missing` errors and in the rendered key list. */
  doc?: string;
  /** A string field's allowed values (listed in the rendered key list). */
  choices?: readonly string[];
  /** The schema of a `table` / `table[]` field's entries. */
  table?: TableSpec;
  /** How a sub-table is named in messages (`[training.teacher]`, `[[training.datasets]]`); default `<table> <key>`. */
  header?: string;
  /** This key is another name of `aliasOf` (WordLlama's names): its value lands there; setting both is an error. */
  aliasOf?: string;
  /** Accepted and type-checked so foreign configs load, but left out of the result. */
  ignored?: boolean;
}

/**
 * A field whose validated value has type `T`. `P` says whether the key is always in the result ('always':
 * it has a default or is required), may be absent ('maybe'), or never is ('dropped': aliases, ignored keys).
 * The two phantom members exist only for type inference.
 */
export interface Field<T, P extends Presence> extends FieldSpec {
  readonly __value?: T;
  readonly __presence?: P;
}
type Presence = 'always' | 'maybe' | 'dropped';

export type TableSpec = Record<string, FieldSpec>;

type ValueOf<F> = F extends Field<infer T, Presence> ? T : unknown;
type KeysWith<S, P extends Presence> = { [K in keyof S]: S[K] extends Field<unknown, infer Q> ? ([Q] extends [P] ? K : never) : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The validated value of a table declared by `S`. */
export type TableOf<S extends TableSpec> = Simplify<
  { -readonly [K in KeysWith<S, 'always'>]: ValueOf<S[K]> } & { -readonly [K in KeysWith<S, 'maybe'>]?: ValueOf<S[K]> }
>;

interface Options<T> {
  doc?: string;
  check?: (value: T) => string | undefined;
}

/** Builders of one kind: with a default or `required` the key is always present, else it may be absent. */
interface Builder<T> {
  (options: Options<T> & { default: T }): Field<T, 'always'>;
  (options: Options<T> & { required: true }): Field<T, 'always'>;
  (options?: Options<T>): Field<T, 'maybe'>;
}
const builder = <T>(kind: FieldKind): Builder<T> => ((options: Options<T> = {}) => ({ kind, ...options })) as Builder<T>;

export const str = builder<string>('string');
export const int = builder<number>('int');
export const num = builder<number>('number');
export const bool = builder<boolean>('bool');
export const ints = builder<number[]>('int[]');
export const nums = builder<number[]>('number[]');

/** A string from a fixed set; its type is the union of the choices. */
export function choice<const C extends readonly string[]>(choices: C, options: { doc?: string; default: C[number] }): Field<C[number], 'always'>;
export function choice<const C extends readonly string[]>(choices: C, options?: { doc?: string }): Field<C[number], 'maybe'>;
export function choice(choices: readonly string[], options: { doc?: string; default?: string } = {}): FieldSpec {
  return { kind: 'string', check: oneOf(...choices), choices, ...options };
}

/** A path written in the config, resolved against the config's folder (or node_modules for `npm:`). */
export function path(options: { doc?: string } = {}): Field<string, 'maybe'> {
  return { kind: 'string', refine: (value: string, at: Place) => resolveConfigRelativePath(value, at.file), ...options };
}

interface TableOptions<S extends TableSpec, R> {
  doc?: string;
  header?: string;
  /** Checks across keys, or a different shape for the program (gets the validated table). */
  refine?: (value: TableOf<S>, at: Place) => R;
}

/** A sub-table that may be absent (`undefined` then). */
export function table<S extends TableSpec, R = TableOf<S>>(spec: S, options: TableOptions<S, R> = {}): Field<R, 'maybe'> {
  return { kind: 'table', table: spec, ...options };
}

/** An array of tables (`[[...]]`), each validated by `spec`; may be absent. */
export function tables<S extends TableSpec, R = TableOf<S>>(spec: S, options: TableOptions<S, R> = {}): Field<R[], 'maybe'> {
  return { kind: 'table[]', table: spec, ...options };
}

/** A table whose keys are not ours to check (a foreign tool's options we accept and drop). */
export const anyTable = (options: { doc?: string } = {}): Field<Record<string, unknown>, 'dropped'> => ({ kind: 'table', ignored: true, ...options });

/** Another name of `target` in the same table: its value lands on `target`. */
export function alias<T>(target: string, field: Field<T, Presence>): Field<T, 'dropped'> {
  const spec: FieldSpec = field;
  return { ...spec, aliasOf: target, doc: `alias of ${target}` };
}

/** A key of another tool accepted (and type-checked) so its configs load, then dropped. */
export function ignored<T>(field: Field<T, Presence>): Field<T, 'dropped'> {
  const spec: FieldSpec = field;
  return { ...spec, ignored: true };
}

export class ConfigError extends UserError {
  constructor(file: string, where: string, message: string) {
    super(`${file}: ${where}${where ? ': ' : ''}${message}`, 2);
    this.name = 'ConfigError';
  }
}

const describe = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Date) return 'a date';
  if (Array.isArray(v)) return `an array (${JSON.stringify(v).slice(0, 60)})`;
  if (v !== null && typeof v === 'object') return 'a table';
  return String(v);
};

const isTable = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Date);

function typeError(kind: FieldKind, value: unknown): string | undefined {
  const isInt = (x: unknown) => (typeof x === 'number' || typeof x === 'bigint') && Number.isInteger(Number(x));
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? undefined : 'a string';
    case 'int':
      return isInt(value) ? undefined : 'an integer';
    case 'number':
      return typeof value === 'number' || typeof value === 'bigint' ? undefined : 'a number';
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'true or false';
    case 'string[]':
      return Array.isArray(value) && value.every((x) => typeof x === 'string') ? undefined : 'an array of strings';
    case 'int[]':
      return Array.isArray(value) && value.every(isInt) ? undefined : 'an array of integers';
    case 'number[]':
      return Array.isArray(value) && value.every((x) => typeof x === 'number' || typeof x === 'bigint') ? undefined : 'an array of numbers';
    case 'table':
      return isTable(value) ? undefined : 'a table';
    case 'table[]':
      return Array.isArray(value) && value.every(isTable) ? undefined : 'an array of tables ([[...]])';
  }
}

/** smol-toml returns bigint for integers beyond 2^53 only; normalise to number everywhere else. */
function normalise(kind: FieldKind, value: unknown): unknown {
  if (kind === 'int' || kind === 'number') return Number(value);
  if (kind === 'int[]' || kind === 'number[]') return (value as unknown[]).map(Number);
  return value;
}

/** Validate a sub-table field's value (one table or each of an array of tables). */
function validateSubTables(file: string, where: string, key: string, field: FieldSpec, value: unknown): unknown {
  const spec = field.table;
  if (!spec) return value;
  if (field.kind === 'table[]') {
    const items = value as unknown[];
    const header = field.header ?? `${where} ${key}`;
    if (items.length === 0) throw new ConfigError(file, header, `expected one or more ${header} tables`);
    return items.map((item, i) => finish(field, validateTable(file, `${header} #${i + 1}`, item, spec), { file, where: `${header} #${i + 1}` }));
  }
  const header = field.header ?? `${where} ${key}`;
  return finish(field, validateTable(file, header, value, spec), { file, where: header });
}

const finish = (field: FieldSpec, value: unknown, at: Place): unknown => (field.refine ? field.refine(value as never, at) : value);

/**
 * Validate one table against its spec. `where` is the table's name as written in TOML (`[model]`,
 * `[[sources]] #2`). Returns only the declared keys (aliases folded into their targets, ignored keys left
 * out), with defaults filled in: the value `TableOf<spec>` describes.
 */
export function validateTable<S extends TableSpec>(file: string, where: string, table: unknown, spec: S): TableOf<S> {
  if (!isTable(table)) throw new ConfigError(file, where, `expected a table, got ${describe(table)}`);
  for (const key of Object.keys(table)) {
    if (!Object.prototype.hasOwnProperty.call(spec, key)) {
      const known = Object.keys(spec).join(', ');
      throw new ConfigError(file, `${where} ${key}`, `unknown key (known keys: ${known})`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(spec)) {
    const value = table[key];
    if (value === undefined) continue;
    const bad = typeError(field.kind, value);
    if (bad) throw new ConfigError(file, `${where} ${key}`, `expected ${bad}, got ${describe(value)}`);
    const v = normalise(field.kind, value);
    const checkMsg = field.check?.(v as never);
    if (checkMsg) throw new ConfigError(file, `${where} ${key}`, `expected ${checkMsg}, got ${describe(v)}`);
    if (field.ignored) continue;
    const target = field.aliasOf ?? key;
    if (field.aliasOf !== undefined && table[field.aliasOf] !== undefined) {
      throw new ConfigError(file, `${where} ${key}`, `is an alias of ${field.aliasOf}; set only one of them`);
    }
    out[target] = field.table ? validateSubTables(file, where, key, field, v) : finish(field, v, { file, where: `${where} ${key}` });
  }
  for (const [key, field] of Object.entries(spec)) {
    if (out[key] !== undefined || field.ignored || field.aliasOf !== undefined) continue;
    if (field.required) throw new ConfigError(file, `${where} ${key}`, `missing (${field.doc ?? field.kind})`);
    if (field.default !== undefined) out[key] = field.table ? validateSubTables(file, where, key, field, field.default) : field.default;
  }
  // The declaration is the type's source: the loop above fills exactly the keys `TableOf<S>` lists.
  return out as TableOf<S>;
}

/** One line per key of a table, `key  type  (default X)  doc`, for `--help` texts and docs. */
export function renderKeys(spec: TableSpec, indent = '  '): string {
  const typeOf = (f: FieldSpec) => (f.table ? (f.kind === 'table[]' ? 'tables' : 'table') : f.kind);
  const rows = Object.entries(spec)
    .filter(([, f]) => !f.ignored && f.aliasOf === undefined)
    .map(([key, f]) => {
      const def = f.default === undefined || f.table ? '' : ` (default ${JSON.stringify(f.default)})`;
      const choices = f.choices ? `${f.choices.join('|')}: ` : '';
      return [key, typeOf(f), `${choices}${f.doc ?? ''}${def}`] as const;
    });
  const keyWidth = Math.max(...rows.map((r) => r[0].length));
  const typeWidth = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([k, t, d]) => `${indent}${k.padEnd(keyWidth)}  ${t.padEnd(typeWidth)}  ${d}`.trimEnd()).join('\n');
}

export const positiveInt = (v: number) => (Number.isInteger(v) && v > 0 ? undefined : 'a positive integer');
export const nonNegativeInt = (v: number) => (Number.isInteger(v) && v >= 0 ? undefined : 'a non-negative integer');
export const positiveNumber = (v: number) => (Number.isFinite(v) && v > 0 ? undefined : 'a positive number');
export const nonNegativeNumber = (v: number) => (Number.isFinite(v) && v >= 0 ? undefined : 'a non-negative number');
export const oneOf =
  (...choices: string[]) =>
  (v: string) =>
    choices.includes(v) ? undefined : `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`;
export const oneOfInts =
  (...choices: number[]) =>
  (v: number) =>
    choices.includes(v) ? undefined : `one of ${choices.join(', ')}`;
export const positiveInts = (v: number[]) =>
  v.length > 0 && v.every((x) => Number.isInteger(x) && x > 0) ? undefined : 'a non-empty array of positive integers';
