/**
 * Task files → task data. Text parsing only (no file system), so it is testable on strings and usable in a
 * browser. Formats (docs/eval.md):
 *   - TSV: one record per line, tab-separated, no quoting; an optional first header line whose cells are all
 *     column names (sentence1, sentence2, score, label, text, query, positive, negative, …) is skipped;
 *     blank lines are ignored.
 *   - JSONL (file ends in .jsonl/.json, or its first character is `{`): one object per line with the
 *     documented keys.
 * Every problem is a UserError naming `file:line` and what to fix.
 */
import { UserError } from '../../util/errors.ts';
import type { ClusterData, LabelledTexts, PairData, RankingData, RankingQuery, StsData } from './types.ts';

const HEADER_WORDS = new Set([
  'sentence1',
  'sentence2',
  'sentence_1',
  'sentence_2',
  's1',
  's2',
  'score',
  'label',
  'labels',
  'text',
  'sentence',
  'query',
  'anchor',
  'positive',
  'positives',
  'negative',
  'negatives',
  'document',
  'documents',
  'similarity',
]);

export interface Line {
  /** 1-based line number in the file. */
  no: number;
  text: string;
}

/** Non-blank lines with their numbers; a UTF-8 BOM and CR of CRLF endings are dropped. */
function splitLines(content: string): Line[] {
  const lines: Line[] = [];
  const raw = content.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < raw.length; i++) {
    const text = raw[i]!.replace(/\r$/, '');
    if (text.trim() !== '') lines.push({ no: i + 1, text });
  }
  return lines;
}

function isJsonl(file: string, content: string): boolean {
  return (
    /\.jsonl?$/i.test(file) ||
    content
      .replace(/^\uFEFF/, '')
      .trimStart()
      .startsWith('{')
  );
}

/** TSV rows with at least `minColumns` cells, header line skipped; empty content is an error. */
function tsvRows(file: string, content: string, columns: string, minColumns: number): { no: number; cells: string[] }[] {
  const lines = splitLines(content);
  if (lines.length === 0) throw new UserError(`${file}: empty task file; expected lines of ${columns}`);
  const rows = lines.map((l) => ({ no: l.no, cells: l.text.split('\t').map((c) => c.trim()) }));
  const first = rows[0]!;
  if (first.cells.every((c) => HEADER_WORDS.has(c.toLowerCase()))) rows.shift();
  if (rows.length === 0) throw new UserError(`${file}: has a header line but no records; expected lines of ${columns}`);
  for (const r of rows) {
    if (r.cells.length < minColumns) {
      throw new UserError(`${file}:${r.no}: found ${r.cells.length} tab-separated column${r.cells.length === 1 ? '' : 's'}, expected ${columns}`);
    }
    const emptyAt = r.cells.slice(0, minColumns).findIndex((c) => c === '');
    if (emptyAt >= 0) throw new UserError(`${file}:${r.no}: column ${emptyAt + 1} is empty; expected ${columns}`);
  }
  return rows;
}

/** JSONL objects with their line numbers; empty content is an error. */
function jsonlRows(file: string, content: string, keys: string): { no: number; obj: Record<string, unknown> }[] {
  const lines = splitLines(content);
  if (lines.length === 0) throw new UserError(`${file}: empty task file; expected JSON objects with ${keys}`);
  return lines.map((l) => {
    let obj: unknown;
    try {
      obj = JSON.parse(l.text);
    } catch (err) {
      throw new UserError(`${file}:${l.no}: not valid JSON (${(err as Error).message}); expected one object per line with ${keys}`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new UserError(`${file}:${l.no}: expected a JSON object with ${keys}`);
    }
    return { no: l.no, obj: obj as Record<string, unknown> };
  });
}

function parseNumber(file: string, no: number, column: string, value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new UserError(`${file}:${no}: ${column} "${String(value)}" is not a number`);
  return n;
}

function parseBinaryLabel(file: string, no: number, value: unknown): 0 | 1 {
  if (value === true) return 1;
  if (value === false) return 0;
  const n = parseNumber(file, no, 'label', value);
  if (n !== 0 && n !== 1) throw new UserError(`${file}:${no}: label "${String(value)}" must be 0 or 1`);
  return n;
}

function requireString(file: string, no: number, obj: Record<string, unknown>, keys: string[]): string {
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === 'string' && v.trim() !== '') return v;
    if (v !== undefined) throw new UserError(`${file}:${no}: "${k}" must be a non-empty string`);
  }
  throw new UserError(
    `${file}:${no}: missing key "${keys[0]}"${
      keys.length > 1
        ? ` (or ${keys
            .slice(1)
            .map((k) => `"${k}"`)
            .join(', ')})`
        : ''
    }`,
  );
}

function firstDefined(obj: Record<string, unknown>, keys: string[]): [string, unknown] | undefined {
  for (const k of keys) if (obj[k] !== undefined) return [k, obj[k]];
  return undefined;
}

const S1 = ['sentence1', 's1', 'anchor', 'text1'];
const S2 = ['sentence2', 's2', 'positive', 'text2'];

