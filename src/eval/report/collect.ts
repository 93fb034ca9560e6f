/**
 * Gather what the report shows from a model folder (Node side): config.json, eval.json, the training log
 * metrics.jsonl, extract.json and inspect.html (in the model folder or up to two levels above it, i.e. weights/<config>/
 * for a checkpoint), and the matrix shape from the safetensors header. Missing pieces stay undefined.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { configDims, embeddingTensorInfo, findModelFiles, readJsonIfExists } from '../model-files.ts';
import { readEvalFile, type EvalFile } from '../results.ts';
import { EXTRACT_FACTS_FILE, INSPECT_HTML_FILE, METRICS_FILE } from '../../layout/file-names.ts';
import { evalPath as evalFilePath } from '../../layout/weights-dir.ts';

export interface TrainPoint {
  step: number;
  epoch?: number;
  loss: number;
  lr?: number;
  pairsPerS?: number;
  elapsedS?: number;
}

export interface DevPoint {
  step: number;
  file: string;
  dim: number;
  binary: boolean;
  spearman: number;
}

export interface ExtractSource {
  name: string;
  file?: string;
  /** "hub" | "local" | "tfjs" */
  kind?: string;
  repo?: string;
  revision?: string;
  bytesResumed?: number;
  bytesDownloaded?: number;
  shardBytes?: number;
  tensorBytes?: number;
  seconds?: number;
}

export interface ReportData {
  name: string;
  modelPath: string;
  dir: string;
  nVocab: number;
  dim: number;
  dims: number[];
  config?: Record<string, unknown>;
  eval?: EvalFile;
  train: TrainPoint[];
  dev: DevPoint[];
  metricsPath?: string;
  extract?: ExtractSource[];
  extractPath?: string;
  /** inspect.html of the model or of its source matrix (same places as extract.json), to link to. */
  inspectHtml?: string;
}

/** First existing `name` in dir, its parent, its grandparent. */
function findUp(dir: string, name: string): string | undefined {
  let d = dir;
  for (let i = 0; i < 3; i++) {
    const p = join(d, name);
    if (existsSync(p)) return p;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return undefined;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Parse metrics.jsonl: train and eval lines; other types are ignored, a malformed line is an error. */
export function parseMetricsLog(path: string, content: string): { train: TrainPoint[]; dev: DevPoint[] } {
  const train: TrainPoint[] = [];
  const dev: DevPoint[] = [];
  content.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new UserError(`${path}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    const step = num(o.step);
    if (o.type === 'train' && step !== undefined && num(o.loss) !== undefined) {
      train.push({ step, epoch: num(o.epoch), loss: o.loss as number, lr: num(o.lr), pairsPerS: num(o.pairs_per_s), elapsedS: num(o.elapsed_s) });
    } else if (o.type === 'eval' && step !== undefined && num(o.spearman) !== undefined && num(o.dim) !== undefined) {
      dev.push({ step, file: typeof o.file === 'string' ? o.file : 'dev', dim: o.dim as number, binary: o.binary === true, spearman: o.spearman as number });
    }
  });
  return { train, dev };
}

function parseExtract(path: string): ExtractSource[] | undefined {
  const j = readJsonIfExists(path);
  if (!j || !Array.isArray(j.sources)) return undefined;
  return (j.sources as Record<string, unknown>[]).map((s, i) => ({
    name: typeof s.name === 'string' ? s.name : `source ${i + 1}`,
    file: typeof s.file === 'string' ? s.file : undefined,
    kind: typeof s.kind === 'string' ? s.kind : typeof s.source_kind === 'string' ? s.source_kind : undefined,
    repo: typeof s.repo === 'string' ? s.repo : undefined,
    revision: typeof s.revision === 'string' ? s.revision : undefined,
    bytesResumed: num(s.bytes_resumed),
    bytesDownloaded: num(s.bytes_downloaded),
    shardBytes: num(s.shard_bytes),
    tensorBytes: num(s.tensor_bytes),
    seconds: num(s.seconds),
  }));
}

export async function collectReportData(modelPath: string): Promise<ReportData> {
  const files = findModelFiles(modelPath);
  const info = await embeddingTensorInfo(files.safetensors);
  const config = files.config;
  const dims = configDims(config) ?? [info.dim];
  const evalPath = evalFilePath(files.dir);
  const metricsPath = findUp(files.dir, METRICS_FILE);
  const extractPath = findUp(files.dir, EXTRACT_FACTS_FILE);
  const { train, dev } = metricsPath ? parseMetricsLog(metricsPath, readFileSync(metricsPath, 'utf8')) : { train: [], dev: [] };
  const name = typeof config?.name === 'string' ? config.name : (files.dir.replace(/\/+$/, '').split('/').pop() ?? 'model');
  return {
    name,
    modelPath: files.safetensors,
    dir: files.dir,
    nVocab: typeof config?.n_vocab === 'number' ? config.n_vocab : info.rows,
    dim: info.dim,
    dims: dims.filter((d) => d <= Math.max(info.dim, ...dims)),
    config,
    eval: readEvalFile(evalPath),
    train,
    dev,
    metricsPath,
    extract: extractPath ? parseExtract(extractPath) : undefined,
    extractPath,
    inspectHtml: findUp(files.dir, INSPECT_HTML_FILE),
  };
}
