/**
 * The library behind `pipeline extract`: for each source of a config, dispatch on its kind (hub repo, local
 * safetensors, TF.js model, GGUF file local or in a hub repo), write `weights/<config>/<source>.safetensors`
 * (tensor `embedding`, provenance in `__metadata__`), the tokenizer files, and `extract.json` with the facts the
 * report shows.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { FloatDType } from '../safetensors/dtype.ts';
import { ConfigError } from '../config/schema.ts';
import type { ModelConfig, SourceConfig } from '../config/types.ts';
import { outputDirFor } from '../config/load.ts';
import { provenancePath } from '../config/paths.ts';
import { createTokenizer, parseTokenizerJson, tokenizerFingerprint } from '../tokenize/tokenizer.ts';
import { sentencepieceToTokenizerJson } from '../tokenize/sentencepiece.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { createProgress, type Progress } from '../util/progress.ts';
import { hubClientFromEnv, type HubClient } from '../hub/client.ts';
import { extractFromHub, SIDE_FILES } from './hub.ts';
import { extractFromLocal } from './local.ts';
import { extractGgufFromFile } from './gguf/extract-local.ts';
import { extractGgufFromHub } from './gguf/extract-hub.ts';
import { isGgufFile } from './gguf/file-source.ts';
import { checkSourceTensor, metadataShape, outputMetadata, writeMatrixFromRows, type SourceKind, type SourceWhere } from './write-matrix.ts';
import { localSourceResult, type SourceJob } from './source-job.ts';
import { SOURCE_CONFIG_FILE } from '../layout/file-names.ts';
import { exactMetadata, extractedSourceIsCurrent } from '../layout/stage-freshness.ts';
import { sourcePath, tokenizerPath } from '../layout/weights-dir.ts';
import { readExtractRecord, writeExtractRecord, type PadTokenDefault } from '../layout/extract-record.ts';

/** Where a source's side file goes in the weights folder (its config.json is kept as source_config.json). */
function sideFileName(f: 'tokenizer.json' | 'tokenizer_config.json' | 'config.json'): string {
  return f === 'config.json' ? SOURCE_CONFIG_FILE : f;
}

const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 4;

/** Side files of one source (raw bytes as found), and a note when the tokenizer is missing. */
export interface SourceSide {
  'tokenizer.json'?: Uint8Array;
  'tokenizer_config.json'?: Uint8Array;
  'config.json'?: Uint8Array;
  note?: string;
  /** The pad token the source's own metadata names (GGUF files): `[model] pad_token`'s default. */
  padToken?: PadTokenDefault;
}

/** What each source adapter needs from the orchestrator. */
export interface ExtractOptions {
  dtype: FloatDType;
  concurrency: number;
  chunkSize: number;
  /** fsync downloaded matrices before they are renamed into place. */
  fsync: boolean;
  /** Hub sources: check the whole shard's sha256 by a second streaming pass before the output appears. */
  verify?: boolean;
  log(message: string): void;
  progress(label: string, totalBytes: number): Progress;
  /** True when `path` already holds exactly this extraction (same provenance and dtype) and --force is off. */
  isCurrent(path: string, metadata: Record<string, string>, dtype: FloatDType): Promise<boolean>;
  /** Validate a source's tokenizer against the config before the matrix is written (fail before gigabytes). */
  checkSide(side: SourceSide, label: string, sourceName: string): void;
}

/** Facts about one extracted source (`extract.json` entry; `side` is not serialised). */
export interface SourceResult {
  name: string;
  file: string;
  kind: SourceKind;
  repo: string;
  revision: string;
  tensor: string;
  source_dtype: string;
  dtype: FloatDType;
  rows: number;
  dim: number;
  shard: string;
  bytes_downloaded: number;
  bytes_resumed: number;
  shard_bytes: number;
  tensor_bytes: number;
  seconds: number;
  overflows: number;
  skipped: boolean;
  /** Set for GGUF sources: the file format, and whether rows were dequantized from a quantized type. */
  source_format?: 'gguf';
  dequantized?: boolean;
  /** Hub sources: the licence the repo's card states (save's model card repeats it). */
  license?: string;
  side: SourceSide;
}

