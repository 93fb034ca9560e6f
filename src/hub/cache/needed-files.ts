/**
 * Which files of a model repo a load needs, from the repo's file list and its config.json: the config and
 * tokenizer files that exist, plus the one weights file the folder loader (src/embed/node.ts
 * resolveModelFiles) would pick for the requested dim. Downloading only these keeps a 20-width model or an
 * ONNX/PyTorch sibling from being fetched.
 */
import { isSavedModelConfig, pickSavedFile, readSavedModelConfig } from '../../layout/saved-config.ts';
import { MODEL_CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../../layout/file-names.ts';
import { pickWordllamaWidth, wordllamaWidths } from '../../embed/wordllama-files.ts';

/** Small files read beside the weights when a repo has them (sentence-transformers keeps two of its own). */
const SIDE_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, 'modules.json', 'config_sentence_transformers.json'];
/** sentence-transformers' StaticEmbedding module folder (modules.json path "0_StaticEmbedding"). */
const ST_STATIC_DIR = '0_StaticEmbedding';

export interface NeededFiles {
  /** Repo-relative paths, config.json first. */
  files: string[];
  /** The weights file among them. */
  weights?: string;
  /** What is missing for a loadable model (a file name or a description), when something is. */
  missing?: string;
  /** For saved models: the file the dim asks for when every listed width were present. */
  preferred?: string;
}

/**
 * `config` is the parsed config.json when `present` has one. `present` is the repo's file list (or a cache
 * snapshot's). For our saved models the weights file comes from config.json's files map.
 */
export function neededFiles(present: string[], config: unknown, dim: number | undefined, where: string): NeededFiles {
  const has = new Set(present);
  const files = [MODEL_CONFIG_FILE, ...SIDE_FILES].filter((f) => has.has(f));
  let weights: string | undefined;
  let preferred: string | undefined;
  let missing: string | undefined;
  if (config !== undefined && isSavedModelConfig(config)) {
    const saved = readSavedModelConfig(config, where);
    preferred = pickSavedFile(saved, dim)?.file;
    weights = pickSavedFile(saved, dim, (f) => has.has(f))?.file;
    if (!weights) missing = preferred ?? Object.values(saved.files).join(' or ');
  } else if (has.has('model.safetensors')) {
    weights = 'model.safetensors';
  } else {
    const top = present.filter((f) => !f.includes('/') && f.endsWith('.safetensors') && !f.startsWith('optimizer'));
    const widths = wordllamaWidths(top);
    if (widths) weights = pickWordllamaWidth(widths, dim);
    else if (top.length === 1) weights = top[0];
    else if (top.length === 0 && has.has(`${ST_STATIC_DIR}/model.safetensors`)) {
      weights = `${ST_STATIC_DIR}/model.safetensors`;
      for (const f of SIDE_FILES.map((s) => `${ST_STATIC_DIR}/${s}`)) if (has.has(f)) files.push(f);
      if (!has.has(`${ST_STATIC_DIR}/${TOKENIZER_FILE}`)) missing ??= `${ST_STATIC_DIR}/${TOKENIZER_FILE}`;
    } else {
      missing = top.length === 0 ? 'a .safetensors weights file' : `one weights file (found ${top.join(', ')})`;
    }
  }
  if (weights) files.push(weights);
  if (weights && !weights.includes('/') && !has.has(TOKENIZER_FILE)) missing ??= TOKENIZER_FILE;
  return { files, weights, missing, preferred };
}
