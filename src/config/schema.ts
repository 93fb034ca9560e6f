/**
 * A tiny declarative validator for TOML tables: each key has a kind, optional default and check. Errors name
 * the file, the table and the key, and say what was expected: `config/x.toml: [model] dim: expected a
 * positive integer, got "2304"`. Unknown keys are errors too (they are usually typos).
 */
import { UserError } from '../util/errors.ts';

export type FieldKind = 'string' | 'int' | 'number' | 'bool' | 'string[]' | 'int[]' | 'number[]' | 'table' | 'table[]';

export interface FieldSpec {
  kind: FieldKind;
  required?: boolean;
  /** Extra check on the typed value; returns an error text (after "expected") or undefined. */
  check?: (value: never) => string | undefined;
  /** One line shown in error messages for unknown keys / docs. */
  doc?: string;
}

export type TableSpec = Record<string, FieldSpec>;

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
      return Array.isArray(value) && value.every((x) => typeof x === 'number' || typeof x === 'bigint')
        ? undefined
        : 'an array of numbers';
    case 'table':
      return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
        ? undefined
        : 'a table';
    case 'table[]':
      return Array.isArray(value) && value.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x))
        ? undefined
        : 'an array of tables ([[...]])';
  }
}

/** smol-toml returns bigint for integers beyond 2^53 only; normalise to number everywhere else. */
function normalise(kind: FieldKind, value: unknown): unknown {
  if (kind === 'int' || kind === 'number') return Number(value);
  if (kind === 'int[]' || kind === 'number[]') return (value as unknown[]).map(Number);
  return value;
}

/**
 * Validate one table against its spec. `where` is the table's name as written in TOML (`[model]`,
 * `[[sources]] #2`). Returns a plain object with only known keys, typed by the caller.
 */
export function validateTable(
  file: string,
  where: string,
  table: unknown,
  spec: TableSpec,
): Record<string, unknown> {
  if (typeError('table', table)) throw new ConfigError(file, where, `expected a table, got ${describe(table)}`);
  const out: Record<string, unknown> = {};
  const t = table as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!Object.prototype.hasOwnProperty.call(spec, key)) {
      const known = Object.keys(spec).join(', ');
      throw new ConfigError(file, `${where} ${key}`, `unknown key (known keys: ${known})`);
    }
  }
  for (const [key, field] of Object.entries(spec)) {
    const value = t[key];
    if (value === undefined) {
      if (field.required) throw new ConfigError(file, `${where} ${key}`, `missing (${field.doc ?? field.kind})`);
      continue;
    }
    const bad = typeError(field.kind, value);
    if (bad) throw new ConfigError(file, `${where} ${key}`, `expected ${bad}, got ${describe(value)}`);
    const v = normalise(field.kind, value);
    const checkMsg = field.check?.(v as never);
    if (checkMsg) throw new ConfigError(file, `${where} ${key}`, `expected ${checkMsg}, got ${describe(v)}`);
    out[key] = v;
  }
  return out;
}

export const positiveInt = (v: number) => (Number.isInteger(v) && v > 0 ? undefined : 'a positive integer');
export const nonNegativeInt = (v: number) => (Number.isInteger(v) && v >= 0 ? undefined : 'a non-negative integer');
export const positiveNumber = (v: number) => (Number.isFinite(v) && v > 0 ? undefined : 'a positive number');
export const nonNegativeNumber = (v: number) => (Number.isFinite(v) && v >= 0 ? undefined : 'a non-negative number');
export const fraction = (v: number) => (Number.isFinite(v) && v >= 0 && v <= 1 ? undefined : 'a number from 0 to 1');
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
