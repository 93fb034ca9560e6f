/**
 * The reverse of src/sources/gguf/tokenizer.ts for tests: a real tokenizer.json (+ tokenizer_config.json) →
 * the `tokenizer.ggml.*` metadata llama.cpp's converter would write for it, mirroring convert_hf_to_gguf.py
 * (_set_vocab_sentencepiece / _create_vocab_sentencepiece, _set_vocab_gpt2 / get_vocab_base,
 * does_token_look_special) and gguf-py's SpecialVocab (gguf/vocab.py: special ids from tokenizer_config.json,
 * add_bos/add_eos from the TemplateProcessing post-processor and the config).
 *
 * One departure: the converter reads a sentencepiece model's scores from tokenizer.model, which the test
 * fixtures do not have (tokenizer.json drops them). Sentencepiece's BPE trainer scores pieces −0, −1, −2, …
 * in the order they were learnt, and transformers ranks tokenizer.json's merges by the joined piece's score,
 * so the order is recoverable: a piece scores −(its rank among pieces by first merge), and pieces no merge
 * makes (single characters) follow by id. Control, unknown and byte pieces score 0, as sentencepiece writes
 * them; added tokens from tokenizer_config.json −1000, as the converter does.
 */
import { GGUF_TOKEN_TYPE, GGUF_TOKENIZER_KEYS } from '../../src/sources/gguf/tokenizer.js';
import { GGUF_VALUE_TYPE as T, readGgufHeader, type GgufHeader } from '../../src/sources/gguf/header.js';
import type { TokenizerJson } from '../../src/tokenize/tokenizer.js';
import { memorySource, writeGguf, type MetaEntry } from './gguf-writer.js';

export interface ConvertOptions {
  /** tokenizer_config.json: special tokens by text, add_bos_token / add_eos_token, added_tokens_decoder. */
  tokenizerConfig?: Record<string, unknown>;
  /** config.json's vocab_size: ids the tokenizer lacks become "[PAD<id>]" (unused), as the converter pads. */
  vocabSize?: number;
  /** tokenizer.ggml.pre for byte-level BPE (the converter finds it by hashing the tokenizer's output). */
  pre?: string;
  /** tokenizer.ggml.add_space_prefix, which model-specific converters set (Gemma: false). */
  addSpacePrefix?: boolean;
}

const TT = GGUF_TOKEN_TYPE;
const K = GGUF_TOKENIZER_KEYS;
const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

/** convert_hf_to_gguf.py's does_token_look_special. */
function looksSpecial(token: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(token) ||
    (token.startsWith('<|') && token.endsWith('|>')) ||
    (token.startsWith('<｜') && token.endsWith('｜>')) ||
    (token.startsWith('<unused') && token.endsWith('>'))
  );
}

/** The metadata entries, in the converter's order. */
export function ggufTokenizerMetadata(json: TokenizerJson, opts: ConvertOptions = {}): MetaEntry[] {
  const model = json.model as {
    type?: string;
    vocab: Record<string, number>;
    merges: (string | [string, string])[];
    byte_fallback?: boolean;
    unk_token?: string;
  };
  if (model.type !== 'BPE') throw new Error(`test helper: only BPE tokenizer.json files are converted, got ${String(model.type)}`);
  return model.byte_fallback ? sentencepieceMetadata(json, model, opts) : byteLevelMetadata(json, model, opts);
}

function sentencepieceMetadata(
  json: TokenizerJson,
  model: { vocab: Record<string, number>; merges: (string | [string, string])[]; unk_token?: string },
  opts: ConvertOptions,
): MetaEntry[] {
  const n = opts.vocabSize ?? Object.keys(model.vocab).length;
  const tokens = new Array<string>(n);
  for (const [piece, id] of Object.entries(model.vocab)) tokens[id] = piece;
  const special = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.id));
  const types = new Array<number>(n).fill(TT.NORMAL);
  const scores = new Array<number>(n).fill(0);
  // sentencepiece's own types: unknown, control (the special added tokens), byte pieces.
  for (let id = 0; id < n; id++) {
    const piece = tokens[id];
    if (piece === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TT.UNUSED;
      scores[id] = -10000;
    } else if (piece === model.unk_token) types[id] = TT.UNKNOWN;
    else if (special.has(id)) types[id] = TT.CONTROL;
    else if (BYTE_PIECE.test(piece)) types[id] = TT.BYTE;
  }
  // Scores in learnt order, recovered from the merge ranks (see the header comment).
  let rank = 0;
  const ranked = new Set<number>();
  for (const m of model.merges) {
    const [l, r] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    const id = model.vocab[l + r]!;
    if (!ranked.has(id)) {
      ranked.add(id);
      scores[id] = -rank++;
    }
  }
  for (let id = 0; id < n; id++) if (types[id] === TT.NORMAL && !ranked.has(id)) scores[id] = -rank++;
  // tokenizer_config.json's added_tokens_decoder overrides, as _create_vocab_sentencepiece applies it.
  const decoder = (opts.tokenizerConfig?.added_tokens_decoder ?? {}) as Record<string, AddedToken>;
  for (const [idText, t] of Object.entries(decoder)) {
    const id = Number(idText);
    const isControl = t.special === true || looksSpecial(t.content);
    types[id] = isControl ? TT.CONTROL : TT.USER_DEFINED;
    tokens[id] = isControl ? t.content : t.content.replaceAll('\u2581', ' ');
    scores[id] = -1000;
  }
  return [
    { key: K.model, type: T.STRING, value: 'llama' },
    { key: K.pre, type: T.STRING, value: 'default' },
    { key: K.tokens, type: T.ARRAY, itemType: T.STRING, value: tokens },
    { key: K.scores, type: T.ARRAY, itemType: T.FLOAT32, value: scores },
    { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: types },
    ...specialVocab(json, opts.tokenizerConfig),
    ...(opts.addSpacePrefix === undefined ? [] : [{ key: K.addSpacePrefix, type: T.BOOL, value: opts.addSpacePrefix }]),
  ];
}

