/**
 * An exact, faster stand-in for @huggingface/tokenizers' BPE model, used by the word cache on a miss.
 *
 * The library's BPE (its `BPE.bpe`) keeps a word's symbols as linked objects, looks every candidate pair up by
 * `JSON.stringify([left, right])` in a Map of strings and orders candidates by `rank + position / length` in a
 * heap of objects. The merges it makes are fully determined by that order: repeatedly merge the adjacent pair
 * with the lowest merge rank, the leftmost on ties (the same order as Hugging Face tokenizers' Rust
 * `models/bpe/word.rs`, whose heap orders by (rank, position)). Here the same order is kept with plain numbers:
 *
 * - every string that can take part in a merge (vocabulary tokens, both sides and the result of every merge)
 *   gets a symbol number; single characters map to symbols through a 65,536-entry table (a Map above U+FFFF);
 * - merges live in an open-addressing table keyed by (left symbol, right symbol) → (rank, merged symbol), with
 *   the last of duplicate merges winning, as in the library's `new Map(merges.map(...))`;
 * - a word's symbols are an Int32Array linked list; candidates sit in a binary min-heap keyed by
 *   rank × 2³² + position, and an entry is stale when its left symbol changed since (a version counter).
 *
 * Around the model, everything else is the library's own code, called as its `encode` does: the added-token
 * splitters (a text holding an added token's text is handed to the library whole), the normalizer, the
 * pre-tokenizer. After the merges, the output follows the library's `BPE.encode` and `TokenizerModel._call`:
 * `ignore_merges` takes a word in the vocabulary as it is, a symbol outside the vocabulary becomes its UTF-8
 * bytes `<0xNN>` when `byte_fallback` is set and every byte token exists, else the UNK token (if any), and
 * `fuse_unk` keeps one of consecutive UNKs within a section. Ids are looked up exactly as `Tokenizer.encode`
 * maps tokens to ids (added tokens first).
 *
 * `createFastBpe` returns null (use the library) for what it does not mirror: a model other than BPE, dropout,
 * `end_of_word_suffix`, `continuing_subword_prefix`/`_suffix`, a post-processor other than TemplateProcessing /
 * ByteLevel (which change nothing without special tokens), tokenizer_config `remove_space` /
 * `do_lowercase_and_remove_accent`, or UNK settings whose id the library itself would leave undefined.
 * Pure (browser-safe).
 */
import type { TextTokenizer } from './tokenizer.ts';

/** The parts of @huggingface/tokenizers' internals this module reads (plain JS properties of its classes). */
interface EngineInternals {
  model: {
    tokens_to_ids: Map<string, number>;
    unk_token_id?: number;
    unk_token?: string | null;
    merges: [string, string][];
    byte_fallback?: boolean;
    ignore_merges?: boolean;
    fuse_unk?: boolean;
    end_of_word_suffix?: string | null;
    continuing_subword_suffix?: string | null;
  };
  normalizer: ((text: string) => string) | null;
  pre_tokenizer: ((text: string, options: { section_index: number }) => string[]) | null;
  added_tokens: { content: string; normalized?: boolean }[];
  added_tokens_map: Map<string, { id: number }>;
  remove_space?: boolean;
  do_lowercase_and_remove_accent?: boolean;
}

export interface FastBpe {
  /** Token ids of `text` without special tokens, equal to `tokenizer.encode(text)`. */
  encode(text: string): Int32Array;
  /** Appends the model's ids for one pre-token (a word as the model sees it) to `out`; returns the new end. */
  encodeWord(word: string, out: Int32Array, end: number): { out: Int32Array; end: number };
}

export interface FastBpeResult {
  bpe: FastBpe | null;
  /** Why the library is used instead (when `bpe` is null), or which configuration is mirrored. */
  reason: string;
}

const HIGH = 2 ** 32;

