/**
 * Finding the pieces of a model folder on disk: its embedding .safetensors (the widest `<name>_<dim>` file
 * when there are several), tokenizer.json, config.json, and the matrix shape from a safetensors header
 * (read without loading the matrix). Works for our saved models, WordLlama and model2vec folders.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SafetensorsFile } from '../safetensors/file.ts';
import { UserError } from '../util/errors.ts';

export interface ModelFiles {
  /** Folder holding the model (eval.json and report.html go here). */
  dir: string;
  /** The embedding matrix file to read. */
  safetensors: string;
  tokenizer: string | undefined;
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

/** `<anything>_<digits>.safetensors` → digits, else undefined. */
function widthFromName(file: string): number | undefined {
  const m = /_(\d+)\.safetensors$/.exec(file);
  return m ? Number(m[1]) : undefined;
}

/** The model's files from a folder or a .safetensors path. */
export function findModelFiles(path: string): ModelFiles {
  if (!existsSync(path)) throw new UserError(`${path}: model not found (pass a saved model folder or its .safetensors file)`);
  let dir: string;
  let safetensors: string;
  if (statSync(path).isDirectory()) {
    dir = path;
    const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
    if (files.length === 0) throw new UserError(`${dir}: no .safetensors file in this folder; is it a saved model (pipeline save)?`);
    // Prefer `<name>_<dim>.safetensors` (widest), then model.safetensors, then the only file.
    const sized = files.filter((f) => widthFromName(f) !== undefined).sort((a, b) => widthFromName(b)! - widthFromName(a)!);
    const pick = sized[0] ?? (files.includes('model.safetensors') ? 'model.safetensors' : files.length === 1 ? files[0] : undefined);
    if (!pick) throw new UserError(`${dir}: several .safetensors files (${files.join(', ')}); pass the one to evaluate`);
    safetensors = join(dir, pick);
  } else {
    dir = dirname(path);
    safetensors = path;
    if (!basename(path).endsWith('.safetensors')) throw new UserError(`${path}: expected a .safetensors file or a model folder`);
  }
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? join(dir, 'tokenizer.json') : undefined;
  return { dir, safetensors, tokenizer, config: readJsonIfExists(join(dir, 'config.json')) };
}

/** Preferred tensor names, in order, when a file holds several. */
const EMBEDDING_TENSORS = ['embedding.weight', 'embeddings', 'embedding', 'weight', 'embed_tokens.weight'];

/** Name and [rows, dim] of the embedding matrix in a safetensors file (header only). */
export async function embeddingTensorInfo(path: string): Promise<{ name: string; rows: number; dim: number }> {
  const file = await SafetensorsFile.open(path);
  try {
    const twoD = file.tensorNames.filter((n) => file.tensor(n).shape.length === 2);
    const name = EMBEDDING_TENSORS.find((n) => twoD.includes(n)) ?? (twoD.length === 1 ? twoD[0] : undefined);
    if (!name) throw new UserError(`${path}: no embedding matrix (2-D tensors: ${twoD.join(', ') || 'none'})`);
    const shape = file.tensor(name).shape;
    return { name, rows: shape[0]!, dim: shape[1]! };
  } finally {
    await file.close();
  }
}

/** Matryoshka widths a model declares in config.json (`dims`, or `dim`), else undefined. */
export function configDims(config: Record<string, unknown> | undefined): number[] | undefined {
  const dims = config?.dims;
  if (Array.isArray(dims) && dims.length > 0 && dims.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    return [...(dims as number[])].sort((a, b) => b - a);
  }
  return undefined;
}
