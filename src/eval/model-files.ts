/**
 * Finding the pieces of a model folder on disk: its embedding .safetensors (the widest `<name>_<dim>` file
 * when there are several), tokenizer.json, config.json, and the matrix shape from a safetensors header
 * (read without loading the matrix). Works for our saved models, WordLlama and model2vec folders.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig, outputDirFor } from '../config/load.ts';
import { resolveModelFiles } from '../embed/node.ts';
import { SafetensorsFile } from '../safetensors/file.ts';
import { UserError } from '../util/errors.ts';
import { STATIC_MODEL_TENSORS } from '../layout/tensor-names.ts';
import { modelConfigPath } from '../layout/weights-dir.ts';
import { isSavedModelConfig, readSavedModelConfig } from '../layout/saved-config.ts';

export interface ModelFiles {
  /** Folder holding the model (eval.json and report.html go here). */
  dir: string;
  /** The embedding matrix file to read. */
  safetensors: string;
  tokenizer: string;
  config: Record<string, unknown> | undefined;
}

export function readJsonIfExists(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * The model's files from a folder or a .safetensors path, resolved exactly as the embedding library's `load`
 * resolves them (so eval, report and users all read the same file). eval.json/report.html go into the folder
 * given (or the file's folder).
 */
export function findModelFiles(arg: string): ModelFiles {
  const path = resolveModelPath(arg);
  const resolved = resolveModelFiles(path);
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  return {
    dir,
    safetensors: resolved.safetensors,
    tokenizer: resolved.tokenizer,
    config: resolved.config ? readJsonIfExists(resolved.config) : readJsonIfExists(modelConfigPath(dirname(resolved.safetensors))),
  };
}

/**
 * `--model` as given, or — when no such path exists and it looks like a config name (`use_lite`) — that
 * config's output folder weights/<name>/.
 */
export function resolveModelPath(arg: string): string {
  if (existsSync(arg) || !/^[\w.-]+$/.test(arg)) return arg;
  let dir: string;
  try {
    dir = outputDirFor(loadConfig(arg));
  } catch {
    return arg; // not a config either: let the loader report the missing path
  }
  if (!existsSync(dir))
    throw new UserError(`${arg}: no such file or folder, and the config's output ${dir} does not exist yet (run pipeline run --config ${arg})`);
  return dir;
}

/** Name and [rows, dim] of the embedding matrix in a safetensors file (header only). */
export async function embeddingTensorInfo(path: string): Promise<{ name: string; rows: number; dim: number }> {
  const file = await SafetensorsFile.open(path);
  try {
    const twoD = file.tensorNames.filter((n) => file.tensor(n).shape.length === 2);
    // Preferred names, in order, when a file holds several.
    const name = STATIC_MODEL_TENSORS.find((n) => twoD.includes(n)) ?? (twoD.length === 1 ? twoD[0] : undefined);
    if (!name) throw new UserError(`${path}: no embedding matrix (2-D tensors: ${twoD.join(', ') || 'none'})`);
    const shape = file.tensor(name).shape;
    return { name, rows: shape[0]!, dim: shape[1]! };
  } finally {
    await file.close();
  }
}

/** Matryoshka widths a model declares in config.json (a saved model's `dims`, or any format's `dims`), widest first. */
export function configDims(config: Record<string, unknown> | undefined, where = 'config.json'): number[] | undefined {
  const dims = isSavedModelConfig(config) ? readSavedModelConfig(config, where).dims : config?.dims;
  if (Array.isArray(dims) && dims.length > 0 && dims.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    return [...(dims as number[])].sort((a, b) => b - a);
  }
  return undefined;
}
