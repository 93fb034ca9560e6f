/**
 * Browser loading over `fetch`: a model folder served at a URL (`loadFromUrl`) or a hub repo by id
 * (`loadFromHub`). Files are kept in the Cache API under their URL, so a page reload embeds without
 * downloading the model again; hub files are fetched at the resolved commit, whose URLs never change content.
 * Browser-safe: no Node built-ins.
 */
import { UserError } from '../util/errors.ts';
import type { FetchLike } from '../util/fetch-types.ts';
import { MODEL_CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from '../layout/file-names.ts';
import { isSavedModelConfig, pickSavedFile, readSavedModelConfig } from '../layout/saved-config.ts';
import { neededFiles } from '../hub/cache/needed-files.ts';
import { loadModelFromBuffers, type LoadOptions } from './load.ts';
import { sentenceTransformersConfig } from './formats.ts';
import type { StaticModel } from './model.ts';

/** The part of the Cache API used (a `caches.open(...)` result fits; tests pass their own). */
export interface ResponseCache {
  match(url: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | undefined>;
  // The Cache API's put takes a Response; written structurally so the type needs no DOM lib.
  put(url: string, res: { arrayBuffer(): Promise<ArrayBuffer> }): Promise<void>;
}

export interface BrowserLoadOptions extends LoadOptions {
  /** Cache to keep files in (default `caches.open('wordllama-ts-models')` where the Cache API exists; `null`: none). */
  cache?: ResponseCache | null;
  fetch?: FetchLike;
  /** loadFromUrl: the weights file, when the folder is not one config.json describes (a WordLlama width...). */
  file?: string;
}

export interface HubBrowserOptions extends BrowserLoadOptions {
  revision?: string;
  /** Hub base URL (default https://huggingface.co). */
  endpoint?: string;
  /** Access token for private or gated repos. Anything in page code is visible to its users. */
  token?: string;
}

const CACHE_NAME = 'wordllama-ts-models';

async function defaultCache(): Promise<ResponseCache | null> {
  const cs = (globalThis as { caches?: { open(name: string): Promise<ResponseCache> } }).caches;
  return cs ? cs.open(CACHE_NAME) : null;
}

interface Fetcher {
  /** Bytes of `url`, from the cache when there; undefined on 404 when `optional`. */
  get(url: string, optional?: boolean): Promise<Uint8Array | undefined>;
}

async function fetcher(opts: BrowserLoadOptions, headers: Record<string, string> = {}): Promise<Fetcher> {
  const cache = opts.cache === undefined ? await defaultCache() : opts.cache;
  const doFetch: FetchLike = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  return {
    async get(url, optional) {
      const hit = await cache?.match(url);
      if (hit) return new Uint8Array(await hit.arrayBuffer());
      const res = await doFetch(url, { headers });
      if (res.status === 404 && optional) return undefined;
      if (!res.ok) {
        const why = res.status === 401 || res.status === 403 ? ' (private or gated: pass a token)' : '';
        throw new UserError(`${url}: HTTP ${res.status}${why}`);
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      await cache?.put(url, new Response(bytes.slice(), { headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' } }));
      return bytes;
    },
  };
}

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

function parseJson(bytes: Uint8Array | undefined, where: string): Record<string, unknown> | undefined {
  if (!bytes) return undefined;
  try {
    return JSON.parse(decode(bytes)) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${where}: not valid JSON (${(err as Error).message})`);
  }
}

async function fromFiles(
  f: Fetcher,
  urlOf: (file: string) => string,
  weights: string,
  config: Record<string, unknown> | undefined,
  opts: LoadOptions,
): Promise<StaticModel> {
  const dir = weights.includes('/') ? weights.slice(0, weights.lastIndexOf('/') + 1) : '';
  // The small files first: a wrong URL fails on tokenizer.json before megabytes of weights are requested.
  const tokenizer = await f.get(urlOf(dir + TOKENIZER_FILE));
  const tokenizerConfig = await f.get(urlOf(dir + TOKENIZER_CONFIG_FILE), true);
  const safetensors = await f.get(urlOf(weights));
  return loadModelFromBuffers(
    {
      safetensors: safetensors!,
      tokenizerJson: decode(tokenizer!),
      configJson: config,
      tokenizerConfig: parseJson(tokenizerConfig, urlOf(TOKENIZER_CONFIG_FILE)),
    },
    { ...opts, source: opts.source ?? urlOf(weights) },
  );
}

/**
 * Load the model folder served at `baseUrl`: config.json says the file for our saved models (by `dim`),
 * model2vec folders use model.safetensors, sentence-transformers ones 0_StaticEmbedding/; `file` names any other.
 */
export async function loadFromUrl(baseUrl: string, opts: BrowserLoadOptions = {}): Promise<StaticModel> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const urlOf = (file: string) => new URL(file, base).href;
  const f = await fetcher(opts);
  let config = parseJson(await f.get(urlOf(MODEL_CONFIG_FILE), true), urlOf(MODEL_CONFIG_FILE));
  let weights = opts.file;
  if (!weights && isSavedModelConfig(config)) weights = pickSavedFile(readSavedModelConfig(config, urlOf(MODEL_CONFIG_FILE)), opts.dim)?.file;
  if (!weights) {
    const modules = parseJson(await f.get(urlOf('modules.json'), true), urlOf('modules.json')) as unknown as { path?: string }[] | undefined;
    const stDir = Array.isArray(modules) ? modules.find((m) => m.path && m.path !== '.')?.path : undefined;
    if (stDir && !config) {
      weights = `${stDir}/model.safetensors`;
      config = sentenceTransformersConfig(parseJson(await f.get(urlOf('config_sentence_transformers.json'), true), base), modules);
    } else weights = 'model.safetensors';
  }
  return fromFiles(f, urlOf, weights, config, opts);
}

/** Load a hub repo by id (`org/name`, `org/name@rev`): the revision resolved to a commit, then only the needed files. */
export async function loadFromHub(id: string, opts: HubBrowserOptions = {}): Promise<StaticModel> {
  const at = id.indexOf('@');
  const repo = (at < 0 ? id : id.slice(0, at)).replace(/^hf:/, '');
  const revision = opts.revision ?? (at < 0 ? 'main' : id.slice(at + 1));
  const endpoint = (opts.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const doFetch: FetchLike = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const api = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const res = await doFetch(api, { headers });
  if (!res.ok) {
    throw new UserError(
      `${repo}@${revision}: HTTP ${res.status} from ${endpoint}${res.status === 401 || res.status === 404 ? ' (missing, private or gated: check the id or pass a token)' : ''}`,
    );
  }
  const info = (await res.json()) as { sha?: string; siblings?: { rfilename: string }[] };
  if (typeof info.sha !== 'string') throw new UserError(`${api}: no commit sha in the answer`);
  const files = (info.siblings ?? []).map((s) => s.rfilename);
  const urlOf = (file: string) => `${endpoint}/${repo}/resolve/${info.sha}/${file.split('/').map(encodeURIComponent).join('/')}`;
  const f = await fetcher(opts, headers);
  let config = files.includes(MODEL_CONFIG_FILE) ? parseJson(await f.get(urlOf(MODEL_CONFIG_FILE)), `${repo}/${MODEL_CONFIG_FILE}`) : undefined;
  const need = neededFiles(files, config, opts.dim, `${repo}/${MODEL_CONFIG_FILE}`);
  if (need.missing || !need.weights) throw new UserError(`${repo}@${revision}: ${need.missing ?? 'no weights file'} is not in the repo`);
  if (!config && need.weights.includes('/')) {
    // A sentence-transformers repo (weights in its module folder): its settings and modules decide normalisation.
    const get = async (file: string) => (files.includes(file) ? parseJson(await f.get(urlOf(file)), `${repo}/${file}`) : undefined);
    config = sentenceTransformersConfig(await get('config_sentence_transformers.json'), await get('modules.json'));
  }
  return fromFiles(f, urlOf, need.weights, config, opts);
}
