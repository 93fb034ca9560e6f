/**
 * Which data to train on: `[[training.datasets]]` tables of a config, or a `--data` override
 * (FILE | DIR | GLOB | hf:REPO[:SUBSET[:SPLIT]] | wordnet), or the WordNet default when neither is given.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { resolveConfigRelativePath } from '../config/load.ts';
import { ConfigError, oneOf, positiveInt, positiveNumber, validateTable, type TableSpec } from '../config/schema.ts';
import { UserError } from '../util/errors.ts';
import { WORDNET_DEFAULT_RECORDS } from './wordnet.ts';
import { DEFAULT_COLUMNS, type ColumnMap, type DataFormat, type DatasetSpec } from './types.ts';

export const DATASET_KEYS: TableSpec = {
  path: { kind: 'string', doc: 'local data file (relative to the config file)' },
  format: { kind: 'string', check: oneOf('jsonl', 'tsv', 'csv', 'parquet', 'hf', 'wordnet'), doc: 'jsonl|tsv|csv|parquet|hf|wordnet' },
  columns: { kind: 'table', doc: '{ anchor = "...", positive = "...", negative = "..." }' },
  hf_dataset: { kind: 'string', doc: 'hub dataset repo, e.g. "sentence-transformers/all-nli"' },
  subset: { kind: 'string', doc: 'hub dataset subset, e.g. "triplet"' },
  split: { kind: 'string', doc: 'hub dataset split (default "train")' },
  revision: { kind: 'string', doc: 'hub dataset revision (default "main")' },
  weight: { kind: 'number', check: positiveNumber, doc: 'times each record is used per epoch on average (default 1)' },
  max_records: { kind: 'int', check: positiveInt, doc: 'keep at most this many records (seeded sample)' },
};

const COLUMN_KEYS: TableSpec = {
  anchor: { kind: 'string' },
  positive: { kind: 'string' },
  negative: { kind: 'string' },
};

const EXT_FORMAT: Record<string, DataFormat> = {
  '.jsonl': 'jsonl',
  '.json': 'jsonl',
  '.ndjson': 'jsonl',
  '.tsv': 'tsv',
  '.csv': 'csv',
  '.parquet': 'parquet',
};

export function formatFromPath(path: string): DataFormat | undefined {
  return EXT_FORMAT[extname(path).toLowerCase()];
}

/** The WordNet default as a spec. */
export function wordnetSpec(maxRecords = WORDNET_DEFAULT_RECORDS): DatasetSpec {
  return { label: 'wordnet', format: 'wordnet', columns: DEFAULT_COLUMNS, weight: 1, max_records: maxRecords };
}

/** Validate `[training] datasets` (an array of tables) from config `file`. */
export function parseDatasetTables(file: string, raw: unknown): DatasetSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(file, '[[training.datasets]]', 'expected one or more [[training.datasets]] tables');
  return raw.map((table, i) => {
    const where = `[[training.datasets]] #${i + 1}`;
    const t = validateTable(file, where, table, DATASET_KEYS);
    const columns = t.columns === undefined ? DEFAULT_COLUMNS : (validateTable(file, `${where} columns`, t.columns, COLUMN_KEYS) as Partial<ColumnMap>);
    const cols: ColumnMap = {
      anchor: columns.anchor ?? 'anchor',
      positive: columns.positive ?? 'positive',
      negative: columns.negative ?? 'negative',
    };
    const explicitNegative = t.columns !== undefined && columns.negative !== undefined;
    let format = t.format as DataFormat | undefined;
    if (t.hf_dataset !== undefined) {
      if (t.path !== undefined) throw new ConfigError(file, where, 'has both path and hf_dataset: give one');
      if (format !== undefined && format !== 'hf') throw new ConfigError(file, `${where} format`, `"${format}" does not go with hf_dataset (use "hf" or leave it out)`);
      format = 'hf';
    } else if (format === 'wordnet') {
      // no path needed
    } else {
      if (t.path === undefined) throw new ConfigError(file, where, 'needs path = "..." (a local file) or hf_dataset = "owner/name"');
      format ??= formatFromPath(t.path as string);
      if (format === undefined) throw new ConfigError(file, `${where} format`, `cannot tell the format of "${t.path}" from its extension; set format = "jsonl" | "tsv" | "csv" | "parquet"`);
      if (format === 'hf') throw new ConfigError(file, `${where} format`, '"hf" needs hf_dataset = "owner/name"');
    }
    const path = t.path !== undefined ? resolveConfigRelativePath(t.path as string, file) : undefined;
    const spec: DatasetSpec = {
      label: (t.hf_dataset as string | undefined) ?? (path ? basename(path) : 'wordnet'),
      format,
      path,
      hf_dataset: t.hf_dataset as string | undefined,
      subset: t.subset as string | undefined,
      split: t.split as string | undefined,
      revision: t.revision as string | undefined,
      columns: cols,
      weight: (t.weight as number | undefined) ?? 1,
      max_records: (t.max_records as number | undefined) ?? (format === 'wordnet' ? WORDNET_DEFAULT_RECORDS : undefined),
    };
    if (explicitNegative) spec.requireNegative = true;
    return spec;
  });
}

