/**
 * The fast BPE (src/tokenize/bpe.ts) gives exactly the ids of @huggingface/tokenizers' `encode` — the reference
 * it mirrors — for the four real tokenizer families it serves (Llama-2 and Gemma-3: ▁ + byte fallback + fuse_unk;
 * Llama-3: byte-level + ignore_merges; Qwen-3: byte-level + NFC), on real sentences, a built-in multilingual
 * sample and seeded random Unicode strings; tie-breaking (lowest rank, then leftmost, as in HF tokenizers' Rust
 * `models/bpe/word.rs` and the library's `BPE.bpe`) on a tiny hand-made model with exact expected ids; and it
 * declines the options it does not mirror.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createFastBpe } from '../../src/tokenize/bpe.ts';
import { createFastEncoder, fastBpeAfterMisses } from '../../src/tokenize/fast-encode.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import { createTokenizer, type TextTokenizer, type TokenizerJson } from '../../src/tokenize/tokenizer.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { TOKENIZERS } from '../helpers/embed-model.ts';
import { describeShared, hasShared, sharedPath } from '../helpers/shared.ts';

const FAMILIES: [string, string, string][] = [
  ['Llama-2 (BPE, byte fallback, fuse_unk)', TOKENIZERS.llama2, 'byte fallback, fuse_unk'],
  ['Llama-3 (byte-level BPE, ignore_merges)', TOKENIZERS.llama3, 'ignore_merges'],
  ['Qwen-3 (byte-level BPE, NFC)', TOKENIZERS.qwen3, 'over 151387 merges'],
  ['Gemma-3 (BPE, spaces → ▁, byte fallback, fuse_unk)', TOKENIZERS.gemma3, 'byte fallback, fuse_unk'],
];
if (hasShared('fixtures', 'tokenizer-llama2', 'tokenizer.json')) {
  FAMILIES.push(['Llama-2 (shared fixture)', sharedPath('fixtures', 'tokenizer-llama2', 'tokenizer.json'), 'byte fallback, fuse_unk']);
}

/** Always runs: accents, CJK, emoji, digits, long words, byte-fallback characters, space runs, tabs, newlines. */
const SAMPLE = [
  '',
  ' ',
  'a',
  'The quick brown fox jumps over the lazy dog.',
  'naïve café déjà vu, Ångström, façade, Übermäßig',
  'Привет, как дела? Ελληνικά κείμενα. עברית. العربية',
  '日本語のテキストと中文句子，한국어 문장도。',
  'emoji 😀 👍🏽 🇫🇷 👨‍👩‍👧 🧑🏿‍🚀 ✨',
  'digits 0 12 345 6789 3.14159 1,000,000 ٣٤٥ ４５',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'x'.repeat(500),
  'ab'.repeat(300),
  '\u0001\u0002\u001f control and \u007f delete',
  'rare ꙮ 𓀀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{10ffff} \uE000 private use',
  'lone surrogates \uD800 and \uDFFF here',
  'a  b   c    d',
  '  leading and trailing  ',
  'tab\tseparated\t\tvalues',
  'line one\nline two\r\nline three\n\n',
  "it's don't we'll they've I'M",
  '▁ literal meta ▁▁ symbols',
  '<0x41> looks like a byte token',
  'ﬁ ligature, ＦＵＬＬ ｗｉｄｔｈ, ½ ⅓',
  'e\u0301 combining, \u0065\u0301\u0302 stacked',
  '\u00a0no-break\u2009thin\u3000ideographic spaces',
  'https://example.com/path?q=1&x=%20 user@example.org',
  'camelCaseWords and snake_case_words and kebab-case-words',
];

const cache = new Map<string, TextTokenizer>();
const tokenizer = (path: string): TextTokenizer => {
  if (!cache.has(path)) cache.set(path, loadTokenizerFile(path));
  return cache.get(path)!;
};

function mismatches(tok: TextTokenizer, texts: string[]): string[] {
  const { bpe, reason } = createFastBpe(tok);
  if (!bpe) throw new Error(`fast BPE declined: ${reason}`);
  const bad: string[] = [];
  for (const t of texts) {
    const want = tok.encode(t);
    const got = Array.from(bpe.encode(t));
    if (want.join(',') !== got.join(',')) bad.push(`${JSON.stringify(t)}: want ${want.join(',')} got ${got.join(',')}`);
  }
  return bad;
}

