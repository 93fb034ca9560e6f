/** Training data as the trainer sees it: text pairs (or triplets), then their token ids. */

/** One training example: the anchor, a text that should embed close to it, optionally a hard negative. */
export interface TextPair {
  anchor: string;
  positive: string;
  negative?: string;
}

/** Token ids of one example (no special tokens, truncated to `max_length`). */
export interface TokenizedRecord {
  anchor: Int32Array;
  positive: Int32Array;
  negative?: Int32Array;
}

/** Where the text fields live in a source: column (or JSON key) names. */
export interface ColumnMap {
  anchor: string;
  positive: string;
  negative?: string;
}

export type DataFormat = 'jsonl' | 'tsv' | 'csv' | 'parquet' | 'hf' | 'wordnet';

/** One entry of `[[training.datasets]]` (or of `--data`), validated. */
export interface DatasetSpec {
  /** Short label for messages and metadata (file name, hub id, "wordnet"). */
  label: string;
  format: DataFormat;
  /** Local file (jsonl/tsv/csv/parquet). */
  path?: string;
  /** Hub dataset repo id, e.g. "sentence-transformers/all-nli" (format "hf"). */
  hf_dataset?: string;
  /** Hub dataset subset / config folder (e.g. "triplet"). */
  subset?: string;
  /** Hub dataset split (default "train"). */
  split?: string;
  revision?: string;
  /** Column mapping; defaults to anchor/positive/negative. */
  columns: ColumnMap;
  /** The mapping named a negative column explicitly: records without one are errors. */
  requireNegative?: boolean;
  /** Average number of times each record is used per epoch (mixing): 2 doubles a set, 0.5 keeps half. */
  weight: number;
  /** Keep at most this many records (a seeded sample when the set is larger). */
  max_records?: number;
}

export const DEFAULT_COLUMNS: ColumnMap = { anchor: 'anchor', positive: 'positive', negative: 'negative' };
