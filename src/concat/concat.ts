/**
 * The library behind `pipeline concat`: check that the sources share one tokenizer, align them to the
 * shared n_vocab, measure mean row norms in one streaming pass, choose per-source scales, and write
 * `concat.json` (plus, with `materialize`, one concatenated safetensors streamed block by block).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { ModelConfig } from '../config/types.ts';
import { openSafetensorsMatrix, type RowMatrix } from '../matrix/row-matrix.ts';
import type { FloatDType } from '../safetensors/dtype.ts';
import { SafetensorsWriter } from '../safetensors/writer.ts';
import { parseTokenizerJson, tokenizerFingerprint, type TokenizerJson } from '../tokenize/tokenizer.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { createProgress } from '../util/progress.ts';
import { ConcatMatrix } from './concat-matrix.ts';
import { readConcatDescriptor, type ConcatDescriptor, type ConcatSourceEntry } from './descriptor.ts';
import { sourceFile } from './open-input.ts';
import { EXTRACTED_TENSOR } from '../layout/tensor-names.ts';
import { chooseScales, meanRowNorms } from './stats.ts';
import { firstTokenizerDifference } from './tokenizer-diff.ts';
import { TOKENIZER_FILE } from '../layout/file-names.ts';
import { concatPath, sourcePath, tokenizerPath } from '../layout/weights-dir.ts';

const MATERIALIZED_FILE = 'concat.safetensors';

export interface ConcatOptions {
  config: ModelConfig;
  outDir: string;
  /** Also write concat.safetensors (one file with all columns). */
  materialize?: boolean;
  /** dtype of the materialized file (default: the first source's). */
  dtype?: FloatDType;
  blockRows?: number;
  quiet?: boolean;
}

export interface ConcatResult {
  descriptor: ConcatDescriptor;
  path: string;
  materialized?: string;
  seconds: number;
}

/** Per-source tokenizer files when extract kept them (`<source>.tokenizer.json` or `<source>/tokenizer.json`). */
function sourceTokenizerPath(outDir: string, name: string): string | undefined {
  for (const p of [join(outDir, `${name}.tokenizer.json`), tokenizerPath(join(outDir, name))]) if (existsSync(p)) return p;
  return undefined;
}

function readTokenizer(path: string): TokenizerJson {
  return parseTokenizerJson(readFileSync(path, 'utf8'), path);
}

/**
 * Verify the sources' tokenizers are identical and return the shared fingerprint (null when no tokenizer
 * file is there at all). The first difference is named: token id, merge number or setting.
 */
export function verifySharedTokenizer(config: ModelConfig, outDir: string): string | null {
  const shared = tokenizerPath(outDir);
  const perSource = config.sources.map((s) => ({ name: s.name, path: sourceTokenizerPath(outDir, s.name) }));
  const found = perSource.filter((s) => s.path !== undefined) as { name: string; path: string }[];
  if (existsSync(shared)) found.unshift({ name: TOKENIZER_FILE, path: shared });
  if (found.length === 0) return null;
  const first = readTokenizer(found[0]!.path);
  const fp = tokenizerFingerprint(first);
  for (const other of found.slice(1)) {
    const json = readTokenizer(other.path);
    if (tokenizerFingerprint(json) === fp) continue;
    const diff = firstTokenizerDifference(first, json) ?? 'fingerprints differ';
    throw new UserError(
      `${config.file}: tokenizers differ between ${found[0]!.path} and ${other.path} (${diff}); concatenated sources must share one tokenizer`,
    );
  }
  return fp;
}

/** The configured scale of each source as it will be recorded. */
const scaleMode = (s: number | 'mean_norm' | undefined): ConcatSourceEntry['scale_mode'] =>
  s === undefined ? 'none' : s === 'mean_norm' ? 'mean_norm' : 'fixed';

/** True when concat.json exists, matches the config's sources and scales, and its source files are unchanged. */
export function concatIsCurrent(config: ModelConfig, outDir: string): boolean {
  const path = concatPath(outDir);
  if (!existsSync(path)) return false;
  try {
    const d = readConcatDescriptor(path);
    if (d.rows !== config.n_vocab || d.sources.length !== config.sources.length) return false;
    return config.sources.every((s, i) => {
      const e = d.sources[i]!;
      const file = sourcePath(outDir, s.name);
      if (e.file !== basename(file) || e.dim !== s.dim || e.scale_mode !== scaleMode(s.scale)) return false;
      if (typeof s.scale === 'number' && e.scale !== s.scale) return false;
      if (!existsSync(file)) return false;
      const st = statSync(file);
      return st.size === e.bytes && Math.abs(st.mtimeMs - e.mtime_ms) <= 1;
    });
  } catch {
    return false;
  }
}

/** A source's extracted matrix, with the header that tells its stored dtype. */
type SourceMatrix = RowMatrix & { file: { header: { tensors: Map<string, { dtype: string }> } } };

/**
 * Open every source's matrix into `matrices` (pushed as each opens, so the caller closes all of them on any
 * failure), refusing one whose width or row count does not fit the config.
 */