/** Seeded random strings over ranges that stress BPE: ASCII, Latin, Cyrillic, CJK, emoji, controls, spacing, surrogates. */
function fuzzStrings(count: number, seed: number): string[] {
  const r = mulberry32(seed);
  const ranges: [number, number][] = [
    [0x61, 0x7a],
    [0x41, 0x5a],
    [0x30, 0x39],
    [0x20, 0x2f],
    [0x00, 0x1f],
    [0xa0, 0x17f],
    [0x300, 0x36f],
    [0x400, 0x4ff],
    [0x4e00, 0x4fff],
    [0xac00, 0xac7f],
    [0x2000, 0x206f],
    [0x2581, 0x2581],
    [0xd800, 0xdfff],
    [0xe000, 0xe0ff],
    [0x1f300, 0x1f6ff],
    [0x10000, 0x10ffff],
  ];
  const words = ['the', ' the', 'ing', 'tion', ' and', 'er', 'qu', 'zz', '  ', '\t', '\n', ' ', "'s", '2024', '…', '▁▁'];
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    const len = Math.floor(r() * 24);
    let s = '';
    for (let i = 0; i < len; i++) {
      if (r() < 0.35) {
        s += words[Math.floor(r() * words.length)]!;
        continue;
      }
      // Mostly letters, so merges have something to do; the rare ranges keep byte fallback and UNK busy.
      const [lo, hi] = r() < 0.5 ? ranges[Math.floor(r() * 2)]! : ranges[Math.floor(r() * ranges.length)]!;
      s += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
    }
    out.push(s);
  }
  return out;
}

describe('fast BPE equals the library, per real tokenizer', () => {
  const fuzz = fuzzStrings(5000, 20261203);
  for (const [name, path, flags] of FAMILIES) {
    it(`${name}: ${SAMPLE.length} sample texts and 5,000 seeded random strings give identical ids`, () => {
      const tok = tokenizer(path);
      const { bpe, reason } = createFastBpe(tok);
      expect(bpe).not.toBeNull();
      expect(reason).toContain(flags);
      expect(mismatches(tok, SAMPLE)).toEqual([]);
      expect(mismatches(tok, fuzz).slice(0, 5)).toEqual([]);
    }, 120_000);
  }

  it('the fuzz strings reach byte fallback and astral characters (so the test can fail there)', () => {
    const tok = tokenizer(TOKENIZERS.llama2);
    const byteIds = new Set(Array.from({ length: 256 }, (_, b) => tok.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)));
    const ids = fuzzStrings(5000, 20261203).flatMap((t) => tok.encode(t));
    expect(ids.filter((id) => byteIds.has(id)).length).toBeGreaterThan(1000);
  });
});

function trainSentences(limit: number): string[] {
  const dir = sharedPath('data', 'train');
  const out = new Set<string>();
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    const lines = readFileSync(`${dir}/${f}`, 'utf8').split('\n').slice(0, 300);
    for (const line of lines) {
      if (!line) continue;
      for (const v of Object.values(JSON.parse(line) as Record<string, unknown>)) if (typeof v === 'string') out.add(v);
    }
    if (out.size >= limit) break;
  }
  return [...out].slice(0, limit);
}

describeShared('fast BPE equals the library on real sentences of ../shared/data/train', ['data', 'train'], () => {
  for (const [name, path] of FAMILIES) {
    it(`${name}: 3,000 sentences identical`, () => {
      const texts = trainSentences(3000);
      expect(texts.length).toBe(3000);
      expect(mismatches(tokenizer(path), texts).slice(0, 5)).toEqual([]);
    }, 120_000);
  }
});

/** A hand-made BPE tokenizer.json: vocabulary and merges in the order given. */
function tiny(vocab: string[], merges: string[], model: Record<string, unknown> = {}): TokenizerJson {
  return {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), merges, ...model },
  };
}

