/**
 * What `pipeline inspect` looks at: a config's input matrix (the extracted source or the concatenation) or a
 * model's files. Model specs go through a resolver function, local paths by default, so a hub-id resolver
 * can be passed in without changing the rest.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig, outputDirFor } from '../config/load.ts';
import { openInputMatrix } from '../concat/open-input.ts';
import { resolveModelFiles, type ResolvedModelFiles } from '../embed/node.ts';
import { isSavedModelConfig } from '../layout/saved-config.ts';
import { STATIC_MODEL_TENSORS } from '../layout/tensor-names.ts';
import { modelConfigPath } from '../layout/weights-dir.ts';
import { errorMessage } from '../util/errors.ts';
import { inspectPath, tokenizerPath } from '../layout/weights-dir.ts';
import { openSafetensorsMatrix } from '../matrix/row-matrix.ts';
import { SafetensorsFile } from '../safetensors/file.ts';
import { loadTokenizerFile } from '../tokenize/node.ts';
import type { InspectTarget } from './inspect.ts';

/** Turns a `--model` value into local files. */
export type ModelResolver = (spec: string) => ResolvedModelFiles | Promise<ResolvedModelFiles>;

export interface OpenedTarget extends InspectTarget {
  /** Where inspect.json goes by default. */
  defaultOut: string;
  /** Matryoshka dims to report variance for. */
  dims: number[];
}

/** Halvings of `dim` down to 32 (the dims a user is likely to save when the config does not say). */
function defaultDims(dim: number): number[] {
  const dims = [dim];
  for (let d = Math.floor(dim / 2); d >= 32; d = Math.floor(d / 2)) dims.push(d);
  return dims;
}

export async function openConfigTarget(nameOrPath: string, outDir?: string): Promise<OpenedTarget> {
  const config = loadConfig(nameOrPath);
  const dir = outputDirFor(config, outDir);
  const matrix = await openInputMatrix(config, dir);
  const tok = tokenizerPath(dir);
  return {
    matrix,
    tokenizer: existsSync(tok) ? loadTokenizerFile(tok) : undefined,
    source: `config ${config.name}`,
    defaultOut: inspectPath(dir),
    dims: [...new Set([config.dim, ...config.matryoshka.dims])],
  };
}

export async function openModelTarget(spec: string, resolve: ModelResolver = (s) => resolveModelFiles(s)): Promise<OpenedTarget> {
  const files = await resolve(spec);
  const header = await SafetensorsFile.open(files.safetensors);
  const names = header.tensorNames;
  await header.close();
  const tensor = STATIC_MODEL_TENSORS.find((t) => names.includes(t));
  const matrix = await openSafetensorsMatrix(files.safetensors, tensor);
  return {
    matrix,
    tokenizer: loadTokenizerFile(files.tokenizer),
    source: spec,
    defaultOut: inspectPath(dirname(files.safetensors)),
    dims: defaultDims(matrix.dim),
  };
}

/**
 * The source matrix a trained model was built from, to show beside it: a `pipeline save` folder keeps the
 * config's extracted input in the same weights/<config>/ folder, and its config.json names the config. Returns
 * the reason instead when there is none to open (not a saved model, no such config, input not extracted).
 */
export async function openSourceOfModel(spec: string, resolve: ModelResolver = (s) => resolveModelFiles(s)): Promise<OpenedTarget | string> {
  const files = await resolve(spec);
  const dir = dirname(files.safetensors);
  const cfgPath = modelConfigPath(dir);
  if (!existsSync(cfgPath)) return `${dir} has no config.json`;
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (err) {
    return `${cfgPath}: ${errorMessage(err)}`;
  }
  if (!isSavedModelConfig(saved)) return `${cfgPath} is not a pipeline save config`;
  const name = (saved as { name?: unknown }).name;
  if (typeof name !== 'string') return `${cfgPath} names no config`;
  try {
    const config = loadConfig(name);
    const matrix = await openInputMatrix(config, dir);
    return {
      matrix,
      tokenizer: existsSync(tokenizerPath(dir)) ? loadTokenizerFile(tokenizerPath(dir)) : undefined,
      source: `config ${config.name} (source matrix)`,
      defaultOut: inspectPath(dir),
      dims: [...new Set([config.dim, ...config.matryoshka.dims])],
    };
  } catch (err) {
    return `source matrix of config ${name}: ${errorMessage(err)}`;
  }
}
