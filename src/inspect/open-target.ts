/**
 * What `pipeline inspect` looks at: a config's input matrix (the extracted source or the concatenation) or a
 * model's files. Model specs go through a resolver function, local paths by default, so a hub-id resolver
 * can be passed in without changing the rest.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig, outputDirFor } from '../config/load.ts';
import { openInputMatrix } from '../concat/open-input.ts';
import { resolveModelFiles, type ResolvedModelFiles } from '../embed/node.ts';
import { STATIC_MODEL_TENSORS } from '../layout/tensor-names.ts';
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
