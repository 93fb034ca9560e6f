/**
 * A Hugging Face tokenizer.json rebuilt from a GGUF file's `tokenizer.ggml.*` metadata, so a GGUF source
 * tokenizes like the model's original tokenizer without a separate download.
 *
 * What GGUF stores is what llama.cpp's converter (convert_hf_to_gguf.py: _set_vocab_sentencepiece,
 * _set_vocab_gpt2, get_vocab_base) writes and llama.cpp's loader (src/llama-vocab.cpp) reads: the token
 * strings by id, per-token scores and types, BPE merges (byte-level models only), a pre-tokenizer name, the
 * special ids and whether BOS/EOS are added. Two families are rebuilt:
 *   - `llama` (sentencepiece BPE: Llama-2, Mistral): a BPE model with byte fallback whose merges are derived
 *     from the scores (tokenizer-spm.ts), normalizer Prepend("▁") + Replace(" " → "▁") (Prepend only when
 *     `add_space_prefix`, default true), as Llama-2's tokenizer.json has it;
 *   - `gpt2` (byte-level BPE: Llama-3, Qwen2/2.5/3) with the stored merges and the pre-tokenizer that
 *     `tokenizer.ggml.pre` names (tokenizer-pre.ts).
 * Control tokens (type 3) and user-defined tokens (type 4) become added tokens, special and not special, so
 * their text in the input maps to their id as in the original. Every id keeps its row: the rebuilt
 * vocabulary has exactly `tokenizer.ggml.tokens.length` ids, like `token_embd.weight`.
 *
 * Pure: no Node built-ins.
 */
import type { TextTokenizer, TokenizerJson } from '../../tokenize/tokenizer.js';
import { UserError } from '../../util/errors.js';
import { GGUF_VALUE_TYPE, type GgufMetadataEntry } from './header.js';
import { byteLevelRecipe, supportedBytePreNames, type ByteLevelRecipe } from './tokenizer-pre.js';
import { mergesFromScores } from './tokenizer-spm.js';

/** The metadata keys read here, as llama.cpp spells them (including its "seperator"). */
export const GGUF_TOKENIZER_KEYS = {
  model: 'tokenizer.ggml.model',
  pre: 'tokenizer.ggml.pre',
  tokens: 'tokenizer.ggml.tokens',
  scores: 'tokenizer.ggml.scores',
  tokenType: 'tokenizer.ggml.token_type',
  merges: 'tokenizer.ggml.merges',
  bosId: 'tokenizer.ggml.bos_token_id',
  eosId: 'tokenizer.ggml.eos_token_id',
  unkId: 'tokenizer.ggml.unknown_token_id',
  padId: 'tokenizer.ggml.padding_token_id',
  sepId: 'tokenizer.ggml.seperator_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  addEos: 'tokenizer.ggml.add_eos_token',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
} as const;

/** llama.cpp's token types (`llama_token_type`); 0 (undefined) counts as normal. */
export const GGUF_TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface GgufSpecialIds {
  readonly bos?: number;
  readonly eos?: number;
  readonly unk?: number;
  readonly pad?: number;
  readonly sep?: number;
}

export interface GgufTokenizer {
  /** Loads with `createTokenizer` (src/tokenize/tokenizer.ts). */
  readonly json: TokenizerJson;
  /** `tokenizer.ggml.model`. */
  readonly model: 'llama' | 'gpt2';
  /** The pre-tokenizer: `default` for sentencepiece, else the canonical name of `tokenizer.ggml.pre`. */
  readonly pre: string;
  readonly specialIds: GgufSpecialIds;
  /** Whether encoding with special tokens adds BOS / EOS (the post-processor). */
  readonly addBos: boolean;
  readonly addEos: boolean;
  /**
   * Default for `[model] pad_token`: the padding token when the file names one, else EOS (WordLlama pads
   * Llama-2 with "</s>", Llama-3 with "<|end_of_text|>"); undefined when the file has neither.
   */
  readonly padToken: string | undefined;
}

type Metadata = ReadonlyMap<string, GgufMetadataEntry>;