export interface ExtractRequest {
  config: ModelConfig;
  outDir?: string;
  /** Local file/folder replacing the (single) source's location. */
  from?: string;
  dtype?: FloatDType;
  concurrency?: number;
  chunkSize?: number;
  quiet?: boolean;
  force?: boolean;
  fsync?: boolean;
  /** Hub sources: check each shard against the hub's sha256 by a second streaming pass (src/hub/verify-file.ts). */
  verify?: boolean;
  /** Hub client settings (tests inject fetch/retry); the rest comes from HF_ENDPOINT / HF_TOKEN. */
  hub?: Partial<HubClient>;
  env?: NodeJS.ProcessEnv;
}

export interface ExtractSummary {
  outDir: string;
  /** Every file written (matrices, tokenizer files, extract.json). */
  files: string[];
  sources: Omit<SourceResult, 'side'>[];
  tokenizer?: { file: string; vocabSize: number; padId: number };
  notes: string[];
}

/** The table a source's keys live in, for messages. */
function sourceWhere(config: ModelConfig, i: number): SourceWhere {
  return {
    configFile: config.file,
    table: config.sources.length > 1 ? `[[sources]] #${i + 1}` : '[model]',
    vocabTable: '[model]',
  };
}

/**
 * Validate a tokenizer.json against the config: the pad token (`[model] pad_token`, else `padDefault` from the
 * sources' metadata) is a token, the vocabulary fits in n_vocab rows.
 */
function checkTokenizer(json: Uint8Array, configJson: Uint8Array | undefined, config: ModelConfig, label: string, padDefault?: PadTokenDefault) {
  const parsed = parseTokenizerJson(new TextDecoder().decode(json), label);
  let cfg: Record<string, unknown> = {};
  if (configJson) {
    try {
      cfg = JSON.parse(new TextDecoder().decode(configJson)) as Record<string, unknown>;
    } catch {
      cfg = {};
    }
  }
  const tok = createTokenizer(parsed, cfg, label);
  const padToken = config.pad_token ?? padDefault?.token;
  if (padToken === undefined) {
    throw new ConfigError(
      config.file,
      '[model] pad_token',
      `missing: only a GGUF source's metadata gives a default (its padding token, else EOS), and ${label} names neither; set a special token of the tokenizer, e.g. "<eos>"`,
    );
  }
  const padId = tok.tokenToId(padToken);
  if (padId === undefined) {
    const specials = [...tok.specialIds]
      .map((i) => tok.idToToken(i))
      .filter(Boolean)
      .slice(0, 12);
    const what = config.pad_token !== undefined ? `"${padToken}"` : `"${padToken}" (the default from ${padDefault!.from})`;
    throw new ConfigError(config.file, '[model] pad_token', `${what} is not a token of ${label} (its special tokens: ${specials.join(', ') || 'none'})`);
  }
  if (tok.vocabSize > config.n_vocab) {
    throw new ConfigError(
      config.file,
      '[model] n_vocab',
      `${config.n_vocab} is smaller than the tokenizer's ${tok.vocabSize} tokens (${label}); token ids would point past the matrix`,
    );
  }
  return { tok, padId, fingerprint: tokenizerFingerprint(parsed) };
}

