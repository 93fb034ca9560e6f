/**
 * `StaticModel`: tokenize → average token rows → (Matryoshka truncate) → (L2 normalise), plus WordLlama's
 * utilities on top. Pure, browser-safe: models come in as bytes (see load.ts / node.ts).
 */
import { UserError } from '../util/errors.ts';
import type { TextTokenizer } from '../tokenize/tokenizer.ts';
import { createFastEncoder, type FastEncoder } from '../tokenize/fast-encode.ts';
import type { FormatDefaults, ModelFormat, TokenMatrix } from './formats.ts';
import { poolIds, tokenRow } from './pool.ts';
import { createPoolKernel, type PoolKernel } from './kernels/pool-kernel.ts';
import { kernelsAvailable } from './kernels/index.ts';
import { poolingRules, type PoolingRules } from '../tokenize/pooling-ids.ts';
import { encodeCounted, medianTokenLength } from '../tokenize/bounded-encode.ts';
import { binarize, hammingSimilarity } from './binary.ts';
import { cosineMatrix, normalizeRows } from './similarity.ts';
import { deduplicateRows } from './dedupe.ts';
import { searchRows } from './topk.ts';
import { kmeans } from './kmeans.ts';
import { semanticSplit } from './split.ts';
import type { BinaryCodes, ClusterOptions, ClusterResult, EmbedOptions, Embeddings, RankedDoc, SimilarityMatrix, SplitOptions } from './types.ts';

export interface ModelInfo {
  format: ModelFormat;
  /** Tensor the rows come from. */
  tensor: string;
  /** Rows of the matrix / token ids covered. */
  vocabSize: number;
  /** Width of the stored rows (before any `dim` truncation). */
  fullDim: number;
  /** Whether rows are held as f16 bits (half the memory) or f32. */
  precision: 'f32' | 'f16';
  padTokenId?: number;
  unkTokenId?: number;
  maxLength: number;
  /** model2vec's character pre-truncation limit (maxLength × median token length), when it applies. */
  maxChars?: number;
  /** config.json as given (if any). */
  config?: Record<string, unknown>;
}

export interface ScoreKey {
  /** Similarity of `doc` to the query (cached per doc). */
  (doc: string): number;
  /** Comparator for `Array.prototype.sort`: most similar to the query first. */
  compare(a: string, b: string): number;
}

export interface DeduplicateOptions {
  /** Similarity above which a later doc is a duplicate of an earlier kept one (default 0.9). */
  threshold?: number;
  /** Return the sorted indices of the removed duplicates (WordLlama's `return_indices`) instead of kept docs. */
  returnIndices?: boolean;
}

export class StaticModel {
  /** Dimension of the embeddings this model returns (after a `dim` given at load). */
  readonly dim: number;
  /** Default for `embed`'s `norm`. */
  readonly normalize: boolean;
  /** Whether similarity-based utilities use Hamming similarity of sign bits (WordLlama's binary mode). */
  readonly binary: boolean;
  readonly info: ModelInfo;
  readonly encoder: FastEncoder;
  private readonly rules: PoolingRules;
  private readonly maxChars: number;
  /** The tokenizer's median token length (code points), computed on first need: sizes the cut of long texts. */
  private medianLength = 0;
  private readonly median = () => (this.medianLength ||= medianTokenLength(this.tokenizer));
  private ids: Int32Array = new Int32Array(1024);
  private acc: Float64Array;
  /** The pooling kernel with this model's rows, made on first embed (null: it cannot run here). */
  private pooler: PoolKernel | null | undefined;

