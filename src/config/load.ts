/**
 * Load `config/<name>.toml` (or a path) into a validated `ModelConfig`. `[model]` describes one source; a
 * config with several `[[sources]]` (same tokenizer) keeps shared facts (`n_vocab`, `pad_token`) in `[model]`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { parse as parseToml } from 'smol-toml';
import { UserError, errorMessage } from '../util/errors.ts';
import { packageRoot } from '../util/package-root.ts';
import { ConfigError, positiveInt, validateTable, type TableSpec } from './schema.ts';
import type { ModelConfig, SourceConfig } from './types.ts';

/** The package root (where `config/` ships), independent of the caller's working directory. */
export const PACKAGE_ROOT = packageRoot();
export const CONFIG_DIR = join(PACKAGE_ROOT, 'config');

const SOURCE_KEYS: TableSpec = {
  name: { kind: 'string', doc: 'file stem of the extracted matrix' },
  hf_model_id: { kind: 'string', doc: 'hub repo id, e.g. "google/gemma-2-2b"' },
  revision: { kind: 'string', doc: 'branch, tag or commit (default "main")' },
  path: { kind: 'string', doc: 'local safetensors file or folder' },
  tfjs_model: { kind: 'string', doc: 'TF.js model.json' },
  sentencepiece_vocab: { kind: 'string', doc: 'sentencepiece [[piece, score]] vocab JSON' },
  tensor: { kind: 'string', doc: 'embedding tensor name' },
  dim: { kind: 'int', check: positiveInt, doc: 'row width' },
  n_vocab: { kind: 'int', check: positiveInt, doc: 'rows kept' },
  drop_extra_rows: { kind: 'bool', doc: 'drop padded rows beyond n_vocab' },
  scale: { kind: 'number', doc: 'concat: multiply rows by this' },
  scale_mode: { kind: 'string', check: (v: string) => (v === 'mean_norm' ? undefined : '"mean_norm"') },
  pad_token: { kind: 'string', doc: 'a special token of the tokenizer' },
};

const MODEL_KEYS: TableSpec = {
  ...SOURCE_KEYS,
  description: { kind: 'string' },
};

const TOKENIZER_KEYS: TableSpec = {
  max_length: { kind: 'int', check: positiveInt, doc: 'tokens kept per text' },
  add_special_tokens: { kind: 'bool' },
  // WordLlama's keys, accepted so its configs load; padding/truncation are how we always work.
  return_tensors: { kind: 'string' },
  return_attention_mask: { kind: 'bool' },
  padding: { kind: 'string' },
  truncation: { kind: 'bool' },
  inference: { kind: 'table' },
};

const TOP_KEYS = ['name', 'description', 'model', 'sources', 'tokenizer', 'training', 'matryoshka', 'save', 'eval'];

/** `gemma2_2B` → config/gemma2_2B.toml; anything with a slash or .toml is a path. */
export function resolveConfigPath(nameOrPath: string, cwd = process.cwd()): string {
  const looksLikePath = nameOrPath.endsWith('.toml') || nameOrPath.includes('/') || nameOrPath.includes('\\');
  const candidate = looksLikePath ? resolve(cwd, nameOrPath) : join(CONFIG_DIR, `${nameOrPath}.toml`);
  if (!existsSync(candidate)) {
    throw new UserError(
      `config "${nameOrPath}" not found (looked for ${candidate}); use a name from ${CONFIG_DIR} or a path to a .toml file`,
    );
  }
  return candidate;
}