describe('fast BPE merge order and options', () => {
  it('merges the lowest rank first and the leftmost pair on ties', () => {
    // "aaa": the only merge (a a) applies at 0 and 1; leftmost wins → [aa, a] (ids 2, 0), never [a, aa].
    // "abab": ranks b a (0) < a b (1): "a(ba)b" first → [a, ba, b] (ids 0, 4, 1), though "ab" occurs twice.
    const json = tiny(['a', 'b', 'aa', 'ab', 'ba', 'aab'], ['b a', 'a b', 'a a', 'aa b']);
    const tok = createTokenizer(json);
    const { bpe } = createFastBpe(tok);
    expect(Array.from(bpe!.encode('aaa'))).toEqual([2, 0]);
    expect(Array.from(bpe!.encode('abab'))).toEqual([0, 4, 1]);
    // "aab": a a (rank 2) vs a b (rank 1): a(ab) wins, and "aab" (reachable only via aa + b) is not made.
    expect(Array.from(bpe!.encode('aab'))).toEqual([0, 3]);
    for (const t of ['aaa', 'abab', 'aab', 'aaaa aabab baba']) expect(Array.from(bpe!.encode(t))).toEqual(tok.encode(t));
  });

  it('a later duplicate merge sets the rank (as the library builds its Map)', () => {
    const json = tiny(['a', 'b', 'c', 'ab', 'bc'], ['a b', 'b c', 'a b']);
    const tok = createTokenizer(json);
    // "abc": a b is rank 2 (its last line), b c rank 1 → [a, bc].
    expect(Array.from(createFastBpe(tok).bpe!.encode('abc'))).toEqual([0, 4]);
    expect(tok.encode('abc')).toEqual([0, 4]);
  });

  it('unknown characters: UNK (fused when fuse_unk) or dropped without an UNK token', () => {
    const withUnk = createTokenizer(tiny(['<unk>', 'a', 'b', 'ab'], ['a b'], { unk_token: '<unk>', fuse_unk: true }));
    expect(Array.from(createFastBpe(withUnk).bpe!.encode('abxyab zz'))).toEqual([3, 0, 3, 0]);
    expect(withUnk.encode('abxyab zz')).toEqual([3, 0, 3, 0]);
    const noFuse = createTokenizer(tiny(['<unk>', 'a', 'b', 'ab'], ['a b'], { unk_token: '<unk>' }));
    expect(Array.from(createFastBpe(noFuse).bpe!.encode('abxy'))).toEqual([3, 0, 0]);
    const none = createTokenizer(tiny(['a', 'b', 'ab'], ['a b']));
    expect(Array.from(createFastBpe(none).bpe!.encode('abxab'))).toEqual([2, 2]);
    expect(none.encode('abxab')).toEqual([2, 2]);
  });

  it('declines what it does not mirror, naming the option', () => {
    const base = ['a', 'b', 'ab'];
    const cases: [Record<string, unknown>, string][] = [
      [{ dropout: 0.1 }, 'BPE dropout 0.1'],
      [{ end_of_word_suffix: '</w>' }, 'BPE end_of_word_suffix'],
      [{ continuing_subword_prefix: '##' }, 'BPE continuing_subword_prefix'],
      [{ unk_token: '<nope>', fuse_unk: true }, 'fuse_unk without an UNK id'],
    ];
    for (const [model, reason] of cases) expect(createFastBpe(createTokenizer(tiny(base, ['a b'], model))).reason).toBe(reason);
    const bert = tiny(base, ['a b']);
    bert.post_processor = { type: 'BertProcessing', sep: ['b', 1], cls: ['a', 0] };
    expect(createFastBpe(createTokenizer(bert)).reason).toBe('post-processor BertProcessing');
    const wordpiece = tiny(base, []);
    wordpiece.model = { type: 'WordPiece', unk_token: 'a', vocab: { a: 0, b: 1 } };
    expect(createFastBpe(createTokenizer(wordpiece)).reason).toBe('model type WordPiece');
  });
});

describe('the word cache encodes its misses with the fast BPE', () => {
  it('Llama-2: built on the first miss when asked, and ids equal the library path', () => {
    const tok = tokenizer(TOKENIZERS.llama2);
    const fast = createFastEncoder(tok, { fastBpeAfterMisses: 0 });
    expect(fast.missModel).toBe('not built yet (the library encodes the first 0 misses)');
    const reference = createFastEncoder(tok, { libraryBpe: true });
    for (const t of SAMPLE) expect(fast.encode(t)).toEqual(reference.encode(t));
    expect(fast.missModel).toBe('fast BPE over 58980 merges (byte fallback, fuse_unk)');
    expect(reference.missModel).toBe('library BPE (asked)');
  });

  it('by default the library encodes the first merges / 16 misses, then the fast BPE is built', () => {
    const tok = tokenizer(TOKENIZERS.llama2);
    expect(fastBpeAfterMisses(tok)).toBe(Math.ceil(58980 / 16));
    const fast = createFastEncoder(tok, { fastBpeAfterMisses: 3 });
    const reference = createFastEncoder(tok, { libraryBpe: true });
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
    for (const [i, w] of words.entries()) {
      expect(fast.encode(w)).toEqual(reference.encode(w));
      expect(fast.missModel).toBe(i < 3 ? 'not built yet (the library encodes the first 3 misses)' : 'fast BPE over 58980 merges (byte fallback, fuse_unk)');
    }
  });

  it('families without a BPE model keep the library', () => {
    const json = tiny(['a', 'b'], []);
    json.model = { type: 'WordPiece', unk_token: 'a', vocab: { a: 0, b: 1, '##b': 2 }, continuing_subword_prefix: '##' };
    const fast = createFastEncoder(createTokenizer(json));
    expect(fast.encode('ab a b')).toEqual([0, 2, 0, 1]);
    expect(fast.missModel).toBe('library (model type WordPiece)');
  });
});