  constructor(
    readonly tokenizer: TextTokenizer,
    private readonly matrix: TokenMatrix,
    defaults: FormatDefaults,
    opts: { dim?: number; binary?: boolean; normalize?: boolean; config?: Record<string, unknown>; precision: 'f32' | 'f16'; source: string },
  ) {
    const source = opts.source;
    if (opts.dim !== undefined) {
      if (!Number.isInteger(opts.dim) || opts.dim < 1) throw new UserError(`${source}: dim must be a positive integer, got ${opts.dim}`);
      if (opts.dim > matrix.dim) throw new UserError(`${source}: dim ${opts.dim} is above the model's ${matrix.dim}`);
    }
    this.dim = opts.dim ?? matrix.dim;
    this.normalize = opts.normalize ?? defaults.normalize;
    this.binary = opts.binary ?? defaults.binarized;
    let pad = defaults.padTokenId;
    if (defaults.padToken !== undefined) {
      const id = tokenizer.tokenToId(defaults.padToken);
      if (id === undefined) throw new UserError(`${source}: pad_token "${defaults.padToken}" is not a token of tokenizer.json`);
      if (pad !== undefined && pad !== id) {
        throw new UserError(`${source}: pad_token "${defaults.padToken}" has id ${id} in tokenizer.json but config says pad_token_id ${pad}`);
      }
      pad = id;
    }
    const unk = tokenizer.unkId;
    this.rules = poolingRules(tokenizer, pad, defaults.maxLength);
    this.maxChars = defaults.charTruncation && defaults.maxLength > 0 ? defaults.maxLength * this.median() : 0;
    this.encoder = createFastEncoder(tokenizer);
    this.acc = new Float64Array(matrix.dim);
    this.info = {
      format: defaults.format,
      tensor: defaults.tensor,
      vocabSize: matrix.ids,
      fullDim: matrix.dim,
      precision: opts.precision,
      padTokenId: pad,
      unkTokenId: unk,
      maxLength: defaults.maxLength,
      maxChars: this.maxChars || undefined,
      config: opts.config,
    };
  }

  private resolveDim(dim: number | undefined): number {
    if (dim === undefined) return this.dim;
    if (!Number.isInteger(dim) || dim < 1) throw new UserError(`embed: dim must be a positive integer, got ${dim}`);
    if (dim > this.dim) throw new UserError(`embed: dim ${dim} is above the model's ${this.dim}`);
    return dim;
  }

  /** Text as the model sees it: model2vec's character pre-truncation (code points), else unchanged. */
  private truncateChars(text: string): string {
    const max = this.maxChars;
    if (max === 0 || text.length <= max) return text;
    let cps = 0;
    for (let i = 0; i < text.length; i++) {
      if (cps === max) return text.slice(0, i);
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
      cps++;
    }
    return text;
  }

  /**
   * Ids that count for `text` under `rules`, at the front of `this.ids`. With a max_length only a prefix of a
   * long text is tokenized (src/tokenize/bounded-encode.ts: exact, so a 50 MB line costs what its first tokens do).
   */
  private countedIds(text: string, rules: PoolingRules): number {
    const { out, n } = encodeCounted(this.encoder, this.truncateChars(text), rules, this.median, this.ids, this.matrix.ids);
    this.ids = out;
    return n;
  }

  /** Token ids that count for `text` (after pad/UNK removal and truncation), in order. */
  tokenIds(text: string): number[] {
    const n = this.countedIds(text, this.rules); // first: it may replace this.ids with a larger buffer
    return Array.from(this.ids.subarray(0, n));
  }

