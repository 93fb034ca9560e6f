/**
 * Whether each stage's outputs in `weights/<name>/` are current, so `pipeline run` can skip it: extract's by
 * reading the extracted files' headers against the config (offline), train's and save's by stamps of what they
 * depend on, recorded in run.json after each ran.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ModelConfig } from '../config/types.ts';
import { resolveDatasets } from '../data/spec.ts';
import { SafetensorsFile } from '../safetensors/file.ts';
import { provenancePath } from '../config/paths.ts';
import { EXTRACTED_TENSOR } from './tensor-names.ts';
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

/** Local check that extract's outputs match the config (no network). */
export async function extractIsCurrent(config: ModelConfig, outDir: string): Promise<boolean> {
  if (!existsSync(tokenizerPath(outDir))) return false;
  for (const s of config.sources) {
    const path = sourcePath(outDir, s.name);
    if (!existsSync(path)) return false;
    let f: SafetensorsFile;
    try {
      f = await SafetensorsFile.open(path);
    } catch {
      return false;
    }
    try {
      const t = f.header.tensors.get(EXTRACTED_TENSOR);
      if (!t || t.shape[0] !== config.n_vocab || t.shape[1] !== s.dim) return false;
      // extract records `repo` as the hub id, the local path, or a node_modules path as `npm:pkg/file`.
      const repo = f.header.metadata.repo;
      const location = s.tfjs_model ?? s.path;
      const wanted = [s.hf_model_id, location, location !== undefined ? provenancePath(location) : undefined].filter((x) => x !== undefined);
      if (repo !== undefined && !wanted.includes(repo)) return false;
      if (s.hf_model_id && s.revision !== 'main' && f.header.metadata.revision !== undefined) {
        // A pinned revision: a commit sha must match (branch/tag names resolve to shas we cannot check offline).
        if (/^[0-9a-f]{40}$/.test(s.revision) && f.header.metadata.revision !== s.revision) return false;
      }
    } finally {
      await f.close();
    }
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
    model: { n_vocab: config.n_vocab, pad_token: config.pad_token, dim: config.dim },
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
    pad: config.pad_token,
  });
}
