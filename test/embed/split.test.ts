/**
 * The semantic splitter after its speed work (src/embed/split.ts) against the version before it, kept unchanged
 * in split-reference.ts: the same chunks, string for string, with a real model (seeded f16 rows, the real Llama-2
 * tokenizer) on a built-in sample of every shape the splitter distinguishes and, when ../shared is present, on
 * real sentences; the rewritten helpers against the plain forms they replace (`/\s/`, a global line regex, the
 * windowed double loop) to the bit; and splitParallel (both cores) against model.split. The algorithm mirrors
 * WordLlama's wordllama/algorithms/semantic_splitter.py and find_local_minima.pyx.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { load, semanticSplit, splitParallel, type Embeddings, type SplitOptions } from '../../src/embed/node.ts';
import { isSpaceUnit, lineRanges, planSplit, windowedCrossSimilarity } from '../../src/embed/split.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { makeModel, TOKENIZERS } from '../helpers/embed-model.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';
import * as reference from './split-reference.ts';

/** A text of every shape: paragraphs, long lines of sentences, all line terminators, blank runs, over-long words. */
function sampleText(seed: number, words: number): string {
  const r = mulberry32(seed);
  const vocab = ['the', 'River', 'flows', 'quietly.', 'Then', 'it', 'rained!', 'Why?', 'état', 'Ωmega', '東京', '🦙', 'x2.5', 'end…', 'Über', 'ok'];
  const seps = [' ', ' ', ' ', ' ', ' ', '  ', '\t', '\u00a0', '\u3000', '\n', '\n\n', '\r\n', '\r', '\u2028', '\u000b', '\u0085', ' \n \n', ''];
  let text = '';
  for (let i = 0; i < words; i++) {
    const u = r();
    if (u < 0.004)
      text += 'y'.repeat(200 + Math.floor(r() * 3000)); // a word longer than a chunk: the hard cut
    else if (u < 0.006)
      text += ' '.repeat(50 + Math.floor(r() * 400)); // a blank run
    else text += vocab[Math.floor(r() * vocab.length)]!;
    text += seps[Math.floor(r() * seps.length)]!;
  }
  return text;
}

const OPTION_SETS: SplitOptions[] = [
  {},
  { targetSize: 300 },
  { targetSize: 97, intermediateSize: 40, cleanupSize: 10 },
  { targetSize: 500, windowSize: 5, savgolWindow: 5, polyOrder: 3 },
  { targetSize: 40, intermediateSize: 96, cleanupSize: 24 },
];

describe('split: the same chunks as before the speed work', async () => {
  const gen = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 32, seed: 5 });
  const model = load(gen.dir);
  const embed = (pieces: string[]) => model.embed(pieces, { norm: true });

  it('on the built-in sample, for every option set', () => {
    let compared = 0;
    for (const [seed, words] of [
      [1, 40],
      [2, 800],
      [3, 6000],
      [4, 20000],
    ] as const) {
      const text = sampleText(seed, words);
      for (const o of OPTION_SETS) {
        const want = reference.semanticSplit(text, embed, o);
        const got = model.split(text, o);
        expect(got).toEqual(want);
        expect(got.join('')).toBe(text);
        compared += got.length;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('on texts too small to embed and on the empty text', () => {
    for (const text of ['', 'one', 'one line\n', 'a\nb', '   ', 'Short. Two! Three?']) expect(model.split(text)).toEqual(reference.semanticSplit(text, embed));
  });

  it('a line cut into more pieces than a call takes arguments', () => {
    // The previous code spread a line's hard cuts into push(...) and overflowed the stack here.
    const text = 'z'.repeat(300_000);
    expect(() => reference.semanticSplit(text, embed, { targetSize: 1 })).toThrow(RangeError);
    const chunks = model.split(text, { targetSize: 1 });
    expect(chunks.length).toBe(300_000);
    expect(chunks.join('')).toBe(text);
  });
});

/** bench-split.ts's text, shorter: distinct one-line train sentences, a blank line after every sixth. */
function realText(chars: number): string {
  const dir = sharedPath('data', 'train');
  let text = '';
  let i = 0;
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      for (const v of Object.values(JSON.parse(line) as Record<string, unknown>)) {
        if (typeof v !== 'string' || v.length === 0 || /[\r\n]/.test(v)) continue;
        text += v + (++i % 6 === 0 ? '\n\n' : ' ');
        if (text.length >= chars) return text.slice(0, chars);
      }
    }
  }
  return text;
}