  /** The row of token `id` as pooling uses it (mapping/scale applied), first `dim` values. */
  tokenVector(id: number, dim?: number): Float32Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.matrix.ids) throw new UserError(`token id ${id} is outside 0..${this.matrix.ids - 1}`);
    return tokenRow(this.matrix, id, this.resolveDim(dim));
  }

  /**
   * Mean of token rows per text, optionally truncated (`dim`) then L2-normalised (`norm`). With
   * `binarize: true` the sign bits instead (same as `embedBinary`).
   */
  embed(texts: string | readonly string[], opts: EmbedOptions & { binarize: true }): BinaryCodes;
  embed(texts: string | readonly string[], opts?: EmbedOptions & { binarize?: false }): Embeddings;
  embed(texts: string | readonly string[], opts: EmbedOptions & { binarize?: boolean } = {}): Embeddings | BinaryCodes {
    if (opts.binarize) return this.embedBinary(texts, { dim: opts.dim, maxLength: opts.maxLength });
    return this.embedDense(texts, opts);
  }

  private embedDense(texts: string | readonly string[], opts: EmbedOptions): Embeddings {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list)) throw new UserError('embed: texts must be a string or an array of strings');
    const d = this.resolveDim(opts.dim);
    const norm = opts.norm ?? this.normalize;
    const rules: PoolingRules = opts.maxLength === undefined ? this.rules : { ...this.rules, maxLength: Math.max(0, Math.floor(opts.maxLength)) };
    const out = new Float32Array(list.length * d);
    // The wasm kernel pools batches of texts, bit for bit as poolIds does; poolIds is the path without it.
    const pool = this.poolKernel();
    pool?.begin(d, out);
    for (let i = 0; i < list.length; i++) {
      const text = list[i];
      if (typeof text !== 'string') throw new UserError(`embed: texts[${i}] is ${typeof text}, expected a string`);
      const n = this.countedIds(text, rules);
      if (!pool?.add(this.ids, n)) poolIds(this.matrix, this.ids, n, d, out, i * d, this.acc);
    }
    pool?.finish();
    const e: Embeddings = { data: out, rows: list.length, dim: d };
    return norm ? normalizeRows(e) : e;
  }

  private poolKernel(): PoolKernel | undefined {
    if (!kernelsAvailable()) return undefined;
    if (this.pooler === undefined) this.pooler = createPoolKernel(this.matrix) ?? null;
    return this.pooler ?? undefined;
  }

  /** Sign bits of the (truncated) mean embeddings, packed into 32-bit words. */
  embedBinary(texts: string | readonly string[], opts: Omit<EmbedOptions, 'norm'> = {}): BinaryCodes {
    return binarize(this.embedDense(texts, { ...opts, norm: false }));
  }

  /** Similarity matrix between two lists: cosine, or Hamming similarity for a binary model. */
  similarityMatrix(a: readonly string[], b: readonly string[], opts: { dim?: number } = {}): SimilarityMatrix {
    if (this.binary) return hammingSimilarity(this.embedBinary(a, opts), this.embedBinary(b, opts));
    return cosineMatrix(this.embed(a, { dim: opts.dim, norm: true }), this.embed(b, { dim: opts.dim, norm: true }));
  }

  /** Similarity of two texts. */
  similarity(a: string, b: string, opts: { dim?: number } = {}): number {
    return this.similarityMatrix([a], [b], opts).data[0]!;
  }

  /**
   * Docs with their similarity to `query`, most similar first unless `sort: false` (WordLlama's `rank`).
   * With `candidates: c` (dense models): only the c docs a binary first pass picks (Hamming similarity of sign
   * bits), re-ranked by cosine and sorted: an approximate ranking whose recall scripts/bench-topk.ts measures.
   */
  rank(query: string, docs: readonly string[], opts: { sort?: boolean; dim?: number; candidates?: number } = {}): RankedDoc[] {
    if (!Array.isArray(docs)) throw new UserError('rank: docs must be an array of strings');
    if (opts.candidates !== undefined) return this.rankCandidates(query, docs, opts.candidates, opts.candidates, opts.dim);
    const scores = this.similarityMatrix([query], docs, opts).data;
    const ranked = docs.map((doc, index) => ({ doc, score: scores[index]!, index }));
    if (opts.sort !== false) ranked.sort((x, y) => y.score - x.score || x.index - y.index);
    return ranked;
  }

  /** The `k` docs most similar to `query` (with `candidates`, among a binary first pass's picks; see `rank`). */
  topk(query: string, docs: readonly string[], k = 3, opts: { dim?: number; candidates?: number } = {}): string[] {
    if (!Number.isInteger(k) || k < 1) throw new UserError(`topk: k must be a positive integer, got ${k}`);
    if (k > docs.length) throw new UserError(`topk: k = ${k} is larger than the number of docs (${docs.length})`);
    if (opts.candidates !== undefined) return this.rankCandidates(query, docs, k, opts.candidates, opts.dim).map((r) => r.doc);
    return this.rank(query, docs, opts)
      .slice(0, k)
      .map((r) => r.doc);
  }

  private rankCandidates(query: string, docs: readonly string[], k: number, candidates: number, dim: number | undefined): RankedDoc[] {
    if (this.binary) throw new UserError('rank: candidates needs dense embeddings (binary first pass, dense re-rank); load the model with binary: false');
    if (!Number.isInteger(candidates) || candidates < 1) throw new UserError(`rank: candidates must be a positive integer, got ${candidates}`);
    if (docs.length === 0) return [];
    const c = Math.min(candidates, docs.length);
    const top = searchRows(this.embed(query, { dim, norm: true }), this.embed(docs, { dim, norm: true }), Math.min(k, c), { candidates: c });
    return Array.from(top.indices, (index, r) => ({ doc: docs[index]!, score: top.scores[r]!, index }));
  }

  /** Docs whose similarity to `query` is above `threshold` (default 0.3), in input order. */
  filter(query: string, docs: readonly string[], threshold = 0.3, opts: { dim?: number } = {}): string[] {
    const scores = this.similarityMatrix([query], docs, opts).data;
    return docs.filter((_, i) => scores[i]! > threshold);
  }

  /**
   * A scorer for `query`: `key(doc)` is the similarity of doc to the query, `key.compare` a comparator for
   * `docs.sort(key.compare)` (most similar first). Doc embeddings are cached inside the key.
   */
  key(query: string, opts: { dim?: number } = {}): ScoreKey {
    const cache = new Map<string, number>();
    const score = ((doc: string): number => {
      let s = cache.get(doc);
      if (s === undefined) {
        s = this.similarity(query, doc, opts);
        cache.set(doc, s);
      }
      return s;
    }) as ScoreKey;
    score.compare = (a: string, b: string) => score(b) - score(a);
    return score;
  }

  /** Fuzzy deduplication: kept docs in order, or (returnIndices) the sorted indices of the duplicates. */
  deduplicate(docs: readonly string[], opts: DeduplicateOptions & { returnIndices: true }): number[];
  deduplicate(docs: readonly string[], opts?: DeduplicateOptions): string[];
  deduplicate(docs: readonly string[], opts: DeduplicateOptions = {}): string[] | number[] {
    const threshold = opts.threshold ?? 0.9;
    const x = this.binary ? this.embedBinary(docs) : this.embed(docs, { norm: true });
    const { kept, duplicates } = deduplicateRows(x, threshold);
    return opts.returnIndices ? duplicates : kept.map((i) => docs[i]!);
  }

  /** k-means (k-means++ seeding, nInit restarts) on the normalised embeddings of docs. */
  cluster(docs: readonly string[], k: number, opts: ClusterOptions = {}): ClusterResult {
    if (this.binary) throw new UserError('cluster: needs dense embeddings; load the model with binary: false');
    if (Number.isInteger(k) && k > docs.length) throw new UserError(`cluster: k = ${k} is larger than the number of docs (${docs.length})`);
    const { labels, inertia } = kmeans(this.embed(docs, { norm: true }), k, opts);
    return { labels, inertia };
  }

  /** Semantic chunks of `text`: each ≤ targetSize characters, concatenating to exactly `text`. */
  split(text: string, opts: SplitOptions = {}): string[] {
    checkSplitInput(this, text);
    return semanticSplit(text, (pieces) => this.embed(pieces, { norm: true }), opts);
  }
}

/** What `split` and its two-core form (split/parallel.ts) require: dense embeddings and a string. */
export function checkSplitInput(model: StaticModel, text: unknown): asserts text is string {
  if (model.binary) throw new UserError('split: needs dense embeddings; load the model with binary: false');
  if (typeof text !== 'string') throw new UserError('split: text must be a string');
}
