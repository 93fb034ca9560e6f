/**
 * TSV and CSV pairs with a header row. TSV fields are taken verbatim (tab-separated, no quoting: sentence
 * files often contain bare quotes); CSV follows RFC 4180 (quoted fields, doubled quotes, newlines inside
 * quotes). Columns are found by header name.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../util/errors.ts';
import { pairFromFields } from './fields.ts';
import type { ColumnMap, TextPair } from './types.ts';

/** Rows of a CSV text with the 1-based line each row starts on. */
export function parseCsv(text: string): { fields: string[]; line: number }[] {
  const rows: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let atFieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      if (!(fields.length === 1 && fields[0] === '')) rows.push({ fields, line: rowLine });
      fields = [];
      field = '';
      atFieldStart = true;
      line++;
      rowLine = line;
    } else {
      field += c;
      atFieldStart = false;
    }
  }
  if (quoted) throw new UserError(`line ${rowLine}: unterminated quoted field`);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    rows.push({ fields, line: rowLine });
  }
  return rows;
}

function parseTsv(text: string): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    out.push({ fields: lines[i]!.split('\t'), line: i + 1 });
  }
  return out;
}

export function readDelimitedPairs(path: string, format: 'tsv' | 'csv', columns: ColumnMap, explicitNegative: boolean): TextPair[] {
  if (!existsSync(path)) throw new UserError(`${path}: data file not found`);
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  let rows: { fields: string[]; line: number }[];
  try {
    rows = format === 'csv' ? parseCsv(text) : parseTsv(text);
  } catch (err) {
    throw new UserError(`${path}: ${(err as Error).message}`);
  }
  if (rows.length === 0) throw new UserError(`${path}: empty file (expected a header row naming the columns)`);
  const header = rows[0]!.fields.map((h) => h.trim());
  const index = new Map(header.map((h, i) => [h, i]));
  for (const role of ['anchor', 'positive'] as const) {
    if (!index.has(columns[role])) {
      throw new UserError(
        `${path}: no column "${columns[role]}" for the ${role} text (header: ${header.join(', ')}); ` +
          `set columns = { anchor = "...", positive = "..." } in [[training.datasets]]`,
      );
    }
  }
  if (explicitNegative && columns.negative !== undefined && !index.has(columns.negative)) {
    throw new UserError(`${path}: no column "${columns.negative}" for the negative text (header: ${header.join(', ')})`);
  }
  const cols = index.has(columns.negative ?? '') ? columns : { anchor: columns.anchor, positive: columns.positive };
  const pairs: TextPair[] = [];
  for (const { fields, line } of rows.slice(1)) {
    if (fields.length !== header.length) {
      throw new UserError(`${path}:${line}: ${fields.length} fields, the header has ${header.length}`);
    }
    pairs.push(pairFromFields((c) => fields[index.get(c)!], cols, explicitNegative, `${path}:${line}`));
  }
  if (pairs.length === 0) throw new UserError(`${path}: no records below the header`);
  return pairs;
}
