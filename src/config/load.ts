/**
 * Load `config/<name>.toml` (or a path) into a validated `ModelConfig`. `[model]` describes one source; a
 * config with several `[[sources]]` (same tokenizer) keeps shared facts (`n_vocab`, `pad_token`) in `[model]`.
 * `pad_token` may be left out when every source is a GGUF file: its default then comes from the file's metadata.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { UserError, errorMessage } from '../util/errors.ts';
import { MODEL_KEYS, SOURCE_KEYS, TOKENIZER_KEYS } from './model-tables.ts';
import { CONFIG_DIR, folderNameProblem, resolveConfigRelativePath } from './paths.ts';
import { ConfigError, validateTable, type TableOf } from './schema.ts';
import { MATRYOSHKA_KEYS, SAVE_KEYS, TRAINING_KEYS, resolveMatryoshka } from './training-table.ts';
import type { ModelConfig, SourceConfig } from './types.ts';

export { CONFIG_DIR } from './paths.ts';

/** Where a source's matrix comes from: exactly one per source. */
const LOCATION_KEYS = ['hf_model_id', 'path', 'tfjs_model', 'gguf'] as const;

const TOP_KEYS = ['name', 'model', 'sources', 'tokenizer', 'training', 'matryoshka', 'save'];

/** `gemma2_2B` → config/gemma2_2B.toml; anything with a slash or .toml is a path. */
export function resolveConfigPath(nameOrPath: string, cwd = process.cwd()): string {
  const looksLikePath = nameOrPath.endsWith('.toml') || nameOrPath.includes('/') || nameOrPath.includes('\\');
  const candidate = looksLikePath ? resolve(cwd, nameOrPath) : join(CONFIG_DIR, `${nameOrPath}.toml`);
  if (!existsSync(candidate)) {
    throw new UserError(`config "${nameOrPath}" not found (looked for ${candidate}); use a name from ${CONFIG_DIR} or a path to a .toml file`);
  }
  return candidate;
}

export function loadConfig(nameOrPath: string, cwd = process.cwd()): ModelConfig {
  const file = resolveConfigPath(nameOrPath, cwd);
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(file, '', `not valid TOML: ${errorMessage(err).split('\n')[0]}`);
  }
  return parseConfig(raw, file);
}

/** A hint for keys that belong elsewhere, so the message says where to move them. */
const TOP_KEY_HINTS: Record<string, string> = {
  description: 'put description in [model]',
  eval: 'nothing reads an [eval] table; evaluation options are flags of pipeline eval',
};