/** Decide whether the fast BPE mirrors this tokenizer, and build its tables if so. */
export function createFastBpe(tok: TextTokenizer): FastBpeResult {
  const reason = unsupportedReason(tok);
  if (reason !== undefined) return { bpe: null, reason };
  const engine = tok.engine as unknown as EngineInternals;
  const tables = buildTables(engine.model, (engine.model as { vocab?: unknown }).vocab as string[], engine.added_tokens_map);
  if (typeof tables === 'string') return { bpe: null, reason: tables };
  const merger = new WordMerger(tables);
  const holdsAddedToken = addedTokenTest(engine);
  // Ids of one text are built here, then copied out at their exact length (the word cache keeps them).
  let scratch: Int32Array = new Int32Array(256);
  const encode = (text: string): Int32Array => {
    if (text.length === 0) return new Int32Array(0);
    if (holdsAddedToken.raw(text)) return Int32Array.from(tok.encode(text));
    const normalized = engine.normalizer !== null ? engine.normalizer(text) : text;
    if (normalized.length === 0) return new Int32Array(0);
    if (holdsAddedToken.normalized(normalized)) return Int32Array.from(tok.encode(text));
    const words = engine.pre_tokenizer !== null ? engine.pre_tokenizer(normalized, { section_index: 0 }) : [normalized];
    let out: Int32Array = scratch;
    let end = 0;
    merger.startSection();
    for (const w of words) ({ out, end } = merger.encodeWord(w, out, end));
    scratch = out;
    return out.slice(0, end);
  };
  const m = engine.model;
  const flags = [tables.byteFallback && 'byte fallback', tables.ignoreMerges && 'ignore_merges', tables.fuseUnk && 'fuse_unk'].filter(Boolean).join(', ');
  return {
    bpe: {
      encode,
      encodeWord: (word, out, end) => {
        merger.startSection();
        return merger.encodeWord(word, out, end);
      },
    },
    reason: `fast BPE over ${m.merges.length} merges${flags ? ` (${flags})` : ''}`,
  };
}

/** What the fast BPE does not mirror (the library is used then), or undefined when it mirrors this tokenizer. */
function unsupportedReason(tok: TextTokenizer): string | undefined {
  const model = tok.json.model as Record<string, unknown>;
  if (model.type !== 'BPE') return `model type ${String(model.type ?? tok.modelType)}`;
  if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0) return `BPE dropout ${String(model.dropout)}`;
  // The library tests these by truthiness ("" is off), so "" is mirrored as unset.
  if (model.end_of_word_suffix) return 'BPE end_of_word_suffix';
  if (model.continuing_subword_prefix) return 'BPE continuing_subword_prefix';
  if (model.continuing_subword_suffix) return 'BPE continuing_subword_suffix';
  const post = tok.json.post_processor as { type?: string } | null | undefined;
  if (post && post.type !== 'TemplateProcessing' && post.type !== 'ByteLevel') return `post-processor ${post.type}`;
  const engine = tok.engine as unknown as EngineInternals;
  if (engine.remove_space === true || engine.do_lowercase_and_remove_accent) return 'tokenizer_config text rewriting';
  const m = engine.model;
  if (!(m.tokens_to_ids instanceof Map) || !Array.isArray(m.merges) || !Array.isArray((m as { vocab?: unknown }).vocab)) {
    return 'unexpected @huggingface/tokenizers internals';
  }
  if (m.fuse_unk === true && m.unk_token_id === undefined) return 'fuse_unk without an UNK id';
  return undefined;
}

/** Everything a word's merges and its output need, as numbers. */
interface BpeTables {
  /** Symbol → its string (vocabulary ids first, then strings only merges name). */
  symStr: string[];
  symOf: (s: string) => number | undefined;
  rankOf: (left: number, right: number) => number;
  mergeResult: Int32Array;
  /** Per symbol: output id (-1: not in the vocabulary) and whether fuse_unk treats it as UNK. */
  symOut: Int32Array;
  symUnkish: Uint8Array;
  charSym: Int32Array;
  astralSym: Map<number, number>;
  /** Per byte: the id of `<0xNN>` (-1: none) and whether it counts as UNK. */
  byteOut: Int32Array;
  byteUnkish: Uint8Array;
  /** UNK's output id (-1: no UNK token) and whether it counts as UNK. */
  unkOut: number;
  unkOutIsUnkish: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
  fuseUnk: boolean;
}

