/**
 * Names of the files in a weights folder (weights/<config>/) and in a saved model. Browser-safe: the library's
 * loader uses them too; `weights-dir.ts` joins them into paths on the Node side.
 */

/** The tokenizer every stage and the saved model share. */
export const TOKENIZER_FILE = 'tokenizer.json';
/** The tokenizer's settings (special tokens...), when the source has one. */
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
/**
 * The source model's config.json, renamed: config.json in a weights folder is the saved model's own config
 * (written by `save`), and re-running extract must never overwrite it.
 */
export const SOURCE_CONFIG_FILE = 'source_config.json';
/** extract's facts per source (bytes downloaded, provenance). */
export const EXTRACT_FACTS_FILE = 'extract.json';
/** concat's descriptor of the concatenated input (sources, scales, file stamps). */
export const CONCAT_FILE = 'concat.json';
/** Training log: one JSON object per line. */
export const METRICS_FILE = 'metrics.jsonl';
export const CHECKPOINTS_DIR = 'checkpoints';
/** A checkpoint folder's parameters (beside optimizer.safetensors and state.json in checkpoints/last). */
export const CHECKPOINT_MODEL_FILE = 'model.safetensors';
/** The saved model's config (its type and reader: saved-config.ts). */
export const MODEL_CONFIG_FILE = 'config.json';
/** The saved model's model card. */
export const MODEL_CARD_FILE = 'README.md';
/** What `pipeline run`'s train and save stages were computed from. */
export const RUN_FILE = 'run.json';
export const EVAL_FILE = 'eval.json';
export const REPORT_FILE = 'report.html';
/** What `pipeline inspect` found in a matrix. */
export const INSPECT_FILE = 'inspect.json';
/** The same, as a page (linked from report.html). */
export const INSPECT_HTML_FILE = 'inspect.html';
/** Token caches, downloaded hub datasets, teacher vectors. */
export const CACHE_DIR = 'cache';

/** An extracted source matrix: `<source>.safetensors`. */
export const sourceFileName = (sourceName: string) => `${sourceName}.safetensors`;

/** A saved model of one Matryoshka width: `<config>_<dim>.safetensors`. */
export const savedFileName = (configName: string, dim: number) => `${configName}_${dim}.safetensors`;

/** The dim of a saved model's file name (`savedFileName` read back); undefined for other files. */
export function savedFileDim(configName: string, fileName: string): number | undefined {
  const prefix = `${configName}_`;
  if (!fileName.startsWith(prefix) || !fileName.endsWith('.safetensors')) return undefined;
  const digits = fileName.slice(prefix.length, -'.safetensors'.length);
  return /^\d+$/.test(digits) ? Number(digits) : undefined;
}
/** Held by the stage writing a weights folder (src/util/lock.ts), so two runs never write one folder at once. */
export const LOCK_FILE = '.pipeline.lock';
/**
 * Left in an output folder that `--force` made a stage write into although it held files the pipeline did not
 * write: from then on the folder is the pipeline's (ownership.ts).
 */
export const OWNER_FILE = '.wordllama-ts-output';