function byteLevelMetadata(
  json: TokenizerJson,
  model: { vocab: Record<string, number>; merges: (string | [string, string])[] },
  opts: ConvertOptions,
): MetaEntry[] {
  if (opts.pre === undefined) throw new Error('test helper: byte-level BPE needs opts.pre (tokenizer.ggml.pre)');
  const reverse = new Map<number, string>();
  for (const [t, id] of Object.entries(model.vocab)) reverse.set(id, t);
  const added = new Map<string, AddedToken>();
  for (const t of json.added_tokens ?? []) {
    reverse.set(t.id, t.content);
    added.set(t.content, t);
  }
  const n = opts.vocabSize ?? reverse.size;
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < n; id++) {
    const token = reverse.get(id);
    if (token === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(TT.UNUSED);
    } else if (added.has(token)) {
      const isControl = added.get(token)!.special === true || looksSpecial(token);
      tokens.push(isControl ? token : token.replaceAll('\u2581', ' '));
      types.push(isControl ? TT.CONTROL : TT.USER_DEFINED);
    } else {
      tokens.push(token);
      types.push(TT.NORMAL);
    }
  }
  // gguf-py's SpecialVocab writes pair-form merges as "a b", a space inside a part as U+0120.
  const space = String.fromCharCode(' '.charCodeAt(0) + 256);
  const merges = model.merges.map((m) => (typeof m === 'string' ? m : m.map((part) => part.replaceAll(' ', space)).join(' ')));
  return [
    { key: K.model, type: T.STRING, value: 'gpt2' },
    { key: K.pre, type: T.STRING, value: opts.pre },
    { key: K.tokens, type: T.ARRAY, itemType: T.STRING, value: tokens },
    { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: types },
    { key: K.merges, type: T.ARRAY, itemType: T.STRING, value: merges },
    ...specialVocab(json, opts.tokenizerConfig),
  ];
}

/** gguf-py SpecialVocab, the parts that apply to these tokenizers: special ids and add_bos / add_eos. */
function specialVocab(json: TokenizerJson, config: Record<string, unknown> | undefined): MetaEntry[] {
  const out: MetaEntry[] = [];
  const add: Record<string, boolean> = {};
  const post = json.post_processor as { type?: string; processors?: unknown[]; single?: { SpecialToken?: { id: string } }[] } | null | undefined;
  for (const p of (post?.processors ?? (post ? [post] : [])) as (typeof post)[]) {
    if (p?.type !== 'TemplateProcessing' || (p.single?.length ?? 0) < 2) continue;
    const single = p.single!;
    if (single[0]!.SpecialToken) add.bos = true;
    if (single.at(-1)!.SpecialToken) add.eos = true;
  }
  if (config) {
    const keys: [string, string][] = [
      ['bos', K.bosId],
      ['eos', K.eosId],
      ['unk', K.unkId],
      ['sep', K.sepId],
      ['pad', K.padId],
    ];
    for (const [typ, key] of keys) {
      const entry = config[`${typ}_token`] as string | { content?: string } | null | undefined;
      const content = typeof entry === 'string' ? entry : entry?.content;
      const id = (json.added_tokens ?? []).find((t) => t.content === content)?.id;
      if (id !== undefined) out.push({ key, type: T.UINT32, value: id });
      const flag = config[`add_${typ}_token`];
      if (typeof flag === 'boolean') add[typ] = flag;
    }
  }
  if (add.bos !== undefined) out.push({ key: K.addBos, type: T.BOOL, value: add.bos });
  if (add.eos !== undefined) out.push({ key: K.addEos, type: T.BOOL, value: add.eos });
  return out;
}

/** Writes the entries as a GGUF v3 file (no tensors) and reads them back through the real header parser. */
export async function throughGgufFile(entries: MetaEntry[]): Promise<GgufHeader> {
  return readGgufHeader(memorySource(writeGguf(entries, [])));
}