async function openSourceMatrices(config: ModelConfig, outDir: string, matrices: SourceMatrix[]): Promise<void> {
  const rows = config.n_vocab;
  for (const s of config.sources) {
    const path = sourceFile(config, outDir, s.name);
    const m = await openSafetensorsMatrix(path, EXTRACTED_TENSOR);
    matrices.push(m);
    if (m.dim !== s.dim) throw new UserError(`${path}: ${m.dim} columns, but ${config.file} says dim = ${s.dim} for source "${s.name}"`);
    if (m.rows < rows) throw new UserError(`${path}: ${m.rows} rows, fewer than n_vocab ${rows}; check [model] n_vocab in ${config.file}`);
    if (m.rows > rows && !s.drop_extra_rows) {
      throw new UserError(`${path}: ${m.rows} rows but n_vocab is ${rows}; set drop_extra_rows = true for "${s.name}" if the checkpoint pads its matrix`);
    }
  }
}

/** concat.json's entry per source: its scale and norm, and the size and mtime that concatIsCurrent compares later. */
function sourceEntries(config: ModelConfig, outDir: string, matrices: SourceMatrix[], scales: number[], norms: number[]): ConcatSourceEntry[] {
  return config.sources.map((s, i) => {
    const file = sourcePath(outDir, s.name);
    const st = statSync(file);
    return {
      file: basename(file),
      tensor: EXTRACTED_TENSOR,
      dim: s.dim,
      scale: scales[i]!,
      mean_row_norm: norms[i]!,
      scale_mode: scaleMode(s.scale),
      source_rows: matrices[i]!.rows,
      bytes: st.size,
      mtime_ms: st.mtimeMs,
    };
  });
}

interface MaterializeParams {
  opts: ConcatOptions;
  matrices: SourceMatrix[];
  scales: number[];
  descriptor: ConcatDescriptor;
  blockRows: number;
}

/** Stream the scaled concatenation into concat.safetensors block by block; records it in the descriptor. */
async function materialize({ opts, matrices, scales, descriptor, blockRows }: MaterializeParams): Promise<string> {
  const { config, outDir } = opts;
  const rows = config.n_vocab;
  const dtype = opts.dtype ?? (matrices[0]!.file.header.tensors.get(EXTRACTED_TENSOR)!.dtype as FloatDType);
  const materialized = join(outDir, MATERIALIZED_FILE);
  const cm = new ConcatMatrix(
    matrices.map((m, i) => ({ matrix: m, scale: scales[i]! })),
    rows,
    'concat',
  );
  const w = await SafetensorsWriter.create(materialized, [{ name: EXTRACTED_TENSOR, dtype, shape: [rows, config.dim] }], {
    format: 'pt',
    config: config.name,
    sources: JSON.stringify(descriptor.sources.map((s) => ({ file: s.file, dim: s.dim, scale: s.scale }))),
    tokenizer_fingerprint: descriptor.tokenizer_fingerprint ?? '',
  });
  const bar = createProgress('concat: writing', { unit: 'rows', total: rows, quiet: Boolean(opts.quiet) });
  try {
    const buf = new Float32Array(blockRows * config.dim);
    for (let start = 0; start < rows; start += blockRows) {
      const count = Math.min(blockRows, rows - start);
      const block = await cm.readRows(start, count, buf);
      await w.writeF32(block.subarray(0, count * config.dim));
      bar.update(start + count);
    }
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
  bar.finish();
  if (w.overflows > 0) process.stderr.write(`concat: ${w.overflows} values overflowed ${dtype} (use --dtype f32)\n`);
  descriptor.materialized = { file: relative(outDir, materialized), tensor: EXTRACTED_TENSOR, dtype };
  return materialized;
}

export async function runConcat(opts: ConcatOptions): Promise<ConcatResult> {
  const t0 = performance.now();
  const { config, outDir } = opts;
  // About 8M values per block (32 MB in f32) whatever the width: 4096 rows of a 10496-wide supercat would be 172 MB.
  const blockRows = opts.blockRows ?? Math.max(64, Math.min(4096, Math.floor((1 << 23) / config.dim)));
  if (config.sources.length < 2) {
    throw new UserError(`${config.file} has a single source: nothing to concatenate (train reads ${config.sources[0]!.name}.safetensors directly)`);
  }
  const fingerprint = verifySharedTokenizer(config, outDir);
  const rows = config.n_vocab;
  const matrices: SourceMatrix[] = [];
  try {
    await openSourceMatrices(config, outDir, matrices);
    const progress = createProgress('concat: row norms', { unit: 'rows', total: rows, quiet: Boolean(opts.quiet) });
    const norms = await meanRowNorms(matrices, rows, blockRows, (done) => progress.update(done));
    progress.finish();
    const scales = chooseScales(
      config.sources.map((s) => s.scale),
      norms,
    );
    const descriptor: ConcatDescriptor = {
      format: 'wordllama-ts/concat',
      version: 1,
      config: config.name,
      rows,
      dim: config.dim,
      sources: sourceEntries(config, outDir, matrices, scales, norms),
      tokenizer_fingerprint: fingerprint,
    };
    const materialized = opts.materialize ? await materialize({ opts, matrices, scales, descriptor, blockRows }) : undefined;
    const path = concatPath(outDir);
    await writeJsonAtomic(path, descriptor);
    return { descriptor, path, materialized, seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const m of matrices) await m.close();
  }
}
