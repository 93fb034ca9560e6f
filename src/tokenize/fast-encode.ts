/**
 * Word-level cached tokenization that is exactly equal to the plain `encode` (without special tokens).
 *
 * Static-embedding inference is dominated by tokenization, and text repeats at the word level far more than at
 * the sentence level. A text is cut into *pieces* at every ASCII space that follows a non-whitespace character
 * ("the cat sat" → "the", " cat", " sat"); each piece's token ids are computed once by the real tokenizer and
 * cached. Concatenating the pieces' ids equals encoding the whole text only when the tokenizer's normalizer,
 * pre-tokenizer and model cannot join or influence tokens across such a cut, so `analyzeTokenizer` accepts a
 * configuration only when it can show that (see `docs/library.md` for the argument per family) and otherwise
 * the encoder falls back to plain `encode`:
 *
 * - char-local normalizers only (BertNormalizer, Lowercase, NFC/NFD/NFKC/NFKD, StripAccents, Prepend, Replace of
 *   a literal string without a space, or of " " itself; normalizers that insert spaces only before a pre-tokenizer
 *   that splits at them);
 * - pre-tokenizers that split at spaces without looking across them (Bert/Whitespace/WhitespaceSplit, ByteLevel's
 *   GPT-2 regex, the Llama-3/Qwen-2/GPT-2 `Split` regexes; Punctuation/Digits beside them; `Split " "` once
 *   spaces were replaced);
 * - when spaces become a meta-symbol (SentencePiece `▁`) and the model sees several words at once (Llama-2,
 *   Gemma; @huggingface/tokenizers' Metaspace never splits), no vocabulary token may hold `▁` right after
 *   another character (tokens that do, like Gemma's `>▁</` or `▁▁`, only disable cuts after that character),
 *   and the model must be BPE: a Unigram Viterbi over several words depends on float rounding of the prefix;
 * - texts holding an added token's text (e.g. `</s>`) are encoded plainly, since added tokens cut sections.
 *
 * With a `Prepend` normalizer (Llama-2: `▁` before every section) a later piece " w" is encoded as "w", whose
 * prepended `▁` stands for the space; texts ending in a space take the plain path there.
 * Pure (browser-safe). The cache is bounded (two generations) so memory stays flat over millions of texts.
 */
import type { TextTokenizer } from './tokenizer.ts';
import { createFastBpe, grow } from './bpe.ts';

export type FastEncodeMode = 'keep' | 'strip' | 'plain';

export interface TokenizerAnalysis {
  /** keep: encode pieces as they are; strip: drop one leading space of later pieces; plain: no cache. */
  mode: FastEncodeMode;
  /** Why the mode was chosen (for `pipeline tokens` and tests). */
  reason: string;
  /** Char codes after which a space must not start a new piece (vocab tokens join across it). */
  noCutAfter: Set<number>;
  /** Whether the model fuses consecutive UNK tokens (joins must fuse them too). */
  fuseUnk: boolean;
}

export interface FastEncoder {
  readonly analysis: TokenizerAnalysis;
  /** Token ids of `text` without special tokens, equal to `tokenizer.encode(text)`. */
  encode(text: string): number[];
  /**
   * Append the ids of `text` to `out` starting at `offset` (growing it when needed); returns the buffer and the
   * new end. The allocation-free path used by pooling.
   */
  encodeInto(text: string, out: Int32Array, offset: number): { out: Int32Array; end: number };
  /** What encodes a cache miss: the fast BPE (bpe.ts, with its configuration) or the library, and why. */
  readonly missModel: string;
  /** Cache statistics since creation. */
  stats(): { hits: number; misses: number; plain: number; entries: number; bypassed: number };
  clear(): void;
}

interface NormalizerJson {
  type?: string;
  normalizers?: NormalizerJson[];
  pattern?: { String?: string; Regex?: string };
  content?: string;
  prepend?: string;
  strip_left?: boolean;
  strip_right?: boolean;
}

interface PreTokenizerJson {
  type?: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: { String?: string; Regex?: string };
  behavior?: string;
  invert?: boolean;
  use_regex?: boolean;
  replacement?: string;
  split?: boolean;
  prepend_scheme?: string;
}

