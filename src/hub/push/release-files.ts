/**
 * The files a saved model is published with: the per-dim weights config.json's files map lists, tokenizer.json,
 * config.json and the model card. A weights folder also holds checkpoints, caches, metrics and the extracted
 * source matrix (gated weights of the base model): none of them is ever picked, because only these names are.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL_CARD_FILE, MODEL_CONFIG_FILE, TOKENIZER_FILE } from '../../layout/file-names.ts';
import { readSavedModelConfig, type SavedModelConfig } from '../../layout/saved-config.ts';
import { UserError } from '../../util/errors.ts';

export interface ReleaseFiles {
  config: SavedModelConfig;
  /** Paths relative to the model folder, weights first (ascending dim). */
  files: string[];
}

export function releaseFiles(dir: string): ReleaseFiles {
  const cfgPath = join(dir, MODEL_CONFIG_FILE);
  if (!existsSync(cfgPath)) throw new UserError(`${dir}: no ${MODEL_CONFIG_FILE}; push publishes a model written by pipeline save (run it first)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (err) {
    throw new UserError(`${cfgPath}: not valid JSON (${(err as Error).message})`);
  }
  const config = readSavedModelConfig(json, cfgPath);
  const weights = [...config.dims].sort((a, b) => a - b).map((d) => config.files[String(d)]!);
  const files = [...weights, TOKENIZER_FILE, MODEL_CONFIG_FILE, MODEL_CARD_FILE];
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw new UserError(`${dir}: ${missing.join(', ')} missing (config.json lists the weights; re-run pipeline save)`);
  return { config, files };
}