const K = GGUF_TOKENIZER_KEYS;
const TT = GGUF_TOKEN_TYPE;
const SPIECE_UNDERLINE = '\u2581';
const BYTE_PIECE = /^<0x[0-9A-F]{2}>$/;

/** Build the tokenizer.json and special-token facts from GGUF metadata (`readGgufHeader(...).metadata`). */
export function tokenizerJsonFromGguf(metadata: Metadata, source = 'model.gguf'): GgufTokenizer {
  const meta: MetadataReader = new MetadataReader(metadata, source);
  const model = meta.string(K.model);
  if (model === undefined) meta.fail(K.model, "is missing; the file carries no tokenizer (use the model repo's tokenizer.json)");
  const tokens = meta.strings(K.tokens);
  if (tokens === undefined || tokens.length === 0) meta.fail(K.tokens, 'is missing or empty');
  const n = tokens.length;
  const types = meta.integers(K.tokenType, n) ?? new Array<number>(n).fill(TT.NORMAL);
  const pre = meta.string(K.pre);

  if (model === 'llama') {
    if (pre !== undefined && pre !== 'default') refusePre(meta, pre, model);
    return spmTokenizer(meta, tokens, types);
  }
  if (model === 'gpt2') {
    const recipe = pre === undefined ? undefined : byteLevelRecipe(pre);
    if (!recipe) refusePre(meta, pre, model);
    return byteLevelTokenizer(meta, tokens, types, recipe);
  }
  return meta.fail(K.model, `is "${model}"; supported: "llama" (sentencepiece BPE) and "gpt2" (byte-level BPE)`);
}

function refusePre(meta: MetadataReader, pre: string | undefined, model: string): never {
  const supported = model === 'llama' ? ['default'] : supportedBytePreNames();
  const got = pre === undefined ? 'is missing' : `is "${pre}"`;
  return meta.fail(K.pre, `${got}, not a pre-tokenizer supported for model "${model}" (supported: ${supported.join(', ')})`);
}

function spmTokenizer(meta: MetadataReader, tokens: string[], types: number[]): GgufTokenizer {
  const n = tokens.length;
  const scores = meta.numbers(K.scores, n);
  if (scores === undefined) meta.fail(K.scores, 'is missing; a sentencepiece ("llama") vocabulary needs its scores to rank merges');
  // llama.cpp's defaults for sentencepiece files: unk 0, bos 1, eos 2, BOS added, EOS not, space prefix.
  const specialIds = readSpecialIds(meta, n, SPM_DEFAULT_IDS);
  const addBos = meta.bool(K.addBos) ?? true;
  const addEos = meta.bool(K.addEos) ?? false;
  const addSpacePrefix = meta.bool(K.addSpacePrefix) ?? true;

  // Merges join ordinary and user-defined pieces (Gemma's runs of newlines are user-defined and have merges in
  // its tokenizer.json); never control, unknown, byte or unused tokens.
  const mergeable = (id: number) => types[id] === TT.NORMAL || types[id] === TT.USER_DEFINED || types[id] === 0;
  const merges = mergesFromScores(tokens, scores, mergeable);
  const byteFallback = types.some((t, id) => t === TT.BYTE && BYTE_PIECE.test(tokens[id]!));
  const json = bpeTokenizerJson({
    addedTokens: addedTokens(tokens, types, true),
    normalizer: addSpacePrefix
      ? {
          type: 'Sequence',
          normalizers: [
            { type: 'Prepend', prepend: SPIECE_UNDERLINE },
            { type: 'Replace', pattern: { String: ' ' }, content: SPIECE_UNDERLINE },
          ],
        }
      : { type: 'Replace', pattern: { String: ' ' }, content: SPIECE_UNDERLINE },
    preTokenizer: null,
    postProcessor: postProcessor(tokens, specialIds, addBos, addEos),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPIECE_UNDERLINE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    unkToken: specialIds.unk === undefined ? null : tokens[specialIds.unk]!,
    fuseUnk: true,
    byteFallback,
    ignoreMerges: false,
    // The sentencepiece vocabulary holds every piece, control tokens included (as Llama-2's tokenizer.json).
    vocab: vocabObject(tokens, () => true),
    merges,
  });
  return finish(json, 'llama', 'default', tokens, specialIds, addBos, addEos);
}