const META = '\u2581';

/** Regexes whose matches never hold a non-whitespace character followed by a space (checked in docs/library.md). */
const SAFE_SPLIT_REGEXES = new Set([
  // GPT-2 / ByteLevel default
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  // Llama-3
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  // Qwen-2 / Qwen-3
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
]);

function flatten<T extends { type?: string }>(node: T | null | undefined, key: 'normalizers' | 'pretokenizers'): T[] {
  if (!node) return [];
  if (node.type === 'Sequence') {
    const list = (node as Record<string, unknown>)[key] as T[] | undefined;
    return (list ?? []).flatMap((n) => flatten(n, key));
  }
  return [node];
}

/** Decide whether (and how) word-level caching is exact for this tokenizer. */
export function analyzeTokenizer(tok: TextTokenizer): TokenizerAnalysis {
  const plain = (reason: string): TokenizerAnalysis => ({ mode: 'plain', reason, noCutAfter: new Set(), fuseUnk: false });
  const json = tok.json;
  const engine = tok.engine as unknown as { remove_space?: boolean; do_lowercase_and_remove_accent?: boolean };
  if (engine.remove_space === true) return plain('tokenizer_config remove_space collapses whitespace');
  if (engine.do_lowercase_and_remove_accent) return plain('tokenizer_config do_lowercase_and_remove_accent');
  const model = json.model as Record<string, unknown>;
  const modelType = String(model.type ?? tok.modelType);
  if (!['BPE', 'Unigram', 'WordPiece', 'WordLevel'].includes(modelType)) return plain(`model type ${modelType}`);

  let mode: FastEncodeMode = 'keep';
  // What a space has become by the time the model sees it: itself, a meta symbol, or removed by a splitter.
  let spaceAs: string = ' ';
  let spaceSplits = false;
  let prependSeen = false;
  // After `Replace /\s+/ → " "` every whitespace run is one space; only a final `Strip` may follow it.
  let collapsed = false;
  // A normalizer that inserts spaces (Replace "!" → " ! ", BertNormalizer around CJK characters) makes the
  // character before a cut differ from the raw one: fine when a pre-tokenizer splits at spaces, not otherwise.
  let insertsSpace = false;
  for (const n of flatten(json.normalizer as NormalizerJson | null, 'normalizers')) {
    if (collapsed && n.type !== 'Strip') return plain(`normalizer ${n.type} after whitespace collapsing`);
    switch (n.type) {
      case 'BertNormalizer':
        if ((n as { handle_chinese_chars?: boolean }).handle_chinese_chars !== false) insertsSpace = true;
        break;
      case 'Lowercase':
      case 'NFC':
      case 'NFD':
      case 'NFKC':
      case 'NFKD':
      case 'StripAccents':
        break;
      case 'Prepend':
        // Prepend before the spaces are replaced (Llama-2): the prefix plays the role of the cut-off space.
        if (prependSeen || spaceAs !== ' ' || n.prepend !== META) return plain(`normalizer Prepend ${JSON.stringify(n.prepend)}`);
        prependSeen = true;
        mode = 'strip';
        break;
      case 'Strip':
        // Strip both ends after collapsing: every piece becomes its words joined by single spaces, exactly the
        // whole text's words joined by single spaces (model2vec's vocabulary-quantized Unigram tokenizers).
        if (!collapsed || n.strip_left === false || n.strip_right === false) return plain('normalizer Strip');
        break;
      case 'Replace': {
        const pat = n.pattern?.String;
        if (n.pattern?.Regex === '\\s+' && n.content === ' ' && spaceAs === ' ' && !prependSeen) {
          collapsed = true;
          break;
        }
        if (pat === undefined) return plain('normalizer Replace with a regex');
        if (pat === ' ') {
          if (spaceAs !== ' ' || typeof n.content !== 'string' || n.content.length !== 1 || /\s/.test(n.content)) {
            return plain(`normalizer Replace " " → ${JSON.stringify(n.content)}`);
          }
          spaceAs = n.content;
        } else if (pat.length === 0 || pat.includes(' ') || pat.includes(spaceAs)) {
          return plain(`normalizer Replace of ${JSON.stringify(pat)}`);
        } else if (typeof n.content !== 'string' || n.content.includes(' ') || n.content.includes(META) || n.content.includes(spaceAs)) {
          insertsSpace = true;
        }
        break;
      }
      default:
        return plain(`normalizer ${n.type}`);
    }
  }
  if (prependSeen && spaceAs !== META) return plain('Prepend without replacing spaces');
  for (const p of flatten(json.pre_tokenizer as PreTokenizerJson | null, 'pretokenizers')) {
    switch (p.type) {
      case 'BertPreTokenizer':
      case 'Whitespace':
      case 'WhitespaceSplit':
        if (spaceAs !== ' ') return plain(`${p.type} after spaces were replaced`);
        spaceSplits = true;
        break;
      case 'Punctuation':
      case 'Digits':
        break;
      case 'Metaspace': {
        // @huggingface/tokenizers' Metaspace never splits (whatever `split` says): the model sees "▁w1▁w2…".
        if (mode === 'strip') return plain('Metaspace after a Prepend normalizer');
        if (spaceAs !== ' ') return plain('Metaspace after spaces were replaced');
        spaceAs = p.replacement ?? META;
        break;
      }
      case 'ByteLevel':
        if (p.use_regex === false) break;
        spaceSplits = true;
        break;
      case 'Split': {
        if (p.pattern?.Regex !== undefined && p.invert === true && spaceAs !== ' ' && p.pattern.Regex === `${spaceAs}[^${spaceAs}]*`) {
          // Words kept as "▁…" runs (sentencepiece.ts' converter, e.g. USE-lite): every "▁" starts a pre-token.
          spaceSplits = true;
        } else if (p.pattern?.Regex !== undefined) {
          if (!SAFE_SPLIT_REGEXES.has(p.pattern.Regex) || p.behavior !== 'Isolated' || p.invert) {
            return plain('Split pre-tokenizer with an unrecognised regex');
          }
          spaceSplits = true;
        } else if (p.pattern?.String === ' ') {
          // Splitting at a literal space that the normalizer already replaced is a no-op.
          if (spaceAs === ' ') return plain('Split at " " keeps the space with a neighbour');
        } else {
          return plain(`Split pre-tokenizer on ${JSON.stringify(p.pattern)}`);
        }
        break;
      }
      default:
        return plain(`pre-tokenizer ${p.type}`);
    }
  }
  if (insertsSpace && !spaceSplits) return plain('normalizer inserts spaces and no pre-tokenizer splits at them');
  if (modelType === 'Unigram' && !spaceSplits) {
    // One Viterbi over "▁w1▁w2…": its scores accumulate across words, and with the few distinct scores of real
    // vocabularies, rounding of those sums breaks ties differently than per word (seen on model2vec's fixture).
    return plain('Unigram over several words at once (Viterbi ties depend on the prefix score)');
  }
  const noCutAfter = new Set<number>();
  if (!spaceSplits && spaceAs !== ' ') {
    // The model sees whole "▁word▁word" strings: a cut is exact only where no token spans it.
    // Includes "▁" itself when tokens like "▁▁" exist: a literal "▁" typed in the text right before a space
    // would otherwise be cut from the "▁" that space becomes.
    for (const token of vocabTokens(tok)) {
      for (let i = 1; i < token.length; i++) {
        if (token[i] === spaceAs) noCutAfter.add(token.charCodeAt(i - 1));
      }
    }
    if (noCutAfter.size > 64) return plain(`tokens join words across "${spaceAs}" after ${noCutAfter.size} different characters`);
  } else if (!spaceSplits) {
    return plain('no pre-tokenizer separates words');
  }
  // @huggingface/tokenizers' Unigram always fuses consecutive UNKs (across pre-tokens too).
  const fuseUnk = model.fuse_unk === true || modelType === 'Unigram';
  const why = `${mode === 'strip' ? 'Prepend+' : ''}${spaceSplits ? 'space-splitting pre-tokenizer' : `words joined by "${spaceAs}", no token spans a cut`}`;
  return { mode, reason: why, noCutAfter, fuseUnk };
}

