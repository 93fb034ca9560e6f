/**
 * `weights/<config>/concat.json`: a concatenation described, not copied. Training and save read the source
 * files through it (ConcatMatrix), so a 256000 × 10496 supercat never exists as one array or file unless
 * `--materialize` asks for one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../util/errors.ts';

export interface ConcatSourceEntry {
  /** Extracted source file, relative to the descriptor's folder. */
  file: string;
  tensor: string;
  /** Columns this source contributes. */
  dim: number;
  /** Multiplier applied to this source's rows. */
  scale: number;
  /** Mean L2 norm of the source's first `rows` rows before scaling (measured in one streaming pass). */
  mean_row_norm: number;
  /** How the scale was chosen: "none", "fixed" (config scale) or "mean_norm". */
  scale_mode: 'none' | 'fixed' | 'mean_norm';
  /** Rows of the source file (≥ rows; extra padded rows are not read). */
  source_rows: number;
  /** Size and mtime of the source file when concat ran (stale descriptors are refused). */
  bytes: number;
  mtime_ms: number;
}

export interface ConcatDescriptor {
  format: 'wordllama-ts/concat';
  version: 1;
  config: string;
  rows: number;
  dim: number;
  sources: ConcatSourceEntry[];
  tokenizer_fingerprint: string | null;
  /** A single-file copy written by `concat --materialize` (relative path), when present. */
  materialized?: { file: string; tensor: string; dtype: string };
}

export function readConcatDescriptor(path: string): ConcatDescriptor {
  if (!existsSync(path)) throw new UserError(`${path} not found; run: pipeline concat --config <name>`);
  let d: ConcatDescriptor;
  try {
    d = JSON.parse(readFileSync(path, 'utf8')) as ConcatDescriptor;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message}); run pipeline concat again`);
  }
  const bad = (why: string) => new UserError(`${path}: ${why}; run pipeline concat again`);
  if (d.format !== 'wordllama-ts/concat') throw bad('not a concat descriptor (format)');
  if (!Number.isInteger(d.rows) || d.rows <= 0 || !Number.isInteger(d.dim) || d.dim <= 0) throw bad('bad rows/dim');
  if (!Array.isArray(d.sources) || d.sources.length === 0) throw bad('no sources');
  let sum = 0;
  for (const s of d.sources) {
    if (typeof s.file !== 'string' || !Number.isInteger(s.dim) || !Number.isFinite(s.scale)) throw bad('bad source entry');
    sum += s.dim;
  }
  if (sum !== d.dim) throw bad(`dim ${d.dim} differs from the sources' sum ${sum}`);
  return d;
}
