import { UserError } from './errors.ts';

/**
 * Parse a comma-separated list of embedding widths (`256,128,64`), as the stages' `--dims` / `--dim` flags
 * take them. `flag` names the stage and flag for the error (`save: --dims`). Empty items are ignored.
 */
export function parseDimList(value: string, flag: string): number[] {
  const dims = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new UserError(`${flag} expects comma-separated positive integers like 256,128,64, got "${value}"`);
  }
  return dims;
}