function vocabTokens(tok: TextTokenizer): Iterable<string> {
  const vocab = tok.json.model.vocab;
  if (Array.isArray(vocab)) return vocab.map((e) => (Array.isArray(e) ? String(e[0]) : String(e)));
  if (vocab && typeof vocab === 'object') return Object.keys(vocab as object);
  return [];
}

function isWhitespaceCode(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** Added-token texts grouped by first character, for a quick "could this text contain one?" test. */
function addedTokenIndex(tok: TextTokenizer): Map<number, string[]> {
  const byFirst = new Map<number, string[]>();
  for (const t of tok.json.added_tokens ?? []) {
    if (!t.content) continue;
    const c = t.content.charCodeAt(0);
    const list = byFirst.get(c) ?? [];
    list.push(t.content);
    byFirst.set(c, list);
  }
  return byFirst;
}

/** Probes of the load-time self-check: spacing, punctuation, contractions, digits, accents, emoji, case. */
const SELF_CHECK = [
  'Hello, world!',
  'a  b   c',
  ' leading and trailing ',
  "It's 2024: the naïve café costs 3.50€ 😀.",
  'x\ty \n z\r\n w',
  'ΣΑΣ İstanbul ＦＵＬＬ',
  'the the the quick quick',
];

export interface FastEncoderOptions {
  /** Cached pieces kept (two generations of half each); default 200 000. */
  maxEntries?: number;
  /** Force plain encoding (for comparisons). */
  disable?: boolean;
  /** Encode cache misses with the library's BPE instead of the exact fast one in bpe.ts (for comparisons). */
  libraryBpe?: boolean;
  /**
   * Misses the library encodes before the fast BPE's tables are built; default one per 16 merges (see
   * `fastBpeAfterMisses`). 0 builds them on the first miss.
   */
  fastBpeAfterMisses?: number;
}

/**
 * When to build the fast BPE, as in ski rental: its tables cost about 2 µs per merge to build (0.2 s for
 * Llama-2's 61k merges, 1–2 s for Gemma-3's 514k), and each miss it encodes saves about 30 µs of the library's
 * BPE, so building after merges / 16 library misses spends at most about as much on the library as the build
 * costs. A call that embeds a few sentences never pays for the tables; a corpus pays for them once, early.
 */
export function fastBpeAfterMisses(tok: TextTokenizer): number {
  const merges = (tok.json.model as { merges?: unknown[] } | undefined)?.merges;
  return Math.ceil((Array.isArray(merges) ? merges.length : 0) / 16);
}

export function createFastEncoder(tok: TextTokenizer, opts: FastEncoderOptions = {}): FastEncoder {
  const analysis: TokenizerAnalysis = opts.disable
    ? { mode: 'plain' as const, reason: 'disabled', noCutAfter: new Set<number>(), fuseUnk: false }
    : analyzeTokenizer(tok);
  const miss = new MissEncoder(tok, analysis, opts);
  const cache = new PieceCache(Math.max(1, Math.floor((opts.maxEntries ?? 200_000) / 2)), (source) => miss.ids(source));
  const watch = new MissRateWatch();
  const holdsAddedToken = addedTokenTest(addedTokenIndex(tok));
  const unk = tok.unkId ?? -1;
  const strip = analysis.mode === 'strip';
  // A flag table (one byte per UTF-16 code unit) keeps the per-character check to an array load.
  const noCutFlag = new Uint8Array(65536);
  for (const c of analysis.noCutAfter) noCutFlag[c] = 1;
  let plainCount = 0;

  const appendPlain = (text: string, out: Int32Array, offset: number) => {
    plainCount++;
    const ids = tok.encode(text);
    out = grow(out, offset + ids.length);
    for (let i = 0; i < ids.length; i++) out[offset + i] = ids[i]!;
    return { out, end: offset + ids.length };
  };

  const encodeInto = (text: string, out: Int32Array, offset: number): { out: Int32Array; end: number } => {
    if (analysis.mode === 'plain' || holdsAddedToken(text)) return appendPlain(text, out, offset);
    if (watch.bypassThisText()) return appendPlain(text, out, offset);
    if (strip && text.charCodeAt(text.length - 1) === 32) return appendPlain(text, out, offset);
    let end = offset;
    let start = 0;
    const n = text.length;
    // Pieces: the first runs to the first space that follows a non-whitespace char; each later piece starts there.
    // Pieces are keyed by their text; the first piece is keyed with a leading \u0000 marker in strip mode, since
    // there the first piece is encoded whole and later ones without their first space.
    const emit = (s: number, e: number) => {
      const piece = text.slice(s, e);
      let ids: Int32Array;
      if (!strip) ids = cache.ids(piece, piece);
      else if (s === 0) ids = cache.ids('\u0000' + piece, piece);
      else ids = cache.ids(piece, piece.slice(1));
      out = grow(out, end + ids.length);
      let k = 0;
      if (analysis.fuseUnk && end > offset && ids.length > 0 && ids[0] === unk && out[end - 1] === unk) k = 1;
      for (; k < ids.length; k++) out[end++] = ids[k]!;
    };
    const missesBefore = cache.misses;
    const hitsBefore = cache.hits;
    for (let i = 1; i < n; i++) {
      if (text.charCodeAt(i) !== 32) continue;
      const prev = text.charCodeAt(i - 1);
      if (noCutFlag[prev] === 1 || isWhitespaceCode(prev)) continue;
      emit(start, i);
      start = i;
    }
    if (n > 0) emit(start, n);
    watch.record(cache.misses - missesBefore, cache.hits - hitsBefore);
    return { out, end };
  };

  // Safety net for configurations the analysis did not foresee: a few probes must match plain encoding exactly,
  // else the encoder stays plain. (Costs a few encodes at load.) The cutting is checked against the library's
  // model here; the fast BPE checks itself when first built.
  if (analysis.mode !== 'plain') {
    miss.withLibrary(() => {
      for (const probe of SELF_CHECK) {
        const want = tok.encode(probe);
        const { out, end } = encodeInto(probe, new Int32Array(64), 0);
        if (want.length !== end || want.some((id, i) => out[i] !== id)) {
          analysis.reason = `self-check failed on ${JSON.stringify(probe)} (${analysis.reason})`;
          analysis.mode = 'plain';
          break;
        }
      }
    });
    cache.reset();
    watch.reset();
    plainCount = 0;
  }

  return {
    analysis,
    encode(text: string): number[] {
      if (analysis.mode === 'plain') {
        plainCount++;
        return tok.encode(text);
      }
      const { out, end } = encodeInto(text, new Int32Array(Math.max(16, text.length)), 0);
      return Array.from(out.subarray(0, end));
    },
    encodeInto,
    get missModel() {
      return miss.description;
    },
    stats: () => ({ hits: cache.hits, misses: cache.misses, plain: plainCount, entries: cache.entries, bypassed: watch.bypassed }),
    clear: () => cache.clear(),
  };
}

/**
 * What encodes a piece the cache has not seen: bpe.ts' exact BPE where it mirrors the model, else the library.
 * The fast BPE's tables are built once enough misses have gone through the library to pay for them
 * (`fastBpeAfterMisses`), so loading a model to embed a few texts does not pay for them; the self-check probes
 * then run through it too, and any difference keeps the library.
 */
class MissEncoder {
  private model: string;
  private libraryLeft: number;
  private readonly buildAfter: number;
  private encodeMiss: (source: string) => Int32Array;
  private readonly library = (source: string) => Int32Array.from(this.tok.encode(source));

  constructor(
    private readonly tok: TextTokenizer,
    analysis: TokenizerAnalysis,
    opts: FastEncoderOptions,
  ) {
    this.model = analysis.mode === 'plain' ? 'none (plain encode)' : opts.libraryBpe ? 'library BPE (asked)' : '';
    this.buildAfter = opts.fastBpeAfterMisses ?? fastBpeAfterMisses(tok);
    this.libraryLeft = this.buildAfter;
    this.encodeMiss = this.model !== '' ? this.library : (source) => this.untilBuilt(source);
  }

  ids(source: string): Int32Array {
    return this.encodeMiss(source);
  }

  get description(): string {
    return this.model === '' ? `not built yet (the library encodes the first ${this.buildAfter} misses)` : this.model;
  }

  /** Runs `work` with misses encoded by the library (the cutting's self-check), then restores the miss model. */
  withLibrary(work: () => void): void {
    const kept = this.encodeMiss;
    this.encodeMiss = this.library;
    try {
      work();
    } finally {
      this.encodeMiss = kept;
    }
  }

  private untilBuilt(source: string): Int32Array {
    if (this.libraryLeft-- > 0) return this.library(source);
    const { bpe, reason } = createFastBpe(this.tok);
    this.model = bpe ? reason : `library (${reason})`;
    this.encodeMiss = this.library;
    if (bpe) {
      const probe = SELF_CHECK.find((p) => bpe.encode(p).join() !== this.tok.encode(p).join());
      if (probe === undefined) this.encodeMiss = bpe.encode;
      else this.model = `library (fast BPE differed on ${JSON.stringify(probe)})`;
    }
    return this.encodeMiss(source);
  }
}

/** The word cache: two generations of `generation` pieces each, so memory stays flat over millions of texts. */
class PieceCache {
  hits = 0;
  misses = 0;
  private young = new Map<string, Int32Array>();
  private old = new Map<string, Int32Array>();

  constructor(
    private readonly generation: number,
    private readonly encodeMiss: (source: string) => Int32Array,
  ) {}

  /** Ids of one piece, from the cache or the miss encoder. `key` differs from `source` only for strip-mode pieces. */
  ids(key: string, source: string): Int32Array {
    let ids = this.young.get(key);
    if (ids !== undefined) {
      this.hits++;
      return ids;
    }
    ids = this.old.get(key);
    if (ids === undefined) {
      this.misses++;
      ids = this.encodeMiss(source);
    } else {
      this.hits++;
    }
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, ids);
    return ids;
  }

  get entries(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  reset(): void {
    this.clear();
    this.hits = this.misses = 0;
  }
}

/**
 * Text that never repeats (random strings, hashes) makes every piece a miss, and encoding pieces one by one costs
 * about twice a plain whole-text encode. Watch the miss rate per window of 1024 pieces; above 70%, encode the next
 * 8192 texts plainly, then look again. Natural text stays far below: on STS-B even the first window of an empty
 * cache misses 21% (34% at most); random letters miss ~99%. Both paths give the same ids.
 */
class MissRateWatch {
  static readonly WINDOW = 1024;
  static readonly BYPASS_TEXTS = 8192;
  bypassed = 0;
  private pieces = 0;
  private missed = 0;
  private bypass = 0;

  /** Whether this text is encoded plainly (counted). */
  bypassThisText(): boolean {
    if (this.bypass === 0) return false;
    this.bypass--;
    this.bypassed++;
    return true;
  }

  record(misses: number, hits: number): void {
    this.missed += misses;
    this.pieces += misses + hits;
    if (this.pieces >= MissRateWatch.WINDOW) {
      if (this.missed > 0.7 * this.pieces) this.bypass = MissRateWatch.BYPASS_TEXTS;
      this.pieces = 0;
      this.missed = 0;
    }
  }

  reset(): void {
    this.bypassed = this.pieces = this.missed = 0;
  }
}

/** Whether a text holds an added token's text (those texts are encoded plainly: added tokens cut sections). */
function addedTokenTest(added: Map<number, string[]>): (text: string) => boolean {
  const addedFirst = new Uint8Array(65536);
  for (const c of added.keys()) addedFirst[c] = 1;
  return (text) => {
    if (added.size === 0) return false;
    for (let i = 0; i < text.length; i++) {
      if (addedFirst[text.charCodeAt(i)] === 0) continue;
      for (const content of added.get(text.charCodeAt(i))!) if (text.startsWith(content, i)) return true;
    }
    return false;
  };
}