/** Build the symbol, merge and output tables, or say why the model cannot be mirrored. */
function buildTables(m: EngineInternals['model'], vocabStr: string[], addedMap: EngineInternals['added_tokens_map']): BpeTables | string {
  const toIds = m.tokens_to_ids;
  const unkId = m.unk_token_id;
  const unkToken = m.unk_token ?? null;
  // What `Tokenizer.encode` gives a token string: its added token's id, else the vocabulary's, else UNK.
  const finalId = (t: string): number | undefined => addedMap.get(t)?.id ?? toIds.get(t) ?? unkId;
  const isUnkish = (t: string) => (toIds.get(t) ?? unkId) === unkId;
  let unkOut = -1;
  if (unkToken !== null) {
    const id = finalId(unkToken);
    if (id === undefined) return `UNK token ${JSON.stringify(unkToken)} has no id`;
    unkOut = id;
  }

  // Symbols: every string a merge can see or make. A vocabulary token's symbol is its id (the library's own
  // `tokens_to_ids` Map serves as the lookup, so no second Map of the whole vocabulary is built); strings that
  // only merges name get numbers after the largest id.
  let maxId = -1;
  for (const [t, id] of toIds) {
    if (vocabStr[id] !== t) return `token id ${id} is shared by several strings`;
    if (id > maxId) maxId = id;
  }
  const extraOf = new Map<string, number>();
  const symStr: string[] = [];
  for (let i = 0; i <= maxId; i++) symStr.push(typeof vocabStr[i] === 'string' && toIds.get(vocabStr[i]!) === i ? vocabStr[i]! : '');
  const symIn = (s: string): number => {
    const id = toIds.get(s);
    if (id !== undefined) return id;
    let x = extraOf.get(s);
    if (x === undefined) {
      x = symStr.length;
      extraOf.set(s, x);
      symStr.push(s);
    }
    return x;
  };
  const merges = m.merges;
  const mergeLeft = new Int32Array(merges.length);
  const mergeRight = new Int32Array(merges.length);
  const mergeResult = new Int32Array(merges.length);
  for (let r = 0; r < merges.length; r++) {
    const [a, b] = merges[r]!;
    mergeLeft[r] = symIn(a);
    mergeRight[r] = symIn(b);
    mergeResult[r] = symIn(a + b);
  }
  const nSym = symStr.length;
  const symOut = new Int32Array(nSym).fill(-1);
  const symUnkish = new Uint8Array(nSym);
  for (const [t, s] of toIds) {
    const id = finalId(t);
    if (id === undefined) return `token ${JSON.stringify(t)} has no id`;
    symOut[s] = id;
    symUnkish[s] = isUnkish(t) ? 1 : 0;
  }
  const charSym = new Int32Array(65536).fill(-1);
  const astralSym = new Map<number, number>();
  for (let s = 0; s < nSym; s++) {
    const t = symStr[s]!;
    if (t.length === 1) charSym[t.charCodeAt(0)] = s;
    else if (t.length === 2 && t.codePointAt(0)! > 0xffff) astralSym.set(t.codePointAt(0)!, s);
  }
  const byteOut = new Int32Array(256).fill(-1);
  const byteUnkish = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    const t = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    if (!toIds.has(t)) continue;
    byteOut[b] = finalId(t)!;
    byteUnkish[b] = isUnkish(t) ? 1 : 0;
  }
  return {
    symStr,
    symOf: (s) => toIds.get(s) ?? extraOf.get(s),
    rankOf: mergeTable(mergeLeft, mergeRight),
    mergeResult,
    symOut,
    symUnkish,
    charSym,
    astralSym,
    byteOut,
    byteUnkish,
    unkOut,
    unkOutIsUnkish: unkToken !== null && isUnkish(unkToken),
    byteFallback: m.byte_fallback === true,
    ignoreMerges: m.ignore_merges === true,
    fuseUnk: m.fuse_unk === true,
  };
}

/**
 * The merge table: open addressing, linear probing, keyed by (left, right) symbol; a later duplicate (same pair)
 * overwrites the rank. Returns the lookup: the rank of merging (a, b), or -1.
 */
function mergeTable(left: Int32Array, right: Int32Array): (a: number, b: number) => number {
  let cap = 1;
  while (cap < left.length * 2 + 2) cap <<= 1;
  const mask = cap - 1;
  const keyLeft = new Int32Array(cap).fill(-1);
  const keyRight = new Int32Array(cap);
  const slotRank = new Int32Array(cap);
  const hash = (a: number, b: number) => (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77)) >>> 0;
  for (let r = 0; r < left.length; r++) {
    const a = left[r]!;
    const b = right[r]!;
    let i = hash(a, b) & mask;
    while (keyLeft[i] !== -1 && (keyLeft[i] !== a || keyRight[i] !== b)) i = (i + 1) & mask;
    keyLeft[i] = a;
    keyRight[i] = b;
    slotRank[i] = r;
  }
  return (a, b) => {
    let i = hash(a, b) & mask;
    for (;;) {
      const k = keyLeft[i]!;
      if (k === -1) return -1;
      if (k === a && keyRight[i] === b) return slotRank[i]!;
      i = (i + 1) & mask;
    }
  };
}

