/** Parquet pairs through hyparquet (pure JS): only the mapped columns are decoded. */
import { existsSync } from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { UserError, errorMessage } from '../util/errors.ts';
import { pairFromFields } from './fields.ts';
import type { ColumnMap, TextPair } from './types.ts';

export async function readParquetPairs(path: string, columns: ColumnMap, explicitNegative: boolean): Promise<TextPair[]> {
  if (!existsSync(path)) throw new UserError(`${path}: data file not found`);
  let names: string[];
  let rows: Record<string, unknown>[];
  try {
    const file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    names = parquetSchema(metadata).children.map((c) => c.element.name);
    for (const role of ['anchor', 'positive'] as const) {
      if (!names.includes(columns[role])) {
        throw new UserError(
          `${path}: no column "${columns[role]}" for the ${role} text (columns: ${names.join(', ')}); ` +
            `set columns = { anchor = "...", positive = "..." } in [[training.datasets]]`,
        );
      }
    }
    if (explicitNegative && columns.negative !== undefined && !names.includes(columns.negative)) {
      throw new UserError(`${path}: no column "${columns.negative}" for the negative text (columns: ${names.join(', ')})`);
    }
    const wanted = [columns.anchor, columns.positive];
    if (columns.negative !== undefined && names.includes(columns.negative)) wanted.push(columns.negative);
    rows = (await parquetReadObjects({ file, metadata, columns: wanted })) as Record<string, unknown>[];
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: cannot read parquet (${errorMessage(err)})`);
  }
  const cols = columns.negative !== undefined && names.includes(columns.negative) ? columns : { anchor: columns.anchor, positive: columns.positive };
  const pairs = rows.map((row, i) => pairFromFields((c) => row[c], cols, explicitNegative, `${path} row ${i + 1}`));
  if (pairs.length === 0) throw new UserError(`${path}: no rows`);
  return pairs;
}