const GLOB_CHARS = /[*?[]/;

/** A simple glob for the last path segment(s): `*`, `?`, `[abc]`; `**` matches any folders. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
        if (pattern[i + 1] === '/') i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += pattern.slice(i, end + 1);
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function listFilesRecursive(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFilesRecursive(join(dir, e.name), rel));
    else out.push(rel);
  }
  return out;
}

function fileSpec(path: string): DatasetSpec {
  const format = formatFromPath(path);
  if (format === undefined) throw new UserError(`--data ${path}: unknown data format (use .jsonl, .tsv, .csv or .parquet)`);
  return { label: basename(path), format, path, columns: DEFAULT_COLUMNS, weight: 1 };
}

/**
 * Resolve one `--data` value (relative to `cwd`): a file, a folder (its data files, sorted, not recursive),
 * a glob, `hf:owner/name[:subset[:split]]`, or `wordnet`.
 */
export function resolveDataOverride(value: string, cwd = process.cwd()): DatasetSpec[] {
  if (value === 'wordnet') return [wordnetSpec()];
  if (value.startsWith('hf:')) {
    const [repo, subset, split] = value.slice(3).split(':');
    if (!repo || !/^[\w.-]+\/[\w.-]+$/.test(repo)) throw new UserError(`--data ${value}: expected hf:owner/name[:subset[:split]]`);
    return [{ label: repo, format: 'hf', hf_dataset: repo, subset: subset || undefined, split: split || undefined, columns: DEFAULT_COLUMNS, weight: 1 }];
  }
  const abs = resolve(cwd, value);
  if (GLOB_CHARS.test(value)) {
    // Split at the first segment with a glob character; walk below the fixed part.
    const segments = abs.split('/');
    const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
    const base = segments.slice(0, firstGlob).join('/') || '/';
    if (!existsSync(base)) throw new UserError(`--data ${value}: folder ${base} not found`);
    const re = globToRegExp(segments.slice(firstGlob).join('/'));
    const hits = listFilesRecursive(base).filter((rel) => re.test(rel)).sort();
    const data = hits.filter((rel) => formatFromPath(rel) !== undefined);
    if (data.length === 0) throw new UserError(`--data ${value}: no data files match (looked under ${base})`);
    return data.map((rel) => fileSpec(join(base, rel)));
  }
  if (!existsSync(abs)) throw new UserError(`--data ${value}: not found (${abs})`);
  if (statSync(abs).isDirectory()) {
    const files = readdirSync(abs)
      .filter((f) => formatFromPath(f) !== undefined && statSync(join(abs, f)).isFile())
      .sort();
    if (files.length === 0) throw new UserError(`--data ${value}: no .jsonl/.tsv/.csv/.parquet files in ${abs}`);
    return files.map((f) => fileSpec(join(abs, f)));
  }
  return [fileSpec(abs)];
}

/** The datasets to use: `--data` values win, then `[[training.datasets]]`, then WordNet. */
export function resolveDatasets(
  configFile: string,
  training: Record<string, unknown> | undefined,
  dataOverride?: string | string[],
  cwd = process.cwd(),
): DatasetSpec[] {
  const overrides = dataOverride === undefined ? [] : Array.isArray(dataOverride) ? dataOverride : [dataOverride];
  if (overrides.length > 0) return overrides.flatMap((v) => resolveDataOverride(v, cwd));
  if (training?.datasets !== undefined) return parseDatasetTables(configFile, training.datasets);
  return [wordnetSpec()];
}
