/**
 * Node side of the embedding library: load models from a file or folder path, export to model2vec.
 * Everything else is re-exported from the browser-safe entry.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { loadModelFromBuffers, type LoadOptions } from './load.ts';
import type { DeduplicateOptions, StaticModel } from './model.ts';
import { deduplicateRowsThreads, kmeansThreads } from './threads.ts';
import { deduplicateRows } from './dedupe.ts';
import { binarize } from './binary.ts';
import type { ClusterOptions, ClusterResult } from './types.ts';
import { MODEL_CONFIG_FILE } from '../layout/file-names.ts';
import type { HubLoadOptions } from '../hub/cache/download.ts';
import { pickWordllamaWidth, wordllamaWidths } from './wordllama-files.ts';
import { isSavedModelConfig, pickSavedFile, readSavedModelConfig } from '../layout/saved-config.ts';
import { sentenceTransformersConfig } from './formats.ts';
import { embedParallel, rememberModelSources } from './embed-parallel.ts';

export * from './index.ts';
// Worker-thread versions of the all-pairs and top-k utilities (Node worker_threads; the browser entry has none).
export {
  cosineMatrixThreads,
  topkRowsThreads,
  deduplicateRowsThreads,
  kmeansThreads,
  MIN_PARALLEL_PAIRS,
  MIN_PARALLEL_ASSIGN,
  type ThreadOptions,
  type DedupeThreadOptions,
} from './threads.ts';
export { embedParallel, canEmbedInParallel, MIN_PARALLEL_TEXTS, type EmbedParallelOptions } from './embed-parallel.ts';
export { splitParallel, type SplitParallelOptions } from './split/parallel.ts';

/**
 * `model.deduplicate(docs, opts)` on both cores: the docs embedded by `embedParallel` and the similarity scan
 * split by `deduplicateRowsThreads`, each where it pays (the same result as the method, which stays on one
 * thread because it is synchronous). Binary models: embedded in parallel, Hamming scan on this thread.
 */
export async function deduplicateThreads(
  model: StaticModel,
  docs: readonly string[],
  opts: DeduplicateOptions & { threads?: number; returnIndices: true },
): Promise<number[]>;
export async function deduplicateThreads(model: StaticModel, docs: readonly string[], opts?: DeduplicateOptions & { threads?: number }): Promise<string[]>;
export async function deduplicateThreads(
  model: StaticModel,
  docs: readonly string[],
  opts: DeduplicateOptions & { threads?: number } = {},
): Promise<string[] | number[]> {
  const threshold = opts.threshold ?? 0.9;
  if (!Array.isArray(docs)) throw new UserError('deduplicate: docs must be an array of strings');
  let result;
  if (model.binary) {
    result = deduplicateRows(binarize(await embedParallel(model, docs, { threads: opts.threads, norm: false })), threshold);
  } else {
    result = await deduplicateRowsThreads(await embedParallel(model, docs, { threads: opts.threads, norm: true }), threshold, { threads: opts.threads });
  }
  return opts.returnIndices ? result.duplicates : result.kept.map((i) => docs[i]!);
}

/** `model.cluster(docs, k, opts)` on both cores (`embedParallel`, then `kmeansThreads`): the same labels and inertia. */
export async function clusterThreads(
  model: StaticModel,
  docs: readonly string[],
  k: number,
  opts: ClusterOptions & { threads?: number } = {},
): Promise<ClusterResult> {
  if (model.binary) throw new UserError('cluster: needs dense embeddings; load the model with binary: false');
  if (!Array.isArray(docs)) throw new UserError('cluster: docs must be an array of strings');
  if (Number.isInteger(k) && k > docs.length) throw new UserError(`cluster: k = ${k} is larger than the number of docs (${docs.length})`);
  const { threads, ...rest } = opts;
  const { labels, inertia } = await kmeansThreads(await embedParallel(model, docs, { threads, norm: true }), k, { ...rest, threads });
  return { labels, inertia };
}

/** Files above this are not read whole (use the pipeline's row-block readers for raw LLM matrices). */
const MAX_MODEL_BYTES = 2 * 1024 ** 3 - 1; // readFileSync refuses files of 2 GiB and more

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

export interface ResolvedModelFiles {
  safetensors: string;
  tokenizer: string;
  config?: string;
  tokenizerConfig?: string;
  /** Set for sentence-transformers folders (config_sentence_transformers.json). */
  sentenceTransformersConfig?: string;
  /** sentence-transformers folders: modules.json (whether a Normalize module follows the embedding). */
  modules?: string;
}

/**
 * Find the files of a model: a `.safetensors` path (tokenizer.json beside it), or a folder holding a saved
 * model (config.json's files map: the `dim` asked for, else the smallest dim ≥ it, else the largest),
 * `model.safetensors` (model2vec / sentence-transformers), WordLlama's `<name>_<dim>.safetensors` files (the
 * same choice by dim) or a single other `.safetensors`.
 */