function byteLevelTokenizer(meta: MetadataReader, tokens: string[], types: number[], recipe: ByteLevelRecipe): GgufTokenizer {
  const n = tokens.length;
  const rawMerges = meta.strings(K.merges);
  if (rawMerges === undefined) meta.fail(K.merges, 'is missing; a byte-level BPE ("gpt2") vocabulary needs its merges');
  // llama.cpp splits each merge at the first space after the first byte (a part may itself start with one).
  const merges = rawMerges.map((m, i): [string, string] => {
    const cut = m.indexOf(' ', 1);
    if (cut < 0) meta.fail(K.merges, `entry ${i} is ${JSON.stringify(m.slice(0, 40))}, not two tokens separated by a space`);
    return [m.slice(0, cut), m.slice(cut + 1)];
  });
  const specialIds = readSpecialIds(meta, n, {});
  const addBos = meta.bool(K.addBos) ?? recipe.addBosDefault;
  const addEos = meta.bool(K.addEos) ?? false;
  const isAdded = (id: number) => types[id] === TT.CONTROL || types[id] === TT.USER_DEFINED;
  const json = bpeTokenizerJson({
    addedTokens: addedTokens(tokens, types, false),
    normalizer: recipe.normalizer,
    preTokenizer: recipe.preTokenizer,
    postProcessor: postProcessor(tokens, specialIds, addBos, addEos),
    decoder: recipe.decoder,
    unkToken: specialIds.unk === undefined ? null : tokens[specialIds.unk]!,
    fuseUnk: false,
    byteFallback: false,
    ignoreMerges: recipe.ignoreMerges,
    // Added tokens live outside the model vocabulary (as in Llama-3's and Qwen's tokenizer.json), so the
    // BPE model (with `ignore_merges`, a whole word found in its vocabulary) can never produce one.
    vocab: vocabObject(tokens, (id) => !isAdded(id)),
    merges,
  });
  return finish(json, 'gpt2', recipe.name, tokens, specialIds, addBos, addEos);
}

/** The parts in which the two rebuilt families differ; `bpeTokenizerJson` lays them out as a tokenizer.json. */
interface BpeParts {
  addedTokens: NonNullable<TokenizerJson['added_tokens']>;
  normalizer: unknown;
  preTokenizer: unknown;
  postProcessor: unknown;
  decoder: unknown;
  unkToken: string | null;
  fuseUnk: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
  vocab: Record<string, number>;
  merges: [string, string][];
}

/** The tokenizer.json of a BPE model, written once for both families (no truncation, padding, dropout or affixes). */
function bpeTokenizerJson(p: BpeParts): TokenizerJson {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: p.addedTokens,
    normalizer: p.normalizer,
    pre_tokenizer: p.preTokenizer,
    post_processor: p.postProcessor,
    decoder: p.decoder,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: p.unkToken,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: p.fuseUnk,
      byte_fallback: p.byteFallback,
      ignore_merges: p.ignoreMerges,
      vocab: p.vocab,
      merges: p.merges,
    },
  };
}

function finish(
  json: TokenizerJson,
  model: 'llama' | 'gpt2',
  pre: string,
  tokens: string[],
  specialIds: GgufSpecialIds,
  addBos: boolean,
  addEos: boolean,
): GgufTokenizer {
  return { json, model, pre, specialIds, addBos, addEos, padToken: padDefault(specialIds, tokens)?.token };
}

/** llama.cpp's special ids of a sentencepiece ("llama") file that states none (llama-vocab.cpp); byte-level files have none. */
const SPM_DEFAULT_IDS: GgufSpecialIds = { unk: 0, bos: 1, eos: 2 };

/**
 * The pad token a file implies, decided here only: its padding token, else EOS. llama.cpp itself leaves the pad
 * id unset (LLAMA_TOKEN_NULL) when `tokenizer.ggml.padding_token_id` is absent, and its converter writes that key
 * only when the original tokenizer has a pad token; WordLlama's configs pad the models that lack one with EOS
 * (Llama-2 "</s>", Llama-3 "<|end_of_text|>", Qwen2 "<|endoftext|>"). Pooling only skips the pad id, so EOS is safe.
 */