/** STS: `sentence1 \t sentence2 \t score` (any numeric scale: only ranks matter). */
export function parseSts(file: string, content: string): StsData {
  const data: StsData = { kind: 'sts', sentence1: [], sentence2: [], score: [] };
  if (isJsonl(file, content)) {
    for (const { no, obj } of jsonlRows(file, content, '"sentence1", "sentence2", "score"')) {
      data.sentence1.push(requireString(file, no, obj, S1));
      data.sentence2.push(requireString(file, no, obj, S2));
      const score = firstDefined(obj, ['score', 'label', 'similarity']);
      if (!score) throw new UserError(`${file}:${no}: missing key "score"`);
      data.score.push(parseNumber(file, no, 'score', score[1]));
    }
  } else {
    for (const { no, cells } of tsvRows(file, content, 'sentence1<TAB>sentence2<TAB>score', 3)) {
      data.sentence1.push(cells[0]!);
      data.sentence2.push(cells[1]!);
      data.score.push(parseNumber(file, no, 'score (column 3)', cells[2]));
    }
  }
  return data;
}

/** Pair classification: `sentence1 \t sentence2 \t label` with label 0/1; both classes must occur. */
export function parsePair(file: string, content: string): PairData {
  const data: PairData = { kind: 'pair', sentence1: [], sentence2: [], label: [] };
  if (isJsonl(file, content)) {
    for (const { no, obj } of jsonlRows(file, content, '"sentence1", "sentence2", "label"')) {
      data.sentence1.push(requireString(file, no, obj, S1));
      data.sentence2.push(requireString(file, no, obj, S2));
      const label = firstDefined(obj, ['label', 'labels']);
      if (!label) throw new UserError(`${file}:${no}: missing key "label"`);
      data.label.push(parseBinaryLabel(file, no, label[1]));
    }
  } else {
    for (const { no, cells } of tsvRows(file, content, 'sentence1<TAB>sentence2<TAB>label (0/1)', 3)) {
      data.sentence1.push(cells[0]!);
      data.sentence2.push(cells[1]!);
      data.label.push(parseBinaryLabel(file, no, cells[2]));
    }
  }
  if (!data.label.includes(1) || !data.label.includes(0)) {
    throw new UserError(`${file}: pair classification needs both label 0 and label 1 rows; all ${data.label.length} rows are ${data.label[0]}`);
  }
  return data;
}

/** `text \t label` (label any string) for classification and clustering. */
export function parseLabelled(file: string, content: string): LabelledTexts {
  const data: LabelledTexts = { text: [], label: [] };
  if (isJsonl(file, content)) {
    for (const { no, obj } of jsonlRows(file, content, '"text", "label"')) {
      data.text.push(requireString(file, no, obj, ['text', 'sentence']));
      const label = firstDefined(obj, ['label', 'labels']);
      if (!label || label[1] === null || label[1] === '' || typeof label[1] === 'object') {
        throw new UserError(`${file}:${no}: missing key "label" (a string or number)`);
      }
      data.label.push(String(label[1]));
    }
  } else {
    for (const { cells } of tsvRows(file, content, 'text<TAB>label', 2)) {
      data.text.push(cells[0]!);
      data.label.push(cells[1]!);
    }
  }
  return data;
}

export function parseCluster(file: string, content: string): ClusterData {
  const data = parseLabelled(file, content);
  if (new Set(data.label).size < 2) throw new UserError(`${file}: clustering needs at least 2 distinct labels`);
  return { kind: 'cluster', ...data };
}

function stringList(file: string, no: number, key: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    if (typeof v !== 'string' || v.trim() === '') throw new UserError(`${file}:${no}: "${key}" must be a string or a list of non-empty strings`);
    return v;
  });
}

/**
 * Retrieval / reranking: TSV `query \t positive [\t negative ...]` (one query per line, one positive, any
 * negatives) or JSONL `{"query"|"anchor", "positive"|"positives": str|str[], "negative"|"negatives": str|str[]}`.
 */
export function parseRanking(file: string, content: string, kind: 'retrieval' | 'rerank'): RankingData {
  const queries: RankingQuery[] = [];
  if (isJsonl(file, content)) {
    for (const { no, obj } of jsonlRows(file, content, '"query", "positive"[, "negative"]')) {
      const query = requireString(file, no, obj, ['query', 'anchor']);
      const pos = firstDefined(obj, ['positive', 'positives']);
      const positives = stringList(file, no, pos?.[0] ?? 'positive', pos?.[1]);
      if (positives.length === 0) throw new UserError(`${file}:${no}: missing key "positive" (a string or a list of strings)`);
      const neg = firstDefined(obj, ['negative', 'negatives']);
      queries.push({ query, positives, negatives: stringList(file, no, neg?.[0] ?? 'negative', neg?.[1]) });
    }
  } else {
    for (const { cells } of tsvRows(file, content, 'query<TAB>positive[<TAB>negative...]', 2)) {
      queries.push({ query: cells[0]!, positives: [cells[1]!], negatives: cells.slice(2).filter((c) => c !== '') });
    }
  }
  if (kind === 'rerank' && queries.every((q) => q.negatives.length === 0)) {
    throw new UserError(`${file}: reranking needs negatives (columns 3+ or "negative"); with positives only use retrieval=${file}`);
  }
  return { kind, queries };
}