/** Resolve a path written in a config: `npm:pkg/file` inside node_modules, else relative to the config's folder. */
export function resolveConfigRelativePath(value: string, configFile: string): string {
  if (value.startsWith('npm:')) {
    const spec = value.slice(4);
    // Node's lookup folders from here upwards (an installed CLI's dependencies are hoisted above it), then the cwd's.
    const folders = [...(createRequire(import.meta.url).resolve.paths(spec) ?? []), join(process.cwd(), 'node_modules')];
    const candidates = folders.map((nm) => join(nm, spec));
    const hit = candidates.find((c) => existsSync(c));
    if (!hit) throw new UserError(`${configFile}: ${value} not found in node_modules (run npm install)`);
    return hit;
  }
  return isAbsolute(value) ? value : resolve(dirname(configFile), value);
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

/** Validate an already-parsed TOML document (exported for tests). */
export function parseConfig(raw: Record<string, unknown>, file: string): ModelConfig {
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.includes(key)) throw new ConfigError(file, key, `unknown top-level key (known: ${TOP_KEYS.join(', ')})`);
  }
  if (raw.name !== undefined && typeof raw.name !== 'string') throw new ConfigError(file, 'name', 'expected a string');
  const name = (raw.name as string | undefined) ?? basename(file, extname(file));
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new ConfigError(file, 'name', `"${name}" must use only letters, digits, ".", "_" and "-" (it names a folder)`);
  }
  if (raw.model === undefined) throw new ConfigError(file, '[model]', 'missing (every config needs a [model] table)');
  const model = validateTable(file, '[model]', raw.model, MODEL_KEYS);

  let sourceTables: Record<string, unknown>[];
  let whereOf: (i: number) => string;
  if (raw.sources !== undefined) {
    if (!Array.isArray(raw.sources) || raw.sources.length === 0) {
      throw new ConfigError(file, '[[sources]]', 'expected one or more [[sources]] tables');
    }
    sourceTables = raw.sources.map((s, i) => validateTable(file, `[[sources]] #${i + 1}`, s, SOURCE_KEYS));
    whereOf = (i) => `[[sources]] #${i + 1}`;
    for (const key of ['hf_model_id', 'path', 'tfjs_model']) {
      if (model[key] !== undefined) {
        throw new ConfigError(file, `[model] ${key}`, 'set per source in [[sources]] when a config has several sources');
      }
    }
  } else {
    sourceTables = [model];
    whereOf = () => '[model]';
  }

  const n_vocab = model.n_vocab as number | undefined;
  const pad_token = model.pad_token as string | undefined;
  if (n_vocab === undefined) throw new ConfigError(file, '[model] n_vocab', 'missing (the tokenizer vocabulary size)');
  if (pad_token === undefined) throw new ConfigError(file, '[model] pad_token', 'missing (a special token of the tokenizer, e.g. "<eos>")');

  const sources: SourceConfig[] = sourceTables.map((t, i) => {
    const where = whereOf(i);
    const kinds = ['hf_model_id', 'path', 'tfjs_model'].filter((k) => t[k] !== undefined);
    if (kinds.length !== 1) {
      throw new ConfigError(
        file,
        where,
        kinds.length === 0
          ? 'needs one of hf_model_id, path or tfjs_model'
          : `has ${kinds.join(' and ')}: give exactly one of hf_model_id, path or tfjs_model`,
      );
    }
    if (t.dim === undefined) throw new ConfigError(file, `${where} dim`, 'missing (the source row width)');
    if (t.n_vocab !== undefined && t.n_vocab !== n_vocab) {
      throw new ConfigError(file, `${where} n_vocab`, `${t.n_vocab} differs from [model] n_vocab ${n_vocab}: sources share one tokenizer`);
    }
    const id = t.hf_model_id as string | undefined;
    if (id !== undefined && !/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(id)) {
      throw new ConfigError(file, `${where} hf_model_id`, `"${id}" is not a hub repo id like "google/gemma-2-2b"`);
    }
    const defaultName = id ? id.split('/')[1]! : basename(String(t.path ?? t.tfjs_model ?? 'source')).replace(/\.(safetensors|json)$/, '');
    const scale = t.scale_mode === 'mean_norm' ? 'mean_norm' : (t.scale as number | undefined);
    return {
      name: (t.name as string | undefined) ?? (sourceTables.length > 1 ? defaultName : name),
      hf_model_id: id,
      revision: (t.revision as string | undefined) ?? 'main',
      path: t.path !== undefined ? resolveConfigRelativePath(t.path as string, file) : undefined,
      tfjs_model: t.tfjs_model !== undefined ? resolveConfigRelativePath(t.tfjs_model as string, file) : undefined,
      sentencepiece_vocab:
        t.sentencepiece_vocab !== undefined ? resolveConfigRelativePath(t.sentencepiece_vocab as string, file) : undefined,
      tensor: t.tensor as string | undefined,
      dim: t.dim as number,
      n_vocab,
      drop_extra_rows: (t.drop_extra_rows as boolean | undefined) ?? (model.drop_extra_rows as boolean | undefined) ?? false,
      scale,
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

  const tok = raw.tokenizer === undefined ? {} : validateTable(file, '[tokenizer]', raw.tokenizer, TOKENIZER_KEYS);
  const asTable = (key: string) => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(file, `[${key}]`, 'expected a table');
    return v as Record<string, unknown>;
  };
  return {
    name,
    file,
    description: model.description as string | undefined,
    n_vocab,
    pad_token,
    dim: dimSum,
    sources,
    tokenizer: {
      max_length: (tok.max_length as number | undefined) ?? 256,
      add_special_tokens: (tok.add_special_tokens as boolean | undefined) ?? false,
    },
    training: asTable('training'),
    matryoshka: asTable('matryoshka'),
    save: asTable('save'),
    eval: asTable('eval'),
  };
}

/** weights/<config>/ under the working directory unless `--out-dir` says otherwise. */
export function outputDirFor(config: ModelConfig, outDir?: string): string {
  return resolve(outDir ?? join(process.cwd(), "weights", config.name));
}