async function extractTfjs(job: SourceJob): Promise<SourceResult> {
  const { source, where, outPath, opts } = job;
  if (!source.tensor)
    throw new ConfigError(where.configFile, `${where.table} tensor`, 'missing: a TF.js source needs the tensor name (e.g. "module/Embeddings_en")');
  const { openTfjsMatrix } = await import('./tfjs.ts');
  const m = await openTfjsMatrix(source.tfjs_model!, source.tensor);
  try {
    const rows = checkSourceTensor([m.rows, m.dim], 'F32', source, where, m.label);
    const repo = provenancePath(source.tfjs_model!);
    const provenance = { repo, revision: 'local', tensor: m.tensorName, source_dtype: m.sourceDtype, source_kind: 'tfjs' as const };
    const metadata = outputMetadata(provenance, rows, m.dim);
    const side = tfjsTokenizer(source, m.rows);
    opts.checkSide(side, `${source.sentencepiece_vocab} (as tokenizer.json)`, source.name);
    const skip = await opts.isCurrent(outPath, metadata, opts.dtype);
    let overflows = 0;
    if (!skip) {
      const progress = opts.progress(source.name, rows * m.dim * 4);
      const res = await writeMatrixFromRows(m, outPath, rows, opts.dtype, metadata, (r) => progress.update(r * m.dim * 4));
      progress.finish();
      overflows = res.overflows;
    }
    const shard = m.shardFiles.map((f) => basename(f)).join(',');
    const facts = { tensor: m.tensorName, source_dtype: m.sourceDtype, rows, dim: m.dim, shard, shard_bytes: m.shardBytes, tensor_bytes: m.tensorBytes };
    return localSourceResult(job, { kind: 'tfjs', repo, ...facts, overflows, skipped: skip, side });
  } finally {
    await m.close();
  }
}

/** A TF.js source's tokenizer: its sentencepiece vocabulary as a Unigram tokenizer.json, or a note that there is none. */
function tfjsTokenizer(source: SourceConfig, rows: number): SourceSide {
  if (!source.sentencepiece_vocab) return { note: `${source.name}: no sentencepiece_vocab given, so no tokenizer.json was written` };
  let vocab: unknown;
  try {
    vocab = JSON.parse(readFileSync(source.sentencepiece_vocab, 'utf8'));
  } catch (err) {
    throw new UserError(`${source.sentencepiece_vocab}: cannot read sentencepiece vocabulary (${(err as Error).message.split('\n')[0]})`);
  }
  const json = sentencepieceToTokenizerJson(vocab, { rows }, source.sentencepiece_vocab);
  return { 'tokenizer.json': new TextEncoder().encode(JSON.stringify(json)) };
}

/** The tokenizer every source is checked against: the first one's, with its fingerprint, vocabulary and pad id. */
type CheckedTokenizer = ReturnType<typeof checkTokenizer>;

/**
 * The options every adapter gets for one run, with `checkSide`: each tokenizer checked once against the config,
 * concatenated sources refused when their tokenizers differ, and the first pad-token default kept (`padDefault()`).
 */
function extractOptions(req: ExtractRequest) {
  const { config } = req;
  const quiet = Boolean(req.quiet);
  const checked = new WeakMap<Uint8Array, CheckedTokenizer>();
  let firstTokenizer: { name: string; fingerprint: string } | undefined;
  // Concatenated sources share one tokenizer and so one pad token: the first source naming a default gives it.
  let padDefault: PadTokenDefault | undefined;
  const opts: ExtractOptions = {
    dtype: req.dtype ?? 'F16',
    concurrency: req.concurrency ?? DEFAULT_CONCURRENCY,
    chunkSize: req.chunkSize ?? DEFAULT_CHUNK_SIZE,
    fsync: Boolean(req.fsync),
    verify: Boolean(req.verify),
    log: (m) => {
      if (!quiet) process.stderr.write(`${m}\n`);
    },
    progress: (label, total) => createProgress(label, { unit: 'bytes', total, quiet }),
    isCurrent: (path, metadata, dtype) =>
      req.force ? Promise.resolve(false) : extractedSourceIsCurrent(path, { ...metadataShape(metadata), dtype, metadata: exactMetadata(metadata) }),
    checkSide: (side, label, sourceName) => {
      padDefault ??= side.padToken;
      const tj = side['tokenizer.json'];
      if (!tj || checked.has(tj)) return;
      const c = checkTokenizer(tj, side['tokenizer_config.json'], config, label, padDefault);
      checked.set(tj, c);
      // Concatenated sources index one matrix with one tokenizer: refuse a mismatch before downloading more.
      firstTokenizer ??= { name: sourceName, fingerprint: c.fingerprint };
      if (c.fingerprint !== firstTokenizer.fingerprint) {
        throw new UserError(
          `${config.file}: sources "${firstTokenizer.name}" and "${sourceName}" have different tokenizers; concatenated sources must share one tokenizer`,
        );
      }
    },
  };
  return { opts, checked, padDefault: () => padDefault };
}

