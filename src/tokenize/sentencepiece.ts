/**
 * A sentencepiece vocabulary (`[[piece, score], ...]`, the `vocab.json` that TF.js models such as Universal
 * Sentence Encoder Lite ship) → a Hugging Face `tokenizer.json` with a Unigram model, so every later stage
 * treats such a source like any hub model.
 *
 * The target behaviour is the reference USE-lite tokenizer (`@tensorflow-models/universal-sentence-encoder`,
 * ported in `@energetic-ai/embeddings`):
 *   - normalise with NFKC; if the result is non-empty, prepend "▁" and replace every U+0020 space by "▁"
 *     (only U+0020: tabs and newlines stay as they are, repeated spaces give repeated "▁", no lower-casing);
 *   - Viterbi over the whole string with the pieces' scores; the first `reserved` pieces (unk and control
 *     symbols) are never matched; a character that starts no piece becomes the unknown id, and consecutive
 *     unknown ids are merged into one.
 * We express that as normalizer `Sequence[NFKC, Prepend("▁"), Replace(" ", "▁")]` (a Metaspace pre-tokenizer
 * would not prepend "▁" to a text that starts with a space, the reference does), a Unigram model whose reserved
 * pieces score below every real piece (so the lattice never prefers them), and `fuse_unk`. When no piece holds
 * "▁" after its first character (USE-lite), every "▁" starts a token, so a pre-tokenizer that cuts before each
 * "▁" changes no id (scores are dyadic, so sums are exact and ties cannot depend on the prefix); it keeps each
 * lattice one word long, which is faster and avoids tokenizers.js's call-stack overflow on huge texts (one
 * `push(...ids)` of a whole text's ids). The quirks of the reference Viterbi that a standard Unigram lattice cannot express (its
 * "best score 0 means unset" test and its tie-breaking) are documented in docs/use-lite.md with how often
 * they change ids on STS-B.
 *
 * Pure: no Node built-ins.
 */
import { UserError } from '../util/errors.ts';
import type { TokenizerJson } from './tokenizer.ts';

/** One vocabulary entry as sentencepiece exports it; a `null` score (seen in USE-lite's vocab.json) counts as 0. */
export type SentencepieceEntry = [piece: string, score: number | null];

export interface SentencepieceOptions {
  /**
   * Leading pieces that are control symbols, never produced from text. Default: the leading run of pieces
   * with score exactly 0 (sentencepiece gives unk/control/user symbols score 0 and real pieces log-probabilities
   * below 0): USE-lite's "�", "<s>", "</s>", "extra_token_id_1..3" → 6.
   */
  reserved?: number;
  /** Id of the unknown piece. Default: the first reserved piece spelled "<unk>" or "�" (U+FFFD), else 0. */
  unkId?: number;
  /**
   * Names for special ids in the tokenizer.json. Default: the unknown piece is named "<unk>" (USE-lite's
   * vocab.json spells it "�"); every other reserved piece keeps its vocab text. Reserved ids and the unknown
   * id become special added tokens.
   */
  specialNames?: Record<number, string>;
  /**
   * Total rows of the embedding matrix this tokenizer indexes. Rows beyond the vocabulary (USE-lite: 8002
   * rows for 8000 pieces) become special added tokens `<unused_ROW>` that text never produces, so token ids
   * and matrix rows stay aligned and `vocabSize` equals the row count.
   */
  rows?: number;
}

const SPIECE_UNDERLINE = '\u2581';

/** Scores are multiples of 2^-SCORE_FRACTION_BITS, so sums of up to 2^(53-30) in magnitude are exact. */
const SCORE_FRACTION_BITS = 30;
const SCORE_SCALE = 2 ** SCORE_FRACTION_BITS;
const dyadic = (x: number) => Math.round(x * SCORE_SCALE) / SCORE_SCALE;