function padDefault(ids: GgufSpecialIds, tokens: string[]): { token: string; id: number; key: string } | undefined {
  const [id, key] = ids.pad !== undefined ? [ids.pad, K.padId] : [ids.eos, K.eosId];
  return id === undefined ? undefined : { token: tokens[id]!, id, key };
}

/**
 * The pad-token default of a GGUF file (see `padDefault`) without rebuilding its tokenizer, so it serves also
 * when the tokenizer comes from elsewhere (`tokenizer_repo`) or the file's pre-tokenizer is not supported.
 * Undefined when the file has no token list or names neither token.
 */
export function ggufPadToken(metadata: Metadata, source = 'model.gguf'): { token: string; from: string } | undefined {
  const meta = new MetadataReader(metadata, source);
  const tokens = meta.strings(K.tokens);
  if (tokens === undefined || tokens.length === 0) return undefined;
  const ids = readSpecialIds(meta, tokens.length, meta.string(K.model) === 'llama' ? SPM_DEFAULT_IDS : {});
  const pad = padDefault(ids, tokens);
  if (!pad) return undefined;
  const stated = metadata.has(pad.key) ? `${pad.key} ${pad.id}` : `llama.cpp's default EOS id ${pad.id}`;
  return { token: pad.token, from: `${source}: ${stated}` };
}

/** token → id for the ids `keep` accepts; a repeated string keeps its first id. Built so "__proto__" is a key. */
function vocabObject(tokens: string[], keep: (id: number) => boolean): Record<string, number> {
  const seen = new Set<string>();
  const entries: [string, number][] = [];
  tokens.forEach((t, id) => {
    if (keep(id) && !seen.has(t)) {
      seen.add(t);
      entries.push([t, id]);
    }
  });
  return Object.fromEntries(entries);
}

/**
 * Control and unknown tokens become special added tokens, user-defined ones plain added tokens; both match
 * their exact text in the input before normalization, as llama.cpp's special-token partition does.
 * Sentencepiece's unknown piece is special in Llama-2's tokenizer.json; byte-level files mark none unknown.
 */
function addedTokens(tokens: string[], types: number[], unknownIsSpecial: boolean): NonNullable<TokenizerJson['added_tokens']> {
  const added: NonNullable<TokenizerJson['added_tokens']> = [];
  types.forEach((t, id) => {
    const special = t === TT.CONTROL || (unknownIsSpecial && t === TT.UNKNOWN);
    if (special || t === TT.USER_DEFINED) {
      added.push({ id, content: tokens[id]!, single_word: false, lstrip: false, rstrip: false, normalized: false, special } as never);
    }
  });
  return added;
}

/** TemplateProcessing that adds BOS and/or EOS around each sequence (as Llama-2's tokenizer.json), or none. */
function postProcessor(tokens: string[], ids: GgufSpecialIds, addBos: boolean, addEos: boolean): unknown {
  const bos = addBos ? ids.bos : undefined;
  const eos = addEos ? ids.eos : undefined;
  if (bos === undefined && eos === undefined) return null;
  const special = (id: number | undefined, typeId: number) => (id === undefined ? [] : [{ SpecialToken: { id: tokens[id]!, type_id: typeId } }]);
  const seq = (name: 'A' | 'B', typeId: number) => [...special(bos, typeId), { Sequence: { id: name, type_id: typeId } }, ...special(eos, typeId)];
  const specialTokens: Record<string, { id: string; ids: number[]; tokens: string[] }> = {};
  for (const id of [bos, eos]) if (id !== undefined) specialTokens[tokens[id]!] = { id: tokens[id]!, ids: [id], tokens: [tokens[id]!] };
  return { type: 'TemplateProcessing', single: seq('A', 0), pair: [...seq('A', 0), ...seq('B', 1)], special_tokens: specialTokens };
}