describeShared('split: the same chunks as before on real text', ['data', 'train'], () => {
  it('300 kB of train sentences, as paragraphs and as one line', async () => {
    const gen = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 64, seed: 9 });
    const model = load(gen.dir);
    const embed = (pieces: string[]) => model.embed(pieces, { norm: true });
    const paragraphs = realText(300_000);
    expect(paragraphs.length).toBe(300_000);
    for (const text of [paragraphs, paragraphs.replace(/\n/g, ' ')]) {
      for (const o of [{}, { targetSize: 400 }]) {
        const got = model.split(text, o);
        expect(got).toEqual(reference.semanticSplit(text, embed, o));
        expect(got.length).toBeGreaterThan(100);
      }
    }
  });
});

describe('split helpers equal the plain forms they replace', () => {
  it('isSpaceUnit is /\\s/ (and trim) on every UTF-16 code unit', () => {
    const differ: number[] = [];
    for (let c = 0; c < 65536; c++) {
      const ch = String.fromCharCode(c);
      if (isSpaceUnit(c) !== /\s/.test(ch) || isSpaceUnit(c) !== (ch.trim() === '')) differ.push(c);
    }
    expect(differ).toEqual([]);
  });

  it('lineRanges is the global-regex scan, on sub-ranges too (a \\r\\n across the end stays whole)', () => {
    const text = sampleText(7, 3000);
    const r = mulberry32(3);
    for (let t = 0; t < 200; t++) {
      const a = Math.floor(r() * text.length);
      const b = a + Math.floor(r() * (text.length - a));
      expect(lineRanges(text, a, b)).toEqual(reference.lineRanges(text, a, b));
    }
    expect(lineRanges(text)).toEqual(reference.lineRanges(text));
    expect(lineRanges('a\r\nb', 0, 2)).toEqual([[0, 3]]);
  });

  it('windowedCrossSimilarity is the plain double loop over each window, to the bit', () => {
    const plain = (e: Embeddings, window: number) => {
      const half = window >> 1;
      const out = new Float64Array(e.rows);
      for (let i = 0; i < e.rows; i++) {
        let sum = 0;
        let count = 0;
        const hi = Math.min(e.rows, i + half + 1);
        for (let j = Math.max(0, i - half); j < hi; j++)
          for (let k = j + 1; k < hi; k++) {
            let s = 0;
            for (let d = 0; d < e.dim; d++) s += e.data[j * e.dim + d]! * e.data[k * e.dim + d]!;
            sum += s;
            count++;
          }
        out[i] = count > 0 ? sum / count : 0;
      }
      return out;
    };
    const r = mulberry32(8);
    for (const rows of [0, 1, 2, 3, 4, 7, 50, 301])
      for (const window of [3, 5, 7, 11]) {
        const e = { data: Float32Array.from({ length: rows * 13 }, () => r() * 2 - 1), rows, dim: 13 };
        const got = windowedCrossSimilarity(e, window);
        const want = plain(e, window);
        expect(Array.from(got).every((v, i) => Object.is(v, want[i]))).toBe(true);
      }
  });

  it('a split needs one embedding per piece', () => {
    const plan = planSplit('one.\ntwo lines here that are long enough.\nthree, and more text on it.\nfour.', { targetSize: 30 });
    expect(plan.needsEmbeddings).toBe(true);
    expect(() => semanticSplit(plan.text, () => ({ data: new Float32Array(4), rows: 2, dim: 2 }), { targetSize: 30 })).toThrow(
      `split: ${plan.pieces.length} pieces need as many embeddings, got 2`,
    );
  });
});

describe('splitParallel: model.split on both cores', async () => {
  const gen = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 32, seed: 6 });
  const real = existsSync(sharedPath('data', 'train')) ? realText(200_000) : sampleText(11, 40000);

  it('gives the same chunks on 1, 2 and 3 threads', async () => {
    const want = load(gen.dir).split(real);
    expect(want.length).toBeGreaterThan(50);
    for (const threads of [1, 2, 3]) expect(await splitParallel(load(gen.dir), real, { threads, minTexts: 0 })).toEqual(want);
    const sample = sampleText(12, 5000);
    expect(await splitParallel(load(gen.dir), sample, { threads: 2, minTexts: 0, targetSize: 200 })).toEqual(load(gen.dir).split(sample, { targetSize: 200 }));
    expect(await splitParallel(load(gen.dir), '')).toEqual([]);
  });

  it('refuses what model.split refuses, with the same message', async () => {
    const binary = load(gen.dir, { binary: true });
    await expect(splitParallel(binary, 'x')).rejects.toThrow('split: needs dense embeddings; load the model with binary: false');
    await expect(splitParallel(load(gen.dir), 3 as unknown as string)).rejects.toThrow('split: text must be a string');
    await expect(splitParallel(load(gen.dir), 'x', { targetSize: 0 })).rejects.toThrow('split: targetSize must be an integer ≥ 1, got 0');
    await expect(splitParallel(load(gen.dir), 'x', { threads: 0 })).rejects.toThrow('threads must be a positive integer, got 0');
  });
});
