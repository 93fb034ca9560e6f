/**
 * Whether each stage's outputs in `weights/<name>/` are current, so `pipeline run` can skip it: extract's by
 * reading the extracted files' headers against the config (offline), train's and save's by stamps of what they
 * depend on, recorded in run.json after each ran.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ModelConfig, SourceConfig } from '../config/types.ts';
import type { FloatDType } from '../safetensors/dtype.ts';
import { resolveDatasets } from '../data/spec.ts';
import { SafetensorsFile } from '../safetensors/file.ts';
import { provenancePath } from '../config/paths.ts';
import { EXTRACTED_TENSOR } from './tensor-names.ts';
import { padTokenFor, readExtractRecord } from './extract-record.ts';
import { checkpointModelPath, concatPath, runRecordPath, sourcePath, tokenizerPath } from './weights-dir.ts';

interface FileStamp {
  path: string;
  size: number;
  mtime_ms: number;
}

export interface RunRecord {
  train?: { stamp: string; checkpoint: FileStamp };
  save?: { stamp: string; files: string[] };
}

export function fileStamp(path: string): FileStamp {
  const st = statSync(path);
  return { path, size: st.size, mtime_ms: Math.round(st.mtimeMs) };
}

const hashOf = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);

export function readRunRecord(outDir: string): RunRecord {
  const path = runRecordPath(outDir);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
  } catch {
    return {};
  }
}

/**
 * What an extracted source file must hold to count as current: tensor `embedding` [rows, dim] (in `dtype`, when
 * given) and, for each listed metadata key, a value the predicate accepts (undefined when the file lacks the key).
 */
export interface ExtractedExpectation {
  rows: number;
  dim: number;
  dtype?: FloatDType;
  metadata: Record<string, (value: string | undefined) => boolean>;
}

/** Metadata predicates that accept exactly these values (what extract is about to write). */
export function exactMetadata(metadata: Record<string, string>): ExtractedExpectation['metadata'] {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, (x: string | undefined) => x === v]));
}

/**
 * The one test of "is this extracted source current", shared by `extract` (against the exact provenance it is about
 * to write, after resolving the commit and reading the header) and `pipeline run` (against what the config alone
 * says, offline: `configuredExpectation`). An unreadable file is not current.
 */
export async function extractedSourceIsCurrent(path: string, want: ExtractedExpectation): Promise<boolean> {
  if (!existsSync(path)) return false;
  let f: SafetensorsFile;
  try {
    f = await SafetensorsFile.open(path);
  } catch {
    return false;
  }
  try {
    const t = f.header.tensors.get(EXTRACTED_TENSOR);
    if (!t || t.shape.length !== 2 || t.shape[0] !== want.rows || t.shape[1] !== want.dim) return false;
    if (want.dtype !== undefined && t.dtype !== want.dtype) return false;
    return Object.entries(want.metadata).every(([k, accept]) => accept(f.header.metadata[k]));
  } finally {
    await f.close();
  }
}

/**
 * What the config alone says a source's extracted file holds (no network): its shape ([model] n_vocab rows, shared
 * by all sources), where it came from (`repo` is
 * the hub id, the local path, or a node_modules path as `npm:pkg/file`; a file without `repo` was fed by hand and is
 * accepted), a pinned commit, and which GGUF file of a repo.
 */
export function configuredExpectation(s: SourceConfig, nVocab: number): ExtractedExpectation {
  const location = s.gguf ?? s.tfjs_model ?? s.path;
  const wanted = [s.hf_model_id, location, location !== undefined ? provenancePath(location) : undefined].filter((x) => x !== undefined);
  const metadata: ExtractedExpectation['metadata'] = { repo: (repo) => repo === undefined || wanted.includes(repo) };
  if (s.hf_model_id && /^[0-9a-f]{40}$/.test(s.revision)) {
    // A pinned commit must match (branch/tag names resolve to shas we cannot check offline).
    metadata.revision = (revision) => revision === undefined || revision === s.revision;
  }
  if (s.hf_model_id) metadata.gguf_file = (file) => file === s.gguf_file;
  return { rows: nVocab, dim: s.dim, metadata };
}

/** Local check that extract's outputs match the config (no network). */
export async function extractIsCurrent(config: ModelConfig, outDir: string): Promise<boolean> {
  if (!existsSync(tokenizerPath(outDir))) return false;
  // Without [model] pad_token the later stages need the default extract records (an older extract.json has none).
  if (config.pad_token === undefined && readExtractRecord(outDir)?.pad_token_default === undefined) return false;
  for (const s of config.sources) {
    if (!(await extractedSourceIsCurrent(sourcePath(outDir, s.name), configuredExpectation(s, config.n_vocab)))) return false;
  }
  return true;
}

/** What a training run depends on, hashed: config tables, input files, data files, flags. */
export function trainStamp(config: ModelConfig, outDir: string, data: string[] | undefined, flags: Record<string, unknown>): string {
  const inputs =
    config.sources.length > 1
      ? [fileStamp(concatPath(outDir)), ...config.sources.map((s) => fileStamp(sourcePath(outDir, s.name)))]
      : [fileStamp(sourcePath(outDir, config.sources[0]!.name))];
  const specs = resolveDatasets(config.file, config.training, data);
  const dataStamp = specs.map((s) => ({ ...s, file: s.path && existsSync(s.path) ? fileStamp(s.path) : undefined }));
  return hashOf({
    // The resolved token: a GGUF file naming another default makes training stale like a config edit does.
    model: { n_vocab: config.n_vocab, pad_token: padTokenFor(config, outDir), dim: config.dim },
    tokenizer: config.tokenizer,
    training: config.training ?? null,
    matryoshka: config.matryoshka ?? null,
    inputs: inputs.map((i) => [i.size, i.mtime_ms]),
    tokenizerFile: fileStamp(tokenizerPath(outDir)).size,
    data: dataStamp,
    flags,
  });
}

export function saveStamp(config: ModelConfig, outDir: string, dims: number[] | undefined): string {
  const ckpt = fileStamp(checkpointModelPath(outDir, 'best'));
  return hashOf({
    ckpt: [ckpt.size, ckpt.mtime_ms],
    dims: dims ?? null,
    save: config.save ?? null,
    max_length: config.tokenizer.max_length,
    pad: padTokenFor(config, outDir),
  });
}