export function resolveModelFiles(pathOrDir: string, opts: { dim?: number } = {}): ResolvedModelFiles {
  if (!existsSync(pathOrDir)) throw new UserError(`${pathOrDir}: no such file or folder`);
  let dir: string;
  let file: string;
  if (statSync(pathOrDir).isDirectory()) {
    dir = pathOrDir;
    let candidates = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
    if (candidates.length === 0 && existsSync(join(dir, '0_StaticEmbedding'))) {
      // sentence-transformers keeps config_sentence_transformers.json beside modules.json, above the module folder.
      const inner = resolveModelFiles(join(dir, '0_StaticEmbedding'), opts);
      const stConfig = join(dir, 'config_sentence_transformers.json');
      const modules = join(dir, 'modules.json');
      return {
        ...inner,
        sentenceTransformersConfig: inner.sentenceTransformersConfig ?? (existsSync(stConfig) ? stConfig : undefined),
        modules: existsSync(modules) ? modules : undefined,
      };
    }
    // A `pipeline save` folder also holds the extracted sources (weights/<config>/<source>.safetensors): its
    // config.json's files map says which files are the model.
    const cfgPath = join(dir, MODEL_CONFIG_FILE);
    const cfg = existsSync(cfgPath) ? readJson(cfgPath) : undefined;
    if (isSavedModelConfig(cfg)) {
      const saved = readSavedModelConfig(cfg, cfgPath);
      const pick = pickSavedFile(saved, opts.dim, (f) => existsSync(join(dir, f)));
      if (!pick) {
        throw new UserError(`${dir}: config.json lists ${Object.values(saved.files).join(', ')} but none is in the folder (run pipeline save)`);
      }
      file = pick.file;
    } else if (candidates.includes('model.safetensors')) file = 'model.safetensors';
    else {
      candidates = candidates.filter((f) => !f.startsWith('optimizer'));
      // WordLlama's layout: one `<config>_<dim>.safetensors` per width and no config.json.
      const widths = wordllamaWidths(candidates);
      if (widths) {
        file = pickWordllamaWidth(widths, opts.dim);
      } else if (candidates.length !== 1) {
        throw new UserError(`${dir}: cannot tell which .safetensors is the model (${candidates.join(', ') || 'none'}); pass the file path`);
      } else file = candidates[0]!;
    }
    file = join(dir, file);
  } else {
    file = pathOrDir;
    dir = dirname(pathOrDir);
  }
  const tokenizer = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizer)) throw new UserError(`${file}: no tokenizer.json beside it (${tokenizer})`);
  const at = (name: string) => (existsSync(join(dir, name)) ? join(dir, name) : undefined);
  return {
    safetensors: file,
    tokenizer,
    config: at('config.json'),
    tokenizerConfig: at('tokenizer_config.json'),
    sentenceTransformersConfig: at('config_sentence_transformers.json'),
  };
}

/** Load any model `loadModelFromBuffers` understands from a path (file or folder). */
export function load(pathOrDir: string, opts: LoadOptions = {}): StaticModel {
  const files = resolveModelFiles(pathOrDir, opts);
  const size = statSync(files.safetensors).size;
  if (size > MAX_MODEL_BYTES) {
    throw new UserError(`${files.safetensors}: ${size} bytes is too large to load whole; save a projected model with \`pipeline save\` first`);
  }
  let configJson = files.config ? readJson(files.config) : undefined;
  if (!configJson && (files.sentenceTransformersConfig || files.modules)) {
    const st = files.sentenceTransformersConfig ? readJson(files.sentenceTransformersConfig) : undefined;
    configJson = sentenceTransformersConfig(st, files.modules ? readJson(files.modules) : undefined);
  }
  const buffers = {
    safetensors: readShared(files.safetensors, size),
    tokenizerJson: readFileSync(files.tokenizer, 'utf8'),
    configJson,
    tokenizerConfig: files.tokenizerConfig ? readJson(files.tokenizerConfig) : undefined,
  };
  const options = { ...opts, source: opts.source ?? files.safetensors, tokenizerSource: opts.tokenizerSource ?? files.tokenizer };
  const model = loadModelFromBuffers(buffers, options);
  rememberModelSources(model, buffers, options);
  return model;
}

/**
 * A file's bytes in a SharedArrayBuffer: the model's rows view them, and embedParallel's worker threads read the
 * same memory (no copy per worker; the same memory as a plain read otherwise).
 */
function readShared(path: string, size: number): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(size));
  const fd = openSync(path, 'r');
  try {
    let off = 0;
    while (off < size) {
      const n = readSync(fd, out, off, size - off, off);
      if (n === 0) throw new UserError(`${path}: the file shrank while it was read (${off} of ${size} bytes)`);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export interface LoadModelOptions extends LoadOptions, HubLoadOptions {}

/**
 * `load` for a path or a hub id (`org/name`, `org/name@rev`, `hf:org/name`; a local path wins when it
 * exists): the files a hub model needs land in the huggingface_hub cache and load from there, so Python's
 * huggingface_hub / model2vec / sentence-transformers share them, and a second load makes no request.
 */
export async function loadModel(idOrPath: string, opts: LoadModelOptions = {}): Promise<StaticModel> {
  // Loaded on first use: `load` of a local path must not pull in the hub client (@huggingface/hub).
  if (existsSync(idOrPath) && !idOrPath.startsWith('hf:')) return load(idOrPath, opts);
  let resolveModelSource: typeof import('../hub/cache/resolve.ts').resolveModelSource;
  try {
    ({ resolveModelSource } = await import('../hub/cache/resolve.ts'));
  } catch (err) {
    // An optional peer dependency of the library (it would triple the install size of path-only users).
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /@huggingface\/hub/.test(String(err))) {
      throw new UserError(`${idOrPath}: loading by hub id needs @huggingface/hub (npm install @huggingface/hub)`);
    }
    throw err;
  }
  const path = await resolveModelSource(idOrPath, opts);
  return load(path, opts);
}

/** Moved to src/export/ with the other export formats; re-exported so the public entry keeps it. */
export { toModel2Vec } from '../export/model2vec.ts';