/** `out` when it holds `need` ids, else a copy at least twice as long (for ids appended one text at a time). */
export function grow(out: Int32Array, need: number): Int32Array {
  if (need <= out.length) return out;
  const bigger = new Int32Array(Math.max(need, out.length * 2, 64));
  bigger.set(out);
  return bigger;
}

/**
 * One word's merges and output over reusable scratch (grown on demand): symbol, next/prev index, original code
 * point and version per position, and the candidate heap (key rank × 2³² + position, with the version the left
 * position had when the entry was pushed).
 */
class WordMerger {
  private size = 0;
  private sym = new Int32Array(0);
  private next = new Int32Array(0);
  private prev = new Int32Array(0);
  private cps = new Int32Array(0);
  private ver = new Int32Array(0);
  private heapKey = new Float64Array(0);
  private heapVer = new Int32Array(0);
  private heapLen = 0;
  // fuse_unk state across the words of one section (the library fuses over one model call).
  private lastUnkish = false;
  private readonly utf8 = new TextEncoder();

  constructor(private readonly t: BpeTables) {}

  startSection(): void {
    this.lastUnkish = false;
  }

  private ensure(n: number): void {
    if (n <= this.size) return;
    this.size = Math.max(n, this.size * 2, 64);
    this.sym = new Int32Array(this.size);
    this.next = new Int32Array(this.size);
    this.prev = new Int32Array(this.size);
    this.cps = new Int32Array(this.size);
    this.ver = new Int32Array(this.size);
    // Each merge pushes at most two entries: n - 1 initial pairs + 2 per merge.
    this.heapKey = new Float64Array(3 * this.size);
    this.heapVer = new Int32Array(3 * this.size);
  }