/** Validate an already-parsed TOML document: every table, before any stage runs (exported for tests). */
export function parseConfig(raw: Record<string, unknown>, file: string): ModelConfig {
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.includes(key)) {
      const hint = TOP_KEY_HINTS[key] ? `; ${TOP_KEY_HINTS[key]}` : '';
      throw new ConfigError(file, key, `unknown top-level key (known: ${TOP_KEYS.join(', ')})${hint}`);
    }
  }
  if (raw.name !== undefined && typeof raw.name !== 'string') throw new ConfigError(file, 'name', 'expected a string');
  const name = typeof raw.name === 'string' ? raw.name : basename(file, extname(file));
  const nameProblem = folderNameProblem(name);
  if (nameProblem) throw new ConfigError(file, 'name', nameProblem);
  if (raw.model === undefined) throw new ConfigError(file, '[model]', 'missing (every config needs a [model] table)');
  const model = validateTable(file, '[model]', raw.model, MODEL_KEYS);

  let sourceTables: TableOf<typeof SOURCE_KEYS>[];
  let whereOf: (i: number) => string;
  if (raw.sources !== undefined) {
    if (!Array.isArray(raw.sources) || raw.sources.length === 0) {
      throw new ConfigError(file, '[[sources]]', 'expected one or more [[sources]] tables');
    }
    sourceTables = raw.sources.map((s, i) => validateTable(file, `[[sources]] #${i + 1}`, s, SOURCE_KEYS));
    whereOf = (i) => `[[sources]] #${i + 1}`;
    for (const key of [...LOCATION_KEYS, 'gguf_file', 'tokenizer_repo'] as const) {
      if (model[key] !== undefined) {
        throw new ConfigError(file, `[model] ${key}`, 'set per source in [[sources]] when a config has several sources');
      }
    }
  } else {
    sourceTables = [model];
    whereOf = () => '[model]';
  }

  const { n_vocab, pad_token } = model;
  if (n_vocab === undefined) throw new ConfigError(file, '[model] n_vocab', 'missing (the tokenizer vocabulary size)');
  // A GGUF file names its padding (else EOS) token in its metadata: extract resolves and records that default.
  const allGguf = sourceTables.every((t) => t.gguf !== undefined || t.gguf_file !== undefined);
  if (pad_token === undefined && !allGguf) {
    throw new ConfigError(file, '[model] pad_token', 'missing (a special token of the tokenizer, e.g. "<eos>")');
  }

  const sources: SourceConfig[] = sourceTables.map((t, i) => {
    const where = whereOf(i);
    const kinds = LOCATION_KEYS.filter((k) => t[k] !== undefined);
    if (kinds.length !== 1) {
      throw new ConfigError(
        file,
        where,
        kinds.length === 0
          ? 'needs one of hf_model_id, path, tfjs_model or gguf'
          : `has ${kinds.join(' and ')}: give exactly one of hf_model_id, path, tfjs_model or gguf`,
      );
    }
    checkGgufKeys(t, file, where);
    if (t.dim === undefined) throw new ConfigError(file, `${where} dim`, 'missing (the source row width)');
    if (t.n_vocab !== undefined && t.n_vocab !== n_vocab) {
      throw new ConfigError(file, `${where} n_vocab`, `${t.n_vocab} differs from [model] n_vocab ${n_vocab}: sources share one tokenizer`);
    }
    const id = t.hf_model_id;
    if (id !== undefined && !HUB_REPO_ID.test(id)) {
      throw new ConfigError(file, `${where} hf_model_id`, `"${id}" is not a hub repo id like "google/gemma-2-2b"`);
    }
    const defaultName = id ? id.split('/')[1]! : basename(t.path ?? t.tfjs_model ?? t.gguf ?? 'source').replace(/\.(safetensors|json|gguf)$/i, '');
    // A source's name names its matrix file in the weights folder; unnamed, it comes from the repo id or path.
    const sourceName = t.name ?? (sourceTables.length > 1 ? defaultName : name);
    const sourceNameProblem = folderNameProblem(sourceName);
    if (sourceNameProblem) throw new ConfigError(file, `${where} name`, sourceNameProblem);
    const relative = (value: string | undefined) => (value !== undefined ? resolveConfigRelativePath(value, file) : undefined);
    return {
      name: sourceName,
      hf_model_id: id,
      revision: t.revision,
      path: relative(t.path),
      tfjs_model: relative(t.tfjs_model),
      gguf: relative(t.gguf),
      gguf_file: t.gguf_file,
      tokenizer_repo: t.tokenizer_repo,
      sentencepiece_vocab: relative(t.sentencepiece_vocab),
      tensor: t.tensor,
      dim: t.dim,
      n_vocab,
      drop_extra_rows: t.drop_extra_rows ?? model.drop_extra_rows ?? false,
      scale: t.scale_mode === 'mean_norm' ? 'mean_norm' : t.scale,
    };
  });
  const names = new Set<string>();
  for (const s of sources) {
    if (names.has(s.name)) throw new ConfigError(file, '[[sources]] name', `"${s.name}" is used twice; give each source a distinct name`);
    names.add(s.name);
  }
  const dimSum = sources.reduce((a, s) => a + s.dim, 0);
  if (raw.sources !== undefined && model.dim !== undefined && model.dim !== dimSum) {
    throw new ConfigError(file, '[model] dim', `${model.dim} differs from the sum of the sources' dims (${dimSum})`);
  }

  const tableOrEmpty = (key: string) => raw[key] ?? {};
  const matryoshkaTable = validateTable(file, '[matryoshka]', tableOrEmpty('matryoshka'), MATRYOSHKA_KEYS);
  const matryoshka = resolveMatryoshka(file, matryoshkaTable, dimSum);
  // A linear projection of dimSum-wide rows has rank at most dimSum: wider outputs add parameters, not information.
  if (matryoshka.projection_dim > dimSum) {
    const key = matryoshkaTable.projection_dim !== undefined ? 'projection_dim' : 'dims';
    const above = key === 'dims' ? matryoshka.dims.filter((d) => d > dimSum).join(', ') : String(matryoshka.projection_dim);
    throw new ConfigError(
      file,
      `[matryoshka] ${key}`,
      `${above} above the source width ${dimSum} (a projection cannot add information); use dims of at most ${dimSum}`,
    );
  }
  return {
    name,
    file,
    description: model.description,
    n_vocab,
    pad_token,
    dim: dimSum,
    sources,
    tokenizer: validateTable(file, '[tokenizer]', tableOrEmpty('tokenizer'), TOKENIZER_KEYS),
    training: validateTable(file, '[training]', tableOrEmpty('training'), TRAINING_KEYS),
    matryoshka,
    save: validateTable(file, '[save]', tableOrEmpty('save'), SAVE_KEYS),
  };
}

const HUB_REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** The GGUF keys of one source: `gguf_file` lives in a hub repo, `tokenizer_repo` only serves GGUF sources. */
function checkGgufKeys(t: TableOf<typeof SOURCE_KEYS>, file: string, where: string): void {
  if (t.gguf_file !== undefined) {
    if (t.hf_model_id === undefined) {
      throw new ConfigError(
        file,
        `${where} gguf_file`,
        'needs hf_model_id (the repo holding the file); for a local file set gguf = "path/to/model.gguf" instead',
      );
    }
    if (!/\.gguf$/i.test(t.gguf_file) || t.gguf_file.startsWith('/') || t.gguf_file.split('/').includes('..')) {
      throw new ConfigError(file, `${where} gguf_file`, `"${t.gguf_file}" is not a .gguf file name inside the repo (e.g. "model-Q4_K_M.gguf")`);
    }
  }
  const isGguf = t.gguf !== undefined || t.gguf_file !== undefined;
  if (t.tokenizer_repo !== undefined) {
    if (!isGguf) throw new ConfigError(file, `${where} tokenizer_repo`, 'only GGUF sources (gguf or gguf_file) take a tokenizer_repo');
    if (!HUB_REPO_ID.test(t.tokenizer_repo))
      throw new ConfigError(file, `${where} tokenizer_repo`, `"${t.tokenizer_repo}" is not a hub repo id like "Qwen/Qwen2.5-0.5B"`);
  }
  if (isGguf && t.sentencepiece_vocab !== undefined) {
    throw new ConfigError(
      file,
      `${where} sentencepiece_vocab`,
      'is for TF.js sources; a GGUF source takes its tokenizer from a tokenizer.json (beside the file, in the repo, or tokenizer_repo)',
    );
  }
}

/** weights/<config>/ under the working directory unless `--out-dir` says otherwise. */
export function outputDirFor(config: ModelConfig, outDir?: string): string {
  return resolve(outDir ?? join(process.cwd(), 'weights', config.name));
}
