/**
 * One huge line. With a max_length only the first max_length counted tokens matter, so only the prefix that holds
 * them is tokenized (src/tokenize/bounded-encode.ts). Proven here: (1) on real long texts (this repo's docs) and
 * four real tokenizers, the kept ids equal the first max_length counted ids of tokenizing the whole text, at every
 * max_length and many cut positions, including texts without spaces (CJK, one long word, emoji); (2) a 5 MB line
 * through the real CLI, under a 200 MB heap cap, embeds fast and exactly like its first tokens; (3) training data
 * (tokenizePairs) gets the same ids for a 5 MB line. The 50 MB figures are in BENCHMARKS.md (robustness).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeModel, referenceEmbedding, REPO, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';
import { cutText, encodeCounted, firstCharBound, medianTokenLength } from '../../src/tokenize/bounded-encode.ts';
import { createFastEncoder } from '../../src/tokenize/fast-encode.ts';
import { keepPoolingIds, poolingRules } from '../../src/tokenize/pooling-ids.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import type { TextTokenizer } from '../../src/tokenize/tokenizer.ts';
import { tokenizePairs } from '../../src/data/load.ts';

const BIN = join(REPO, 'bin', 'pipeline.js');

/** Real long text: this repository's README, BENCHMARKS and docs (English prose, code, tables, symbols). */
const DOCS = [join(REPO, 'README.md'), join(REPO, 'BENCHMARKS.md'), ...readdirSync(join(REPO, 'docs')).map((f) => join(REPO, 'docs', f))]
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

/** The first `max` counted ids of tokenizing `text` whole (the reference the cut must reproduce). */
function wholeCounted(tok: TextTokenizer, text: string, max: number): number[] {
  const ids = Int32Array.from(tok.encode(text));
  return Array.from(ids.subarray(0, keepPoolingIds(ids, ids.length, poolingRules(tok, undefined, max))));
}

describe('cutText', () => {
  it('cuts before the last whitespace of the second half, else at a code point boundary', () => {
    expect(cutText('abc def ghi', 100)).toBe('abc def ghi');
    expect(cutText('abc def ghi', 9)).toBe('abc def');
    expect(cutText('abcdefgh ij', 6)).toBe('abcdef');
    expect(cutText('ab😀cd', 3)).toBe('ab'); // never half a surrogate pair
    expect(cutText('ab😀cd', 4)).toBe('ab😀');
  });
});

describe('the cut keeps exactly the tokens that count', () => {
  const names = Object.keys(TOKENIZERS) as (keyof typeof TOKENIZERS)[];
  for (const name of names) {
    it(`${name}: first max_length ids equal those of the whole text (docs windows, CJK, one long word, emoji)`, async () => {
      const tok = await loadTokenizerFile(TOKENIZERS[name]);
      const fast = createFastEncoder(tok);
      const median = medianTokenLength(tok);
      const lengths = [1, 16, 128, 512];
      const span = 3 * firstCharBound(512, median);
      const texts: string[] = [];
      for (let k = 0; k < 8; k++) {
        const start = Math.floor((k / 8) * (DOCS.length - span));
        texts.push(DOCS.slice(start, start + span));
      }
      texts.push('東京は日本の首都であり、世界最大の都市圏の一つです。'.repeat(800));
      texts.push('x'.repeat(span)); // no whitespace at all
      texts.push('😀🎉 naïve café '.repeat(1500));
      texts.push(' '.repeat(200) + DOCS.slice(0, span)); // a run of spaces first
      let cut = 0;
      let buf: Int32Array = new Int32Array(16);
      for (const text of texts) {
        const whole = wholeCounted(tok, text, 0);
        for (const max of lengths) {
          const rules = poolingRules(tok, undefined, max);
          const r = encodeCounted(fast, text, rules, median, buf);
          buf = r.out;
          expect(Array.from(buf.subarray(0, r.n)), `${name} max ${max} at ${JSON.stringify(text.slice(0, 30))}`).toEqual(whole.slice(0, max));
          if (text.length > firstCharBound(max, median)) cut++;
        }
      }
      expect(cut).toBeGreaterThan(30); // the cut really happened in most cases
    });
  }
});

let work: string;
let g: GeneratedModel;
let noLimit: GeneratedModel;
let line: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'hostile-huge-'));
  g = await makeModel({
    tokenizer: TOKENIZERS.llama2,
    nVocab: 32000,
    dim: 16,
    padToken: '</s>',
    name: 'huge',
    dir: join(work, 'model'),
    config: { max_length: 128 },
  });
  // The same rows (same seed) without a max_length in config.json.
  noLimit = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 16, padToken: '</s>', name: 'huge', dir: join(work, 'no-limit') });
  // 5 MB of real text on one line.
  const flat = DOCS.replace(/\s+/g, ' ');
  line = flat.repeat(Math.ceil(5e6 / flat.length)).slice(0, 5e6);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a 5 MB line', () => {
  const cases: [string, () => string, string[]][] = [
    ['a model with max_length 128', () => g.dir, []],
    ['a model without max_length, given --max-length 128', () => noLimit.dir, ['--max-length', '128']],
  ];
  for (const [what, model, extra] of cases)
    it(`embed --input under a 200 MB heap, ${what}: finishes in seconds and equals the mean of its first 128 tokens`, async () => {
      const input = join(work, 'one-line.txt');
      writeFileSync(input, `${line}\nshort second line\n`);
      const t0 = performance.now();
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--max-old-space-size=200', BIN, 'embed', '--model', model(), '--input', input, '--json', '--quiet', ...extra], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
      const seconds = (performance.now() - t0) / 1000;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(seconds).toBeLessThan(30); // whole-line tokenizing took minutes (or ran out of heap)
      const tok = await loadTokenizerFile(TOKENIZERS.llama2);
      const pad = tok.tokenToId('</s>');
      const ids = Int32Array.from(tok.encode(line.slice(0, 20000)));
      const first = Array.from(ids.subarray(0, keepPoolingIds(ids, ids.length, poolingRules(tok, pad, 128))));
      expect(first).toHaveLength(128);
      const want = referenceEmbedding(g.rows, g.dim, first);
      const got = (JSON.parse(r.stdout) as { embeddings: number[][] }).embeddings;
      expect(got).toHaveLength(2);
      for (let j = 0; j < g.dim; j++) expect(got[0]![j]).toBeCloseTo(want[j]!, 6);
    });

  it('training data: tokenizePairs keeps the same first 128 ids of a 5 MB anchor, in seconds', async () => {
    const tok = await loadTokenizerFile(TOKENIZERS.llama2);
    const rules = poolingRules(tok, tok.tokenToId('</s>'), 128);
    const t0 = performance.now();
    const res = tokenizePairs([{ anchor: line, positive: 'a short positive' }], tok, rules);
    expect((performance.now() - t0) / 1000).toBeLessThan(20);
    const ids = Int32Array.from(tok.encode(line.slice(0, 20000)));
    expect(Array.from(res.records[0]!.anchor)).toEqual(Array.from(ids.subarray(0, keepPoolingIds(ids, ids.length, rules))));
    expect(Array.from(res.records[0]!.positive)).toEqual(tok.encode('a short positive'));
  });
});