/** Dispatch one source to its adapter by kind. */
async function extractSource(job: SourceJob, from: string | undefined, client: () => HubClient): Promise<SourceResult> {
  const { source } = job;
  const local = from ?? source.gguf ?? source.path;
  // --from replaces the location whatever the configured kind, so a file given there is recognised by its content.
  const isGguf = local !== undefined && ((from === undefined && source.gguf !== undefined) || isGgufFile(local));
  if (local !== undefined && isGguf) return extractGgufFromFile(job, local, client);
  if (local !== undefined) return extractFromLocal(job, local);
  if (source.gguf_file !== undefined) return extractGgufFromHub(job, client());
  if (source.tfjs_model !== undefined) return extractTfjs(job);
  return extractFromHub(job, client());
}

/** extract.json: this run's facts, keeping an earlier run's for sources that were already current. */
async function writeFacts(outDir: string, config: ModelConfig, results: SourceResult[], notes: string[], padDefault?: PadTokenDefault): Promise<string> {
  const previous = readExtractRecord(outDir)?.sources ?? [];
  const sources = results.map(({ side: _side, ...rest }) => {
    const old = previous.find((p) => p.name === rest.name);
    return rest.skipped && old ? { ...old, skipped: true } : { ...rest, file: relative(outDir, rest.file) };
  });
  return writeExtractRecord(outDir, { config: config.name, sources, notes, ...(padDefault ? { pad_token_default: padDefault } : {}) });
}

export async function extract(req: ExtractRequest): Promise<ExtractSummary> {
  const { config } = req;
  const outDir = outputDirFor(config, req.outDir);
  if (req.from !== undefined && config.sources.length > 1) {
    throw new UserError(
      `--from replaces the location of a single source, but ${config.file} has ${config.sources.length} [[sources]]; set path = "..." in each instead`,
    );
  }
  const { opts, checked, padDefault } = extractOptions(req);
  let client: HubClient | undefined;
  const getClient = () => (client ??= hubClientFromEnv(req.env ?? process.env, { onRetry: (m) => opts.log(`retry: ${m}`), ...req.hub }));

  const results: SourceResult[] = [];
  const notes: string[] = [];
  let tokenizer: CheckedTokenizer | undefined;
  for (const [i, source] of config.sources.entries()) {
    const job: SourceJob = { source, where: sourceWhere(config, i), outPath: sourcePath(outDir, source.name), opts, started: performance.now() };
    const r = await extractSource(job, req.from, getClient);
    results.push(r);
    if (r.side.note) notes.push(r.side.note);
    const tj = r.side['tokenizer.json'];
    if (!tj) continue;
    opts.checkSide(r.side, `${r.repo} tokenizer.json`, r.name);
    if (tokenizer) continue;
    // The first source's tokenizer files are the weights folder's.
    tokenizer = checked.get(tj)!;
    for (const f of SIDE_FILES) {
      const b = r.side[f];
      if (b) await writeFileAtomic(join(outDir, sideFileName(f)), b);
    }
  }

  const factsPath = await writeFacts(outDir, config, results, notes, padDefault());
  const files = [...results.map((r) => r.file)];
  for (const f of SIDE_FILES) {
    const out = join(outDir, sideFileName(f));
    if (existsSync(out) && tokenizer) files.push(out);
  }
  files.push(factsPath);
  return {
    outDir,
    files,
    sources: results.map(({ side: _side, ...rest }) => rest),
    tokenizer: tokenizer ? { file: tokenizerPath(outDir), vocabSize: tokenizer.tok.vocabSize, padId: tokenizer.padId } : undefined,
    notes,
  };
}
