/**
 * The one way this project writes JSON (stdout and files), so NaN and ±Inf (which JSON cannot hold) are handled
 * by a stated rule instead of by accident (`JSON.stringify` turns them into null silently; hand-joined arrays
 * print `NaN`, which no JSON parser accepts):
 *
 * - **values** (embeddings, similarities, token vector statistics): a non-finite number is a fault, since a vector
 *   with a hole in it is not a vector. `valuesJson` / `valuesRowJson` throw a UserError naming the path
 *   (`embeddings[3][17]`) and the value before writing the text that holds it.
 * - **measurements** (eval scores, training metrics, report and inspect statistics): a non-finite number means the
 *   measurement is undefined (e.g. the Spearman correlation of a constant prediction), so `measurementsJson` writes
 *   null for it and the rest of the results survive.
 *
 * Pure, browser-safe.
 */
import { UserError } from './errors.ts';

/** Path and value of the first non-finite number inside `value`, depth first in key order. */
export function findNonFinite(value: unknown, path = ''): { path: string; value: number } | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path: path || '(value)', value };
  if (value === null || typeof value !== 'object') return undefined;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const arr = value as unknown as ArrayLike<number>;
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i]!;
      if (typeof v === 'number' && !Number.isFinite(v)) return { path: `${path}[${i}]`, value: v };
    }
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findNonFinite(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return undefined;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const hit = findNonFinite(v, path ? `${path}.${k}` : k);
    if (hit) return hit;
  }
  return undefined;
}

function refuse(what: string, hit: { path: string; value: number }): never {
  throw new UserError(`${what}: ${hit.path} is ${hit.value}, which JSON cannot represent (a broken model or an overflow); the output stops here`);
}

/** JSON of values that must all be finite (see the rule above); `what` names the output in the error. */
export function valuesJson(value: unknown, what: string, space?: number): string {
  const hit = findNonFinite(value);
  if (hit) refuse(what, hit);
  return JSON.stringify(value, null, space);
}

/**
 * `[v0,v1,...]` of one row of numbers, for writers that stream rows; `path` (e.g. `embeddings[3]`) prefixes the
 * index in the error.
 */
export function valuesRowJson(row: ArrayLike<number>, what: string, path: string): string {
  let s = '[';
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (!Number.isFinite(v)) refuse(what, { path: `${path}[${i}]`, value: v });
    s += (i === 0 ? '' : ',') + String(v);
  }
  return s + ']';
}

/** JSON of measurements: a non-finite number (an undefined measurement) is written as null. */
export function measurementsJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), space);
}