function readSpecialIds(meta: MetadataReader, n: number, defaults: GgufSpecialIds): GgufSpecialIds {
  const out: { -readonly [k in keyof GgufSpecialIds]: number } = {};
  const keys: [keyof GgufSpecialIds, string][] = [
    ['bos', K.bosId],
    ['eos', K.eosId],
    ['unk', K.unkId],
    ['pad', K.padId],
    ['sep', K.sepId],
  ];
  for (const [name, key] of keys) {
    const id = meta.tokenId(key, n) ?? defaults[name];
    if (id !== undefined && id < n) out[name] = id;
  }
  return out;
}

/** Typed access to metadata values; a wrong type or length is one line naming the key. */
class MetadataReader {
  constructor(
    private readonly metadata: Metadata,
    readonly source: string,
  ) {}

  fail(key: string, what: string): never {
    throw new UserError(`${this.source}: GGUF metadata "${key}" ${what}`);
  }

  private entry(key: string): GgufMetadataEntry | undefined {
    return this.metadata.get(key);
  }

  string(key: string): string | undefined {
    const e = this.entry(key);
    if (e === undefined) return undefined;
    if (typeof e.value !== 'string') this.fail(key, `must be a string, got GGUF value type ${e.type}`);
    return e.value;
  }

  bool(key: string): boolean | undefined {
    const e = this.entry(key);
    if (e === undefined) return undefined;
    if (typeof e.value !== 'boolean') this.fail(key, `must be a bool, got GGUF value type ${e.type}`);
    return e.value;
  }

  /** A token id: a non-negative integer. Ids past the vocabulary are ignored, as llama.cpp does. */
  tokenId(key: string, n: number): number | undefined {
    const e = this.entry(key);
    if (e === undefined) return undefined;
    const v = e.value;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(key, `must be a token id (an integer in 0..${n - 1}), got ${String(v)}`);
    return v;
  }

  private array(key: string, itemTypes: readonly number[], what: string, length?: number): unknown[] | undefined {
    const e = this.entry(key);
    if (e === undefined) return undefined;
    if (e.type !== GGUF_VALUE_TYPE.ARRAY || e.itemType === undefined || !itemTypes.includes(e.itemType) || !Array.isArray(e.value)) {
      this.fail(key, `must be an array of ${what}`);
    }
    if (length !== undefined && e.value.length !== length) {
      this.fail(key, `has ${e.value.length} entries but "${K.tokens}" has ${length}; the file is damaged (re-download it)`);
    }
    return e.value;
  }

  strings(key: string, length?: number): string[] | undefined {
    return this.array(key, [GGUF_VALUE_TYPE.STRING], 'strings', length) as string[] | undefined;
  }

  numbers(key: string, length: number): number[] | undefined {
    const v = this.array(key, [GGUF_VALUE_TYPE.FLOAT32, GGUF_VALUE_TYPE.FLOAT64], 'floats', length) as number[] | undefined;
    const bad = v?.findIndex((x) => !Number.isFinite(x)) ?? -1;
    if (bad >= 0) this.fail(key, `entry ${bad} is ${String(v![bad])}, not a finite number`);
    return v;
  }

  integers(key: string, length: number): number[] | undefined {
    const T = GGUF_VALUE_TYPE;
    return this.array(key, [T.INT32, T.UINT32, T.INT8, T.UINT8, T.INT16, T.UINT16], 'integers', length) as number[] | undefined;
  }
}

/** The first text of `sample` on which two tokenizers give different ids (without special tokens). */
export interface TokenizerMismatch {
  readonly index: number;
  readonly text: string;
  readonly fromGguf: number[];
  readonly original: number[];
}

/**
 * For a repo that holds both a GGUF file and the original tokenizer.json: the original is preferred, and this
 * checks the GGUF-derived tokenizer encodes `sample` identically. Returns the first mismatch, or undefined.
 */
export function checkTokenizersAgree(fromGguf: TextTokenizer, original: TextTokenizer, sample: Iterable<string>): TokenizerMismatch | undefined {
  let index = 0;
  for (const text of sample) {
    const a = fromGguf.encode(text);
    const b = original.encode(text);
    if (a.length !== b.length || a.some((id, i) => id !== b[i])) return { index, text, fromGguf: a, original: b };
    index++;
  }
  return undefined;
}
