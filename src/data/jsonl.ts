/**
 * JSON Lines pairs: one object per line, `{"anchor": "...", "positive": "..."[, "negative": "..."]}` (or the
 * keys a column mapping names). Streamed line by line; every problem names the file and line.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../util/errors.ts';
import { pairFromFields } from './fields.ts';
import type { ColumnMap, TextPair } from './types.ts';

export async function readJsonlPairs(path: string, columns: ColumnMap, explicitNegative: boolean): Promise<TextPair[]> {
  if (!existsSync(path)) throw new UserError(`${path}: data file not found`);
  const pairs: TextPair[] = [];
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (line === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new UserError(`${path}:${lineNo}: not valid JSON (${(err as Error).message}); each line must be one JSON object`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new UserError(`${path}:${lineNo}: expected a JSON object like {"${columns.anchor}": ..., "${columns.positive}": ...}`);
    }
    pairs.push(pairFromFields((k) => (obj as Record<string, unknown>)[k], columns, explicitNegative, `${path}:${lineNo}`));
  }
  if (pairs.length === 0) throw new UserError(`${path}: no records (the file is empty)`);
  return pairs;
}
