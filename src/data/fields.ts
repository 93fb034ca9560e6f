/** Turn one source row (JSON object, CSV/TSV row, parquet row) into a checked TextPair. */
import { UserError } from '../util/errors.ts';
import type { ColumnMap, TextPair } from './types.ts';

/**
 * `get(name)` returns the raw field. Missing or empty anchor/positive are errors naming `where`
 * (file:line); the negative is optional unless the column mapping named it explicitly.
 */
export function pairFromFields(get: (column: string) => unknown, columns: ColumnMap, explicitNegative: boolean, where: string): TextPair {
  const text = (role: 'anchor' | 'positive' | 'negative', required: boolean): string | undefined => {
    const column = columns[role]!;
    const v = get(column);
    if (v === undefined || v === null) {
      if (!required) return undefined;
      throw new UserError(`${where}: missing "${column}" (the ${role} text); map columns with columns = { ${role} = "..." }`);
    }
    if (typeof v !== 'string') throw new UserError(`${where}: "${column}" (the ${role} text) must be a string, got ${JSON.stringify(v)?.slice(0, 40)}`);
    if (v.trim() === '') throw new UserError(`${where}: "${column}" (the ${role} text) is empty; remove the record or fill it in`);
    return v;
  };
  const anchor = text('anchor', true)!;
  const positive = text('positive', true)!;
  const negative = columns.negative !== undefined ? text('negative', explicitNegative) : undefined;
  return negative === undefined ? { anchor, positive } : { anchor, positive, negative };
}