  private push(key: number, v: number): void {
    const { heapKey, heapVer } = this;
    let i = this.heapLen++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heapKey[p]! <= key) break;
      heapKey[i] = heapKey[p]!;
      heapVer[i] = heapVer[p]!;
      i = p;
    }
    heapKey[i] = key;
    heapVer[i] = v;
  }

  /** Removes the root (read heapKey[0]/heapVer[0] before calling). */
  private pop(): void {
    const { heapKey, heapVer } = this;
    const last = --this.heapLen;
    if (last === 0) return;
    const key = heapKey[last]!;
    const v = heapVer[last]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && heapKey[c + 1]! < heapKey[c]!) c++;
      if (heapKey[c]! >= key) break;
      heapKey[i] = heapKey[c]!;
      heapVer[i] = heapVer[c]!;
      i = c;
    }
    heapKey[i] = key;
    heapVer[i] = v;
  }

  /** Queue the pair starting at position i (its right neighbour is next[i]) when a merge exists. */
  private offer(i: number): void {
    const a = this.sym[i]!;
    const b = this.sym[this.next[i]!]!;
    if (a < 0 || b < 0) return;
    const r = this.t.rankOf(a, b);
    if (r >= 0) this.push(r * HIGH + i, this.ver[i]!);
  }

  private emitId(id: number, unkish: boolean, out: Int32Array, end: number): number {
    if (this.t.fuseUnk && unkish && this.lastUnkish) return end;
    this.lastUnkish = unkish;
    out[end] = id;
    return end + 1;
  }

  /** A symbol outside the vocabulary: byte fallback, else UNK, else nothing (as the library's BPE.encode). */
  private emitUnknown(text: string, out: Int32Array, end: number): { out: Int32Array; end: number } {
    const t = this.t;
    if (t.byteFallback) {
      const bytes = this.utf8.encode(text);
      let all = true;
      for (let k = 0; k < bytes.length; k++) if (t.byteOut[bytes[k]!]! < 0) all = false;
      if (all) {
        out = grow(out, end + bytes.length);
        for (let k = 0; k < bytes.length; k++) end = this.emitId(t.byteOut[bytes[k]!]!, t.byteUnkish[bytes[k]!] === 1, out, end);
        return { out, end };
      }
    }
    if (t.unkOut >= 0) {
      out = grow(out, end + 1);
      end = this.emitId(t.unkOut, t.unkOutIsUnkish, out, end);
    }
    return { out, end };
  }

  /** Load a word's code points (Array.from semantics: a lone surrogate is its own character); returns their count. */
  private load(word: string): number {
    const { charSym, astralSym } = this.t;
    const { sym, cps, prev, next, ver } = this;
    let n = 0;
    for (let i = 0; i < word.length; i++) {
      let c = word.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < word.length) {
        const d = word.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      sym[n] = c <= 0xffff ? charSym[c]! : (astralSym.get(c) ?? -1);
      cps[n] = c;
      prev[n] = n - 1;
      next[n] = n + 1;
      ver[n] = 0;
      n++;
    }
    next[n - 1] = -1;
    return n;
  }

  /** Merge the loaded word: lowest rank first, leftmost on ties, skipping entries made stale by earlier merges. */
  private mergeAll(n: number): void {
    const { sym, next, prev, ver } = this;
    this.heapLen = 0;
    for (let i = 0; i + 1 < n; i++) if (sym[i]! >= 0 && sym[i + 1]! >= 0) this.offer(i);
    while (this.heapLen > 0) {
      const key = this.heapKey[0]!;
      const v = this.heapVer[0]!;
      this.pop();
      const i = key % HIGH;
      // Stale: the left symbol was merged away (ver -1), or it or its right neighbour changed since.
      if (ver[i] !== v) continue;
      const r = (key - i) / HIGH;
      const j = next[i]!;
      sym[i] = this.t.mergeResult[r]!;
      const k = next[j]!;
      next[i] = k;
      if (k !== -1) prev[k] = i;
      ver[j] = -1;
      ver[i] = ver[i]! + 1;
      const p = prev[i]!;
      if (p !== -1) {
        ver[p] = ver[p]! + 1;
        this.offer(p);
      }
      if (k !== -1) this.offer(i);
    }
  }

  encodeWord(word: string, out: Int32Array, end: number): { out: Int32Array; end: number } {
    if (word.length === 0) return { out, end };
    const t = this.t;
    if (t.ignoreMerges) {
      const s = t.symOf(word);
      if (s !== undefined && t.symOut[s]! >= 0) {
        out = grow(out, end + 1);
        return { out, end: this.emitId(t.symOut[s]!, t.symUnkish[s] === 1, out, end) };
      }
    }
    this.ensure(word.length);
    const n = this.load(word);
    this.mergeAll(n);
    out = grow(out, end + n);
    for (let i = 0; i !== -1; i = this.next[i]!) {
      const s = this.sym[i]!;
      if (s >= 0 && t.symOut[s]! >= 0) {
        end = this.emitId(t.symOut[s]!, t.symUnkish[s] === 1, out, end);
      } else {
        ({ out, end } = this.emitUnknown(s >= 0 ? t.symStr[s]! : String.fromCodePoint(this.cps[i]!), out, end));
      }
    }
    return { out, end };
  }
}

/**
 * Whether a text holds an added token's text: raw (before the normalizer), or normalized for `normalized` added
 * tokens. Such texts go to the library, whose added-token splitter cuts them.
 */
function addedTokenTest(engine: EngineInternals): { raw: (text: string) => boolean; normalized: (text: string) => boolean } {
  const rawFirst = new Uint8Array(65536);
  const normFirst = new Uint8Array(65536);
  const raw: string[] = [];
  const norm: string[] = [];
  for (const t of engine.added_tokens) {
    if (!t.content) continue;
    const normalized = t.normalized === true && engine.normalizer !== null ? engine.normalizer(t.content) : null;
    if (normalized === null) {
      raw.push(t.content);
      rawFirst[t.content.charCodeAt(0)] = 1;
    } else if (normalized.length > 0) {
      norm.push(normalized);
      normFirst[normalized.charCodeAt(0)] = 1;
    }
  }
  const holds = (text: string, first: Uint8Array, list: string[]): boolean => {
    if (list.length === 0) return false;
    for (let i = 0; i < text.length; i++) {
      if (first[text.charCodeAt(i)] === 0) continue;
      for (const c of list) if (text.startsWith(c, i)) return true;
    }
    return false;
  };
  return { raw: (text) => holds(text, rawFirst, raw), normalized: (text) => holds(text, normFirst, norm) };
}
