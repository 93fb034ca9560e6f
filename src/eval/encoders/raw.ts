/**
 * `--raw CONFIG_OR_EXTRACTED_DIR`: the untrained baseline, mean of the raw rows `pipeline extract` wrote
 * (weights/<config>/<source>.safetensors, tensor `embedding`) with the tokenizer.json beside them. A config
 * name/path is resolved to its output folder. Several sources are evaluated one encoder each (`raw:<source>`),
 * plus their concatenation as training sees it (`raw:concat`, through concat.json and its scales) when
 * `pipeline concat` has run.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openConcatMatrix } from '../../concat/open-input.ts';
import { loadConfig, outputDirFor } from '../../config/load.ts';
import { EXTRACTED_TENSOR } from '../../layout/tensor-names.ts';
import { openSafetensorsMatrix } from '../../matrix/row-matrix.ts';
import { SafetensorsFile } from '../../safetensors/file.ts';
import { loadTokenizerFile } from '../../tokenize/node.ts';
import { UserError } from '../../util/errors.ts';
import type { SentenceEncoder } from '../encoder.ts';
import { rowMeanEncoder } from './row-mean.ts';
import { concatPath, tokenizerPath } from '../../layout/weights-dir.ts';

/** Extracted source files in a folder: 2-D tensor named `embedding` (the extract contract). */
async function extractedSources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.safetensors'))
    .sort()) {
    const file = await SafetensorsFile.open(join(dir, f));
    try {
      if (file.tensorNames.includes(EXTRACTED_TENSOR) && file.tensor(EXTRACTED_TENSOR).shape.length === 2) found.push(join(dir, f));
    } finally {
      await file.close();
    }
  }
  return found;
}

export async function openRawEncoders(arg: string): Promise<SentenceEncoder[]> {
  let files: string[];
  let dir: string;
  if (existsSync(arg) && statSync(arg).isFile() && arg.endsWith('.safetensors')) {
    dir = dirname(arg);
    files = [arg];
  } else {
    dir = existsSync(arg) && statSync(arg).isDirectory() ? arg : outputDirFor(loadConfig(arg));
    if (!existsSync(dir)) throw new UserError(`--raw ${arg}: ${dir} does not exist; run pipeline extract --config ${arg} first`);
    files = await extractedSources(dir);
    if (files.length === 0) throw new UserError(`--raw ${arg}: no extracted source (a .safetensors with an "embedding" tensor) in ${dir}`);
  }
  const tokPath = tokenizerPath(dir);
  if (!existsSync(tokPath)) throw new UserError(`--raw ${arg}: no tokenizer.json in ${dir}`);
  const tokenizer = loadTokenizerFile(tokPath);
  const encoders: SentenceEncoder[] = [];
  for (const f of files) {
    const matrix = await openSafetensorsMatrix(f, (await hasTensor(f, EXTRACTED_TENSOR)) ? EXTRACTED_TENSOR : undefined);
    const name = files.length === 1 ? 'raw' : `raw:${basename(f, '.safetensors')}`;
    encoders.push(rowMeanEncoder({ name, matrix, tokenizer, dims: [matrix.dim] }));
  }
  const concat = concatPath(dir);
  if (files.length > 1 && existsSync(concat)) {
    const matrix = await openConcatMatrix(concat);
    encoders.push(rowMeanEncoder({ name: 'raw:concat', matrix, tokenizer, dims: [matrix.dim] }));
  }
  return encoders;
}

async function hasTensor(path: string, name: string): Promise<boolean> {
  const file = await SafetensorsFile.open(path);
  try {
    return file.tensorNames.includes(name);
  } finally {
    await file.close();
  }
}
