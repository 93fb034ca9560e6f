/**
 * What kind of text a vocabulary entry stands for, for inspect's map and row-norm-by-kind pages. One classifier
 * for every tokenizer family: it looks at the token's decoded text (the tokenizer's own decoder undoes
 * byte-level BPE's byte-to-character mapping, SentencePiece's "▁" and WordPiece's "##"), plus the raw piece
 * for SentencePiece byte-fallback tokens (`<0x0A>`) and the special-token flag from tokenizer.json.
 */
import type { TextTokenizer } from '../tokenize/tokenizer.ts';

export const TOKEN_KINDS = ['letters', 'digits', 'punctuation', 'whitespace', 'byte', 'special', 'cjk', 'other-script'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** What each kind covers, for the page's legend. */
export const TOKEN_KIND_LABELS: Record<TokenKind, string> = {
  letters: 'Latin letters (words, word pieces)',
  digits: 'digits (no letters)',
  punctuation: 'punctuation and symbols only',
  whitespace: 'whitespace only (spaces, newlines, tabs)',
  byte: 'byte tokens (<0x..>, partial UTF-8)',
  special: 'special tokens',
  cjk: 'CJK (Han, kana, Hangul)',
  'other-script': 'other scripts (Cyrillic, Greek, Arabic, …)',
};

const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Bopomofo}]/u;
const LATIN_LETTER = /\p{Script=Latin}/u;
const LETTER = /\p{L}/u;
const DIGIT = /\p{N}/u;
const WHITESPACE = /\s/gu;

/**
 * The kind of one token. `text` is the token decoded on its own; `piece` the vocabulary string. Precedence, so
 * that a mixed token gets its most distinctive character's kind: special, byte, whitespace-only, then any CJK
 * character, any letter of another script, any Latin letter ("don't", "a1" are letters), any digit ("1.5"),
 * and punctuation for the rest. A decoded U+FFFD the piece does not itself contain is a partial UTF-8 sequence
 * (a byte-level BPE token holding part of a character): a byte token.
 */
export function tokenKind(piece: string, text: string, special = false): TokenKind {
  if (special) return 'special';
  if (BYTE_PIECE.test(piece)) return 'byte';
  if (text.includes('\uFFFD') && !piece.includes('\uFFFD')) return 'byte';
  const visible = text.replace(WHITESPACE, '');
  if (visible === '') return 'whitespace';
  if (CJK.test(visible)) return 'cjk';
  for (const ch of visible) if (LETTER.test(ch) && !LATIN_LETTER.test(ch)) return 'other-script';
  if (LATIN_LETTER.test(visible)) return 'letters';
  if (DIGIT.test(visible)) return 'digits';
  return 'punctuation';
}

/** The text a token stands for: decoded on its own, or its piece for a special token (decoders may drop those). */
export function tokenText(tok: TextTokenizer, id: number): string | undefined {
  const piece = tok.idToToken(id);
  if (piece === undefined || tok.specialIds.has(id)) return piece;
  return tok.engine.decode([id], { skip_special_tokens: false });
}

/**
 * The kind of every id below `rows`. Ids the tokenizer does not have (a matrix padded beyond its vocabulary)
 * get undefined.
 */
export function tokenKinds(tok: TextTokenizer, rows: number): (TokenKind | undefined)[] {
  const out: (TokenKind | undefined)[] = [];
  for (let id = 0; id < rows; id++) {
    const piece = tok.idToToken(id);
    if (piece === undefined) {
      out.push(undefined);
      continue;
    }
    out.push(tokenKind(piece, tokenText(tok, id)!, tok.specialIds.has(id)));
  }
  return out;
}
