/**
 * The saved model's `config.json`: its type, the builder `save` writes it from, and the one reader the library,
 * eval, report and the hub loader use. The `files` map (dim → file name) is the only way a reader finds a model
 * file of a given width; nothing matches file names. Browser-safe.
 */
import { UserError } from '../util/errors.ts';
import { savedFileName } from './file-names.ts';

/** `model_type` of a config.json written by `pipeline save`. */
export const SAVED_MODEL_TYPE = 'wordllama-ts';

/** Storage type of the saved rows. */
export type SavedDtype = 'f32' | 'f16' | 'int8';

export interface SavedModelConfig {
  model_type: typeof SAVED_MODEL_TYPE;
  name: string;
  description?: string;
  /** Matryoshka widths saved (in the order save was given them). */
  dims: number[];
  /** Set when only one width is saved (readers that expect a single `dim`). */
  dim?: number;
  /** Width (as a string key) → file name beside config.json. */
  files: Record<string, string>;
  /** Rows of each file (always written by save; older or hand-made configs may lack it). */
  n_vocab?: number;
  pad_token?: string;
  pad_token_id?: number;
  /** Trained with binarized losses: sign codes compared by Hamming similarity are meaningful. */
  binarized: boolean;
  binarize?: string;
  normalize: boolean;
  dtype?: SavedDtype;
  /**
   * dtype int8 only: width (as a string key, like `files`) → the step of that file's int8 codes, value ≈ code ×
   * step. One step per matrix (its largest |value| / 127, model2vec's int8 rule); the loader multiplies it back,
   * so embeddings keep their lengths, not only their directions.
   */
  scales?: Record<string, number>;
  whiten?: number | boolean;
  whitened_dims?: number[];
  token_delta: boolean;
  /** Token truncation (0 = none). */
  max_length: number;
  add_special_tokens: boolean;
  /** Where the model came from (config name, sources, checkpoint, training settings). */
  source?: Record<string, unknown>;
  /** Scores written by `pipeline eval` at save time. */
  eval?: unknown[];
}

export type SavedModelFields = Omit<SavedModelConfig, 'model_type' | 'dim' | 'files'>;

/** The config.json `save` writes: `dim` when one width, `files` from the file-name rule. */
export function buildSavedModelConfig(fields: SavedModelFields): SavedModelConfig {
  const dims = fields.dims;
  return {
    model_type: SAVED_MODEL_TYPE,
    ...fields,
    dims,
    ...(dims.length === 1 ? { dim: dims[0] } : {}),
    files: Object.fromEntries(dims.map((d) => [String(d), savedFileName(fields.name, d)])),
  };
}

/** True when a parsed config.json was written by `pipeline save` (its other keys are then checked by the reader). */
export function isSavedModelConfig(json: unknown): boolean {
  return typeof json === 'object' && json !== null && (json as { model_type?: unknown }).model_type === SAVED_MODEL_TYPE;
}

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * Check a parsed config.json of a saved model and return it typed. `where` names the file in messages.
 * Keys readers rely on are required with their types; unknown keys are kept (newer writers may add some).
 */
export function readSavedModelConfig(json: unknown, where: string): SavedModelConfig {
  if (!isSavedModelConfig(json)) throw new UserError(`${where}: model_type is not "${SAVED_MODEL_TYPE}"; not a config.json written by pipeline save`);
  const c = json as Record<string, unknown>;
  const bad = (key: string, want: string): never => {
    throw new UserError(`${where}: "${key}" must be ${want} (got ${JSON.stringify(c[key])}); re-run pipeline save to rewrite it`);
  };
  if (typeof c.name !== 'string' || c.name === '') bad('name', 'a non-empty string');
  if (!Array.isArray(c.dims) || c.dims.length === 0 || !c.dims.every(positiveInt)) bad('dims', 'a non-empty array of positive integers');
  if (c.n_vocab !== undefined && !positiveInt(c.n_vocab)) bad('n_vocab', 'a positive integer');
  for (const key of ['pad_token', 'description', 'binarize'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'string') bad(key, 'a string');
  }
  if (c.pad_token_id !== undefined && !(Number.isInteger(c.pad_token_id) && (c.pad_token_id as number) >= 0)) bad('pad_token_id', 'a token id');
  if (c.max_length !== undefined && !(Number.isInteger(c.max_length) && (c.max_length as number) >= 0)) bad('max_length', 'an integer ≥ 0');
  for (const key of ['binarized', 'normalize', 'token_delta', 'add_special_tokens'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'boolean') bad(key, 'true or false');
  }
  if (c.dtype !== undefined && !['f32', 'f16', 'int8'].includes(c.dtype as string)) bad('dtype', '"f32", "f16" or "int8"');
  const dims = c.dims as number[];
  const name = c.name as string;
  if (c.dtype === 'int8') {
    const scales = c.scales as Record<string, unknown> | undefined;
    const ok = typeof scales === 'object' && scales !== null && dims.every((d) => typeof scales[String(d)] === 'number' && (scales[String(d)] as number) > 0);
    if (!ok) bad('scales', 'an object with the positive int8 step of every dim in "dims" (dtype is "int8")');
  }
  // Configs written before the files map existed: the file-name rule gives the same names.
  const files = c.files ?? Object.fromEntries(dims.map((d) => [String(d), savedFileName(name, d)]));
  if (typeof files !== 'object' || files === null || Array.isArray(files)) bad('files', 'an object mapping each dim to a file name');
  for (const d of dims) {
    const f = (files as Record<string, unknown>)[String(d)];
    if (typeof f !== 'string' || f === '' || f.includes('/') || f.includes('\\') || f.startsWith('.')) {
      bad('files', `an object with a plain file name for every dim in "dims" (missing or unsafe for ${d})`);
    }
  }
  return {
    ...(c as object),
    model_type: SAVED_MODEL_TYPE,
    name,
    dims,
    files: files as Record<string, string>,
    n_vocab: c.n_vocab as number | undefined,
    binarized: (c.binarized as boolean | undefined) ?? false,
    normalize: (c.normalize as boolean | undefined) ?? true,
    token_delta: (c.token_delta as boolean | undefined) ?? false,
    max_length: (c.max_length as number | undefined) ?? 0,
    add_special_tokens: (c.add_special_tokens as boolean | undefined) ?? false,
  } as SavedModelConfig;
}

/** The int8 step of the file of width `dim`, when the config stores int8 rows (undefined otherwise). */
export function savedInt8Step(config: SavedModelConfig, dim: number, where: string): number | undefined {
  if (config.dtype !== 'int8') return undefined;
  const step = config.scales?.[String(dim)];
  if (step === undefined) throw new UserError(`${where}: dtype is "int8" but "scales" has no step for width ${dim}; re-run pipeline save`);
  return step;
}

/**
 * The file of the width a caller asks for: that dim, else the smallest saved dim above it (its first `dim`
 * columns are the Matryoshka prefix), else the widest. No dim asked: the widest. `present` limits the choice
 * to files that exist (a folder or a hub repo may hold only some of the widths config.json lists); undefined
 * when none does.
 */
export function pickSavedFile(
  config: SavedModelConfig,
  dim?: number,
  present: (file: string) => boolean = () => true,
): { dim: number; file: string } | undefined {
  const dims = [...config.dims].sort((a, b) => a - b).filter((d) => present(config.files[String(d)]!));
  if (dims.length === 0) return undefined;
  const widest = dims[dims.length - 1]!;
  const chosen = dim === undefined ? widest : (dims.find((d) => d >= dim) ?? widest);
  return { dim: chosen, file: config.files[String(chosen)]! };
}
