/**
 * Which data to train on: `[[training.datasets]]` tables of a config, or a `--data` override
 * (FILE | DIR | GLOB | hf:REPO[:SUBSET[:SPLIT]] | wordnet), or the WordNet default when neither is given.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import {
  ConfigError,
  choice,
  int,
  num,
  path,
  str,
  table,
  tables,
  positiveInt,
  positiveNumber,
  validateTable,
  type Place,
  type TableOf,
} from '../config/schema.ts';
import { UserError } from '../util/errors.ts';
import { WORDNET_DEFAULT_RECORDS } from './wordnet.ts';
import { DEFAULT_COLUMNS, type ColumnMap, type DataFormat, type DatasetSpec } from './types.ts';

const COLUMN_KEYS = {
  anchor: str(),
  positive: str(),
  negative: str(),
};

/** One `[[training.datasets]]` table (paths relative to the config file). */
export const DATASET_KEYS = {
  path: path({ doc: 'local data file (relative to the config file)' }),
  format: choice(['jsonl', 'tsv', 'csv', 'parquet', 'hf', 'wordnet'], { doc: '(default from the file extension)' }),
  columns: table(COLUMN_KEYS, { doc: '{ anchor = "...", positive = "...", negative = "..." }' }),
  hf_dataset: str({ doc: 'hub dataset repo, e.g. "sentence-transformers/all-nli"' }),
  subset: str({ doc: 'hub dataset subset, e.g. "triplet"' }),
  split: str({ doc: 'hub dataset split (default "train")' }),
  revision: str({ doc: 'hub dataset revision (default "main")' }),
  weight: num({ check: positiveNumber, default: 1, doc: 'times each record is used per epoch on average' }),
  max_records: int({ check: positiveInt, doc: 'keep at most this many records (seeded sample)' }),
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

/** A validated `[[training.datasets]]` table → the spec the loaders use (format inferred, contradictions rejected). */
export function datasetSpec(t: TableOf<typeof DATASET_KEYS>, { file, where }: Place): DatasetSpec {
  const cols: ColumnMap = {
    anchor: t.columns?.anchor ?? 'anchor',
    positive: t.columns?.positive ?? 'positive',
    negative: t.columns?.negative ?? 'negative',
  };
  const explicitNegative = t.columns?.negative !== undefined;
  let format: DataFormat | undefined = t.format;
  if (t.hf_dataset !== undefined) {
    if (t.path !== undefined) throw new ConfigError(file, where, 'has both path and hf_dataset: give one');
    if (format !== undefined && format !== 'hf')
      throw new ConfigError(file, `${where} format`, `"${format}" does not go with hf_dataset (use "hf" or leave it out)`);
    format = 'hf';
  } else if (format === 'wordnet') {
    // no path needed
  } else {
    if (t.path === undefined) throw new ConfigError(file, where, 'needs path = "..." (a local file) or hf_dataset = "owner/name"');
    format ??= formatFromPath(t.path);
    if (format === undefined)
      throw new ConfigError(
        file,
        `${where} format`,
        `cannot tell the format of "${basename(t.path)}" from its extension; set format = "jsonl" | "tsv" | "csv" | "parquet"`,
      );
    if (format === 'hf') throw new ConfigError(file, `${where} format`, '"hf" needs hf_dataset = "owner/name"');
  }
  const spec: DatasetSpec = {
    label: t.hf_dataset ?? (t.path ? basename(t.path) : 'wordnet'),
    format,
    path: t.path,
    hf_dataset: t.hf_dataset,
    subset: t.subset,
    split: t.split,
    revision: t.revision,
    columns: cols,
    weight: t.weight,
    max_records: t.max_records ?? (format === 'wordnet' ? WORDNET_DEFAULT_RECORDS : undefined),
  };
  if (explicitNegative) spec.requireNegative = true;
  return spec;
}

/** The `datasets` key of `[training]`: an array of dataset tables, each turned into a `DatasetSpec`. */
export const DATASETS_FIELD = tables(DATASET_KEYS, { header: '[[training.datasets]]', refine: datasetSpec, doc: '[[training.datasets]] entries' });

/** Validate `[training] datasets` (an array of tables) from config `file`. */
export function parseDatasetTables(file: string, raw: unknown): DatasetSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(file, '[[training.datasets]]', 'expected one or more [[training.datasets]] tables');
  return validateTable(file, '[training]', { datasets: raw }, { datasets: DATASETS_FIELD }).datasets ?? [];
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
    const hits = listFilesRecursive(base)
      .filter((rel) => re.test(rel))
      .sort();
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
  training: { datasets?: DatasetSpec[] } | undefined,
  dataOverride?: string | string[],
  cwd = process.cwd(),
): DatasetSpec[] {
  const overrides = dataOverride === undefined ? [] : Array.isArray(dataOverride) ? dataOverride : [dataOverride];
  if (overrides.length > 0) return overrides.flatMap((v) => resolveDataOverride(v, cwd));
  if (training?.datasets !== undefined) return training.datasets;
  return [wordnetSpec()];
}
