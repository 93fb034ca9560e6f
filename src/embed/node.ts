/**
 * Node side of the embedding library: load models from a file or folder path, export to model2vec.
 * Everything else is re-exported from the browser-safe entry.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { loadModelFromBuffers, type LoadOptions } from './load.ts';
import type { StaticModel } from './model.ts';
import { MODEL_CONFIG_FILE } from '../layout/file-names.ts';
import { isSavedModelConfig, pickSavedFile, readSavedModelConfig } from '../layout/saved-config.ts';

export * from './index.ts';

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
      return resolveModelFiles(join(dir, '0_StaticEmbedding'), opts);
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
        file = (widths.find((w) => opts.dim !== undefined && w.dim >= opts.dim) ?? widths[widths.length - 1]!).file;
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

/** Files named `<prefix>_<dim>.safetensors` with one prefix, ascending by dim; undefined for any other set. */
function wordllamaWidths(files: string[]): { file: string; dim: number }[] | undefined {
  const parsed = files.map((file) => ({ file, m: /^(.+)_(\d+)\.safetensors$/.exec(file) }));
  if (parsed.length < 2 || parsed.some((p) => !p.m || p.m[1] !== parsed[0]!.m![1])) return undefined;
  return parsed.map((p) => ({ file: p.file, dim: Number(p.m![2]) })).sort((a, b) => a.dim - b.dim);
}

/** Load any model `loadModelFromBuffers` understands from a path (file or folder). */
export function load(pathOrDir: string, opts: LoadOptions = {}): StaticModel {
  const files = resolveModelFiles(pathOrDir, opts);
  const size = statSync(files.safetensors).size;
  if (size > MAX_MODEL_BYTES) {
    throw new UserError(`${files.safetensors}: ${size} bytes is too large to load whole; save a projected model with \`pipeline save\` first`);
  }
  let configJson = files.config ? readJson(files.config) : undefined;
  if (!configJson && files.sentenceTransformersConfig) {
    configJson = { model_type: 'sentence-transformers', ...readJson(files.sentenceTransformersConfig) };
  }
  const bytes = readFileSync(files.safetensors);
  return loadModelFromBuffers(
    {
      safetensors: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      tokenizerJson: readFileSync(files.tokenizer, 'utf8'),
      configJson,
      tokenizerConfig: files.tokenizerConfig ? readJson(files.tokenizerConfig) : undefined,
    },
    { ...opts, source: opts.source ?? files.safetensors },
  );
}

/** Moved to src/export/ with the other export formats; re-exported so the public entry keeps it. */
export { toModel2Vec } from '../export/model2vec.ts';
