/**
 * Whether an output folder is the pipeline's to write. Stages replace files by name (config.json, README.md,
 * tokenizer.json...), so writing into someone else's folder (a project root reached through a bad --out-dir, a
 * downloaded hub model, a folder of another tool) would silently destroy their files. Ours is recognised from the
 * folder itself, here and nowhere else, in this order:
 *
 *   - missing or empty: ours;
 *   - holding OWNER_FILE: ours. The marker is written only when `--force` made a stage write into a folder that
 *     failed the next rule, so the next stage does not ask again; ordinary folders carry no extra file;
 *   - every entry a name of the layout the stage writes (weights folder: matrices, tokenizer files, extract.json,
 *     checkpoints/...; export: the model2vec / sentence-transformers / WordLlama files), and for the two names other
 *     tools use for their own files, proof they are ours: config.json has our saved `model_type`, README.md stands
 *     beside such a config.json. Names rather than a marker in every folder, so that folders written by any earlier
 *     version and inputs fed by hand (a matrix + tokenizer.json) keep working.
 *
 * Anything else is foreign: the stage stops, naming what it found, unless `--force`. An export folder of another
 * tool holding exactly export's file names (config.json, model.safetensors...) cannot be told from ours; replacing
 * it with the same layout is what `export --out` asks for.
 */
import { readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import {
  CACHE_DIR,
  CHECKPOINTS_DIR,
  CONCAT_FILE,
  EVAL_FILE,
  EXTRACT_FACTS_FILE,
  INSPECT_FILE,
  LOCK_FILE,
  METRICS_FILE,
  MODEL_CARD_FILE,
  MODEL_CONFIG_FILE,
  OWNER_FILE,
  REPORT_FILE,
  RUN_FILE,
  SOURCE_CONFIG_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
} from './file-names.ts';
import { isSavedModelConfig } from './saved-config.ts';
import { tempPathFor } from '../util/atomic.ts';
import { MODEL2VEC_WEIGHTS_FILE, MODULES_FILE } from '../export/model2vec.ts';
import { STATIC_EMBEDDING_DIR, ST_CONFIG_FILE } from '../export/sentence-transformers.ts';

/** `weights`: a weights folder (extract, concat, train, save, run); `export`: an export's --out (other layouts). */
export type OutputFolderKind = 'weights' | 'export';

/** Names only this pipeline writes into a weights folder (with the matrices and the bookkeeping below). */
const LAYOUT_NAMES = new Set([
  LOCK_FILE,
  OWNER_FILE,
  TOKENIZER_FILE,
  TOKENIZER_CONFIG_FILE,
  SOURCE_CONFIG_FILE,
  EXTRACT_FACTS_FILE,
  CONCAT_FILE,
  METRICS_FILE,
  CHECKPOINTS_DIR,
  CACHE_DIR,
  RUN_FILE,
  EVAL_FILE,
  REPORT_FILE,
  INSPECT_FILE,
]);

/** What `pipeline export` writes, in any of its formats (WordLlama's per-dim matrices match LAYOUT_PATTERN). */
const EXPORT_NAMES = new Set([MODEL_CONFIG_FILE, TOKENIZER_FILE, MODEL2VEC_WEIGHTS_FILE, MODULES_FILE, ST_CONFIG_FILE, STATIC_EMBEDDING_DIR, '1_Normalize']);

/** Matrices (sources, saved dims, a materialized concat), their resumable partials, temps and stale locks. */
const LAYOUT_PATTERN = /\.(safetensors|partial|partial\.json|tmp|stale)$/;

function savedConfigIn(dir: string): boolean {
  try {
    return isSavedModelConfig(JSON.parse(readFileSync(join(dir, MODEL_CONFIG_FILE), 'utf8')));
  } catch {
    return false;
  }
}

/** The entries of `dir` that make it foreign (empty when the folder is ours to write). */
function foreignEntries(dir: string, kind: OutputFolderKind): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Missing, or a file where the folder should be: nothing of anyone's is in it; creating it then fails with the
    // error the CLI names (src/util/errors.ts). Other refusals (EACCES...) are named the same way from here.
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  if (names.length === 0 || names.includes(OWNER_FILE)) return [];
  const ownConfig = kind === 'weights' && savedConfigIn(dir);
  const isOurs = (n: string): boolean => {
    if (LAYOUT_PATTERN.test(n) || n === LOCK_FILE) return true;
    if (kind === 'export') return EXPORT_NAMES.has(n);
    return LAYOUT_NAMES.has(n) || (ownConfig && (n === MODEL_CONFIG_FILE || n === MODEL_CARD_FILE));
  };
  return names.filter((n) => !isOurs(n)).sort();
}

/**
 * Make sure `dir` is ours to write (see above), or `force` says to write anyway (then it is marked as ours). `flag`
 * is the option that chose the folder, for the message.
 */
export function claimOutputFolder(dir: string, kind: OutputFolderKind, force: boolean, flag = '--out-dir'): void {
  const foreign = foreignEntries(dir, kind);
  if (foreign.length === 0) return;
  if (!force) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, … (${foreign.length} in all)` : '');
    throw new UserError(
      `${dir} holds files the pipeline did not write (${shown}); choose a new or empty folder (${flag}), or pass --force to write into it (files with the pipeline's names are replaced)`,
    );
  }
  const marker = join(dir, OWNER_FILE);
  const tmp = tempPathFor(marker);
  writeFileSync(tmp, JSON.stringify({ written_by: 'wordllama-ts', forced_at: new Date().toISOString(), foreign_then: foreign }) + '\n');
  renameSync(tmp, marker);
}
