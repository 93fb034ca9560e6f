/**
 * Tokenize only as much of a text as its counted tokens need. When at most `maxLength` tokens count (after pad/UNK
 * removal, `keepPoolingIds`), tokenizing a 50 MB line whole costs minutes and gigabytes for tokens that are then
 * thrown away. model2vec cuts the text to `max_length × median_token_length` characters first; that cut is part of
 * its model2vec-compatible output (model.ts keeps it for model2vec models), but it can leave *fewer* than
 * max_length tokens, so it is not exact. This cut is exact instead:
 *
 * 1. start from `2 × (maxLength + margin) × median token length` characters, cut back to the last whitespace in
 *    its second half (so the last word stays whole) and at a code point boundary;
 * 2. tokenize that prefix; when it yields at least `maxLength + margin` counted tokens, keep its first `maxLength`
 *    (the `margin` tokens beyond absorb the few that a cut inside a word or merge could change);
 * 3. else double the bound and repeat (at most the whole text: total work stays under twice one whole encode).
 *
 * Texts shorter than the first bound are tokenized whole, exactly as before. Pure, browser-safe.
 */
import type { FastEncoder } from './fast-encode.ts';
import { keepPoolingIds, type PoolingRules } from './pooling-ids.ts';
import type { TextTokenizer } from './tokenizer.ts';

/** Counted tokens beyond max_length a prefix must yield before its first max_length are trusted. */
export const CUT_MARGIN_TOKENS = 16;

/** model2vec's `median_token_length`: int(np.median(len(token) for every vocabulary token)) in code points. */
export function medianTokenLength(tok: TextTokenizer): number {
  const lengths: number[] = [];
  for (const token of tok.engine.get_vocab(true).keys()) {
    let n = 0;
    for (const _ of token) n++;
    lengths.push(n);
  }
  if (lengths.length === 0) return 1;
  lengths.sort((a, b) => a - b);
  const mid = lengths.length >> 1;
  const median = lengths.length % 2 ? lengths[mid]! : (lengths[mid - 1]! + lengths[mid]!) / 2;
  return Math.max(1, Math.floor(median));
}

/** The first bound tried for `maxLength` counted tokens (UTF-16 units). */
export function firstCharBound(maxLength: number, medianLength: number): number {
  return 2 * (maxLength + CUT_MARGIN_TOKENS) * Math.max(1, medianLength);
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x3000 || c === 0x2028 || c === 0x2029;

/** `text` cut to at most `bound` UTF-16 units: before the last whitespace of the second half, else at a code point boundary. */
export function cutText(text: string, bound: number): string {
  if (text.length <= bound) return text;
  for (let i = bound; i > bound >> 1; i--) if (isSpace(text.charCodeAt(i))) return text.slice(0, i);
  const c = text.charCodeAt(bound - 1);
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? bound - 1 : bound);
}

export interface BoundedEncoding {
  /** The buffer holding the counted ids (grown when needed; pass it back in for the next text). */
  out: Int32Array;
  /** How many ids at the front of `out` count (≤ maxLength). */
  n: number;
}

/**
 * The ids of `text` that count under `rules` (pad/UNK removed, ids ≥ `vocabSize` dropped, at most
 * `rules.maxLength`), at the front of `out`; with `rules.maxLength > 0` only a prefix of a long text is tokenized
 * (see above). `medianLength` is the tokenizer's `medianTokenLength`, or a function giving it: it is asked for only
 * when the text is long enough to be cut (a pass over the vocabulary, which short texts should not pay for).
 */
export function encodeCounted(
  encoder: FastEncoder,
  text: string,
  rules: PoolingRules,
  medianLength: number | (() => number),
  out: Int32Array,
  vocabSize = Infinity,
): BoundedEncoding {
  const max = rules.maxLength;
  // Below firstCharBound(max, 1) no median can cut the text.
  const long = max > 0 && text.length > firstCharBound(max, 1);
  let bound = long ? firstCharBound(max, typeof medianLength === 'number' ? medianLength : medianLength()) : Infinity;
  const all: PoolingRules = { ...rules, maxLength: 0 };
  for (;;) {
    const part = cutText(text, bound);
    const r = encoder.encodeInto(part, out, 0);
    out = r.out;
    const n = keepPoolingIds(out, r.end, all, vocabSize);
    if (part.length === text.length || n >= max + CUT_MARGIN_TOKENS) return { out, n: max > 0 ? Math.min(n, max) : n };
    bound *= 2;
  }
}