/** Build a Unigram tokenizer.json from a sentencepiece vocabulary (validated: a clear error names the bad entry). */
export function sentencepieceToTokenizerJson(vocab: unknown, opts: SentencepieceOptions = {}, source = 'vocab'): TokenizerJson {
  const entries = validateVocab(vocab, source);
  const reserved = opts.reserved ?? leadingControlPieces(entries);
  if (!Number.isInteger(reserved) || reserved < 0 || reserved > entries.length) {
    throw new UserError(`${source}: reserved = ${reserved} must be an integer in [0, ${entries.length}]`);
  }
  const unkId = opts.unkId ?? defaultUnkId(entries, reserved);
  const rows = opts.rows ?? entries.length;
  if (!Number.isInteger(unkId) || unkId < 0 || unkId >= entries.length) {
    throw new UserError(`${source}: unk id ${unkId} is outside the vocabulary (0..${entries.length - 1})`);
  }
  if (!Number.isInteger(rows) || rows < entries.length) {
    throw new UserError(`${source}: rows = ${rows} must be an integer ≥ the vocabulary size ${entries.length}`);
  }
  const names: Record<number, string> = { [unkId]: '<unk>', ...opts.specialNames };
  for (const id of Object.keys(names).map(Number)) {
    if (!(Number.isInteger(id) && id >= 0 && id < entries.length && (id < reserved || id === unkId))) {
      throw new UserError(`${source}: specialNames has id ${id}, which is not a reserved id (0..${reserved - 1}) or the unk id ${unkId}`);
    }
  }

  // Real pieces keep their score (null → 0, which is what the reference's `null + x` arithmetic does), rounded
  // to a multiple of 2^-30 (a change below 5e-10; the vocab has 11 decimals): every lattice sum is then exact in
  // float64 up to |2^23|, so tie-breaking never depends on rounding, and encoding word by word provably equals
  // encoding the whole text (which src/tokenize/fast-encode.ts can use for its word cache).
  const scoreOf = (i: number) => dyadic(entries[i]![1] ?? 0);
  let minScore = Infinity;
  for (let i = reserved; i < entries.length; i++) minScore = Math.min(minScore, scoreOf(i));
  if (!Number.isFinite(minScore)) minScore = 0;
  // Reserved pieces score below every real piece: the lattice takes them only when nothing else matches.
  const reservedScore = minScore - 10;

  const modelVocab: [string, number][] = [];
  const added: NonNullable<TokenizerJson['added_tokens']> = [];
  const special = (id: number, content: string) =>
    added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true } as never);
  for (let i = 0; i < entries.length; i++) {
    const piece = entries[i]![0];
    if (i < reserved || i === unkId) {
      const content = names[i] ?? piece;
      modelVocab.push([content, reservedScore]);
      special(i, content);
    } else {
      modelVocab.push([piece, scoreOf(i)]);
    }
  }
  const specialIds = new Set(added.map((t) => t.id));
  const taken = new Set(modelVocab.filter((_, id) => !specialIds.has(id)).map(([p]) => p));
  for (const t of added) {
    if (taken.has(t.content)) {
      throw new UserError(`${source}: special token "${t.content}" (id ${t.id}) is also an ordinary piece; give it another name in specialNames`);
    }
  }
  for (let row = entries.length; row < rows; row++) {
    const content = `<unused_${row}>`;
    if (taken.has(content)) throw new UserError(`${source}: the vocabulary already has a piece "${content}"`);
    modelVocab.push([content, reservedScore]);
    special(row, content);
  }
  const seen = new Set<string>();
  for (const t of added) {
    if (seen.has(t.content)) throw new UserError(`${source}: special token "${t.content}" is used for two ids`);
    seen.add(t.content);
  }

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFKC' }, { type: 'Prepend', prepend: SPIECE_UNDERLINE }, { type: 'Replace', pattern: { String: ' ' }, content: SPIECE_UNDERLINE }],
    },
    pre_tokenizer: wordsStartAtMeta(entries) ? SPLIT_BEFORE_META : null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPIECE_UNDERLINE }, content: ' ' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'Unigram', unk_id: unkId, vocab: modelVocab, byte_fallback: false },
  };
}

function defaultUnkId(entries: readonly SentencepieceEntry[], reserved: number): number {
  for (let i = 0; i < reserved; i++) if (entries[i]![0] === '<unk>' || entries[i]![0] === '\uFFFD') return i;
  return 0;
}

/**
 * Cut the normalised text before every "▁" ("▁a▁▁b" → "▁a", "▁", "▁b"). Written as the words to keep (`invert`),
 * because tokenizers.js ignores `behavior: "MergedWithNext"`; Rust and JS give the same pieces this way.
 */
const SPLIT_BEFORE_META = {
  type: 'Split',
  pattern: { Regex: `${SPIECE_UNDERLINE}[^${SPIECE_UNDERLINE}]*` },
  behavior: 'Isolated',
  invert: true,
} as const;

/** True when no piece holds "▁" after its first character: then every "▁" of a text starts a token. */
function wordsStartAtMeta(entries: readonly SentencepieceEntry[]): boolean {
  return entries.every(([piece]) => piece.indexOf(SPIECE_UNDERLINE, 1) < 0);
}

/** Count of leading entries with score exactly 0 (a `null` score is not a control marker: USE-lite has them mid-vocab). */
export function leadingControlPieces(entries: readonly SentencepieceEntry[]): number {
  let n = 0;
  while (n < entries.length && entries[n]![1] === 0) n++;
  return n;
}

function validateVocab(vocab: unknown, source: string): SentencepieceEntry[] {
  if (!Array.isArray(vocab) || vocab.length === 0) {
    throw new UserError(`${source}: expected a non-empty JSON array of [piece, score] pairs`);
  }
  for (let i = 0; i < vocab.length; i++) {
    const e = vocab[i] as unknown;
    if (
      !Array.isArray(e) ||
      e.length < 2 ||
      typeof e[0] !== 'string' ||
      e[0].length === 0 ||
      !(e[1] === null || (typeof e[1] === 'number' && Number.isFinite(e[1])))
    ) {
      throw new UserError(`${source}: entry ${i} is ${JSON.stringify(e)?.slice(0, 80)}, expected [piece, score] with a non-empty piece and a finite score`);
    }
  }
  return vocab as SentencepieceEntry[];
}
