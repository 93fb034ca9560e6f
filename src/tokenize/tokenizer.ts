/**
 * A tokenizer.json (any Hugging Face family: BPE, byte-level BPE, Unigram, WordPiece) loaded through
 * @huggingface/tokenizers, with the facts the pipeline needs: special/pad/UNK ids and vocabulary size.
 * Pure: no Node built-ins (the browser loads models through this too).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../util/errors.ts';
import { findTokenizerRegexHazard } from './regex-safety.ts';

/**
 * The part of @huggingface/tokenizers' `Tokenizer` used outside this file, declared here: that package's .d.ts
 * uses extensionless relative imports, which consumers type-checking with `moduleResolution: node16` reject, so
 * its types must not appear in ours.
 */
export interface TokenizerEngine {
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
  decode(ids: number[], options?: Record<string, unknown>): string;
}

export interface TextTokenizer {
  /** Token ids of `text`, without special tokens unless asked (WordLlama and model2vec embed without them). */
  encode(text: string, addSpecialTokens?: boolean): number[];
  /** Token pieces, aligned with `encode`. */
  tokens(text: string, addSpecialTokens?: boolean): string[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Largest id + 1 over the model vocabulary and added tokens. */
  readonly vocabSize: number;
  /** Ids of added special tokens (BOS/EOS/PAD/...). */
  readonly specialIds: ReadonlySet<number>;
  /** The model's UNK id, when it has one. */
  readonly unkId: number | undefined;
  /** The model type from tokenizer.json (`BPE`, `Unigram`, `WordPiece`, `WordLevel`). */
  readonly modelType: string;
  /** The parsed tokenizer.json, for code that needs the normalizer/pre-tokenizer description. */
  readonly json: TokenizerJson;
  readonly engine: TokenizerEngine;
}

export interface TokenizerJson {
  model: { type?: string; unk_token?: string | null; unk_id?: number | null; vocab?: unknown; [k: string]: unknown };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  decoder?: unknown;
  [k: string]: unknown;
}

export function parseTokenizerJson(text: string, source: string): TokenizerJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || !('model' in json) || typeof (json as TokenizerJson).model !== 'object') {
    throw new UserError(`${source}: not a tokenizer.json (no "model" object)`);
  }
  return json as TokenizerJson;
}

/** Build a tokenizer from a parsed tokenizer.json (and optional tokenizer_config.json). */
export function createTokenizer(json: TokenizerJson, config: Record<string, unknown> = {}, source = 'tokenizer.json'): TextTokenizer {
  // Refused before the engine compiles it: such a pattern would hang on the first text with a long run.
  const hazard = findTokenizerRegexHazard(json);
  if (hazard) {
    throw new UserError(
      `${source}: ${hazard.where} ${hazard.type} regex ${JSON.stringify(hazard.regex)} can backtrack catastrophically at ${JSON.stringify(hazard.fragment)} (${hazard.reason}); refusing this tokenizer: use the model's original tokenizer.json`,
    );
  }
  let engine: Tokenizer;
  try {
    engine = new Tokenizer(json, config);
  } catch (err) {
    throw new UserError(`${source}: cannot build tokenizer (${(err as Error).message})`);
  }
  const vocab = engine.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  const specialIds = new Set<number>();
  for (const t of json.added_tokens ?? []) if (t.special) specialIds.add(t.id);
  let unkId: number | undefined;
  if (typeof json.model.unk_id === 'number') unkId = json.model.unk_id;
  else if (typeof json.model.unk_token === 'string') unkId = engine.token_to_id(json.model.unk_token);
  return {
    encode: (text, addSpecialTokens = false) => engine.encode(text, { add_special_tokens: addSpecialTokens }).ids,
    tokens: (text, addSpecialTokens = false) => engine.encode(text, { add_special_tokens: addSpecialTokens }).tokens,
    tokenToId: (token) => engine.token_to_id(token),
    idToToken: (id) => engine.id_to_token(id),
    vocabSize: maxId + 1,
    specialIds,
    unkId,
    modelType: String(json.model.type ?? (json.model.vocab && Array.isArray(json.model.vocab) ? 'Unigram' : 'unknown')),
    json,
    engine,
  };
}

/** Resolve a pad token by text (e.g. "<eos>", "</s>") and fail with the special tokens listed. */
export function requireTokenId(tok: TextTokenizer, token: string, source: string, key = 'pad_token'): number {
  const id = tok.tokenToId(token);
  if (id === undefined) {
    const specials = [...tok.specialIds]
      .map((i) => tok.idToToken(i))
      .filter(Boolean)
      .slice(0, 12);
    throw new UserError(`${source}: ${key} "${token}" is not a token of the tokenizer (special tokens: ${specials.join(', ') || 'none'})`);
  }
  return id;
}

/**
 * A stable fingerprint of what decides tokenization (model vocab/merges, normalizer, pre-tokenizer, added
 * tokens), so `concat` can refuse sources whose tokenizers differ. FNV-1a 64 over canonical JSON.
 */
export function tokenizerFingerprint(json: TokenizerJson): string {
  const parts = {
    model: json.model,
    normalizer: json.normalizer ?? null,
    pre_tokenizer: json.pre_tokenizer ?? null,
    added_tokens: (json.added_tokens ?? []).map((t) => [t.id, t.content]),
  };
  return fnv1a64(JSON.stringify(parts));
}

function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * prime) & mask;
  }
  return h.toString(16).padStart(16, '0');
}
