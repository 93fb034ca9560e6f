import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/data/delimited.ts';
import { loadTrainingData, mixIndices, readPairs } from '../../src/data/load.ts';
import { globToRegExp, parseDatasetTables, resolveDataOverride, resolveDatasets } from '../../src/data/spec.ts';
import { decodeTokenCache, encodeTokenCache, packRecords, unpackRecords } from '../../src/data/token-cache.ts';
import { DEFAULT_COLUMNS } from '../../src/data/types.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import type { TextTokenizer } from '../../src/tokenize/tokenizer.ts';
import { UserError } from '../../src/util/errors.ts';

const TOKENIZER = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');
let dir: string;
let tok: TextTokenizer;
// Datasets as a loaded config holds them: checked from their tables.
const cfg = (training?: { datasets: unknown[] }) => ({
  file: join(dir, 'model.toml'),
  training: training && { datasets: parseDatasetTables(join(dir, 'model.toml'), training.datasets) },
});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'data-test-'));
  tok = loadTokenizerFile(TOKENIZER);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<UserError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected an error');
}

describe('readers', () => {
  it('reads JSONL pairs and triplets, skipping blank lines', async () => {
    const p = write(
      'a.jsonl',
      jsonl([{ anchor: 'a cat sits', positive: 'a cat is sitting' }]) + '\n' + jsonl([{ anchor: 'x y', positive: 'z', negative: 'w' }]),
    );
    const pairs = await readPairs({ label: 'a', format: 'jsonl', path: p, columns: DEFAULT_COLUMNS, weight: 1 }, [p]);
    expect(pairs).toEqual([
      { anchor: 'a cat sits', positive: 'a cat is sitting' },
      { anchor: 'x y', positive: 'z', negative: 'w' },
    ]);
  });

  it('names file and line of malformed JSONL, empty texts and missing keys', async () => {
    const spec = (path: string) => ({ label: 'b', format: 'jsonl' as const, path, columns: DEFAULT_COLUMNS, weight: 1 });
    const bad = write('bad.jsonl', '{"anchor":"a","positive":"b"}\n{"anchor":"a", positive:"b"}\n');
    expect((await errorOf(readPairs(spec(bad), [bad]))).message).toMatch(/bad\.jsonl:2: not valid JSON/);
    const empty = write(
      'empty-text.jsonl',
      jsonl([
        { anchor: 'a', positive: 'b' },
        { anchor: 'a', positive: 'b' },
        { anchor: '  ', positive: 'b' },
      ]),
    );
    expect((await errorOf(readPairs(spec(empty), [empty]))).message).toMatch(/empty-text\.jsonl:3: "anchor" \(the anchor text\) is empty/);
    const missing = write('missing.jsonl', jsonl([{ anchor: 'a' }]));
    expect((await errorOf(readPairs(spec(missing), [missing]))).message).toMatch(/missing\.jsonl:1: missing "positive"/);
    const arr = write('array.jsonl', '["a","b"]\n');
    expect((await errorOf(readPairs(spec(arr), [arr]))).message).toMatch(/array\.jsonl:1: expected a JSON object/);
    const nothing = join(dir, 'nope.jsonl');
    expect((await errorOf(readPairs(spec(nothing), [nothing]))).message).toMatch(/nope\.jsonl: data file not found/);
  });

  it('parses RFC 4180 CSV with quotes, commas and newlines in fields', () => {
    const rows = parseCsv('a,b\r\n"x, ""y""",z\n"multi\nline",w\n');
    expect(rows).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['x, "y"', 'z'], line: 2 },
      { fields: ['multi\nline', 'w'], line: 3 },
    ]);
  });

  it('reads TSV and CSV through a column mapping', async () => {
    const tsv = write('sts.tsv', 'sentence1\tsentence2\tscore\nA man "dances".\tA man is dancing.\t5.0\nfoo\tbar\t1\n');
    const specs = parseDatasetTables(join(dir, 'model.toml'), [{ path: 'sts.tsv', columns: { anchor: 'sentence1', positive: 'sentence2' } }]);
    expect(specs[0]!.format).toBe('tsv');
    expect(await readPairs(specs[0]!, [tsv])).toEqual([
      { anchor: 'A man "dances".', positive: 'A man is dancing.' },
      { anchor: 'foo', positive: 'bar' },
    ]);
    const csv = write('q.csv', '\uFEFFq1,q2,neg\r\n"How, why?",Why?,Nope\r\n');
    const [c] = parseDatasetTables(join(dir, 'model.toml'), [{ path: 'q.csv', columns: { anchor: 'q1', positive: 'q2', negative: 'neg' } }]);
    expect(await readPairs(c!, [csv])).toEqual([{ anchor: 'How, why?', positive: 'Why?', negative: 'Nope' }]);
    const [wrong] = parseDatasetTables(join(dir, 'model.toml'), [{ path: 'sts.tsv' }]);
    expect((await errorOf(readPairs(wrong!, [tsv]))).message).toMatch(
      /sts\.tsv: no column "anchor" for the anchor text \(header: sentence1, sentence2, score\)/,
    );
    const ragged = write('ragged.tsv', 'anchor\tpositive\na\tb\nc\n');
    const [r] = parseDatasetTables(join(dir, 'model.toml'), [{ path: 'ragged.tsv' }]);
    expect((await errorOf(readPairs(r!, [ragged]))).message).toMatch(/ragged\.tsv:3: 1 fields, the header has 2/);
  });

  it('reads parquet columns by name', async () => {
    const p = join(dir, 'nli.parquet');
    parquetWriteFile({
      filename: p,
      columnData: [
        { name: 'premise', data: ['A dog runs.', 'Kids play.'], type: 'STRING' },
        { name: 'hypothesis', data: ['An animal moves.', 'Children are playing.'], type: 'STRING' },
        { name: 'label', data: [0, 0], type: 'INT32' },
      ],
    });
    const [spec] = parseDatasetTables(join(dir, 'model.toml'), [{ path: 'nli.parquet', columns: { anchor: 'premise', positive: 'hypothesis' } }]);
    expect(await readPairs(spec!, [p])).toEqual([
      { anchor: 'A dog runs.', positive: 'An animal moves.' },
      { anchor: 'Kids play.', positive: 'Children are playing.' },
    ]);
    const [bad] = parseDatasetTables(join(dir, 'model.toml'), [{ path: 'nli.parquet' }]);
    expect((await errorOf(readPairs(bad!, [p]))).message).toMatch(/no column "anchor" .*columns: premise, hypothesis, label/);
  });
});

describe('dataset specs', () => {
  it('validates [[training.datasets]] with precise errors', async () => {
    const file = join(dir, 'model.toml');
    expect((await errorOf(() => parseDatasetTables(file, [{ path: 'x.txt' }]))).message).toMatch(
      /\[\[training\.datasets\]\] #1 format: cannot tell the format of "x\.txt"/,
    );
    expect((await errorOf(() => parseDatasetTables(file, [{ pth: 'x.jsonl' }]))).message).toMatch(/#1 pth: unknown key/);
    expect((await errorOf(() => parseDatasetTables(file, [{ weight: 1 }]))).message).toMatch(/#1: needs path/);
    expect((await errorOf(() => parseDatasetTables(file, [{ path: 'a.jsonl', hf_dataset: 'a/b' }]))).message).toMatch(/both path and hf_dataset/);
    const [hf] = parseDatasetTables(file, [{ hf_dataset: 'sentence-transformers/all-nli', subset: 'triplet', max_records: 10, weight: 0.5 }]);
    expect(hf).toMatchObject({ format: 'hf', hf_dataset: 'sentence-transformers/all-nli', subset: 'triplet', max_records: 10, weight: 0.5 });
  });

  it('resolves --data files, folders, globs, hf: and wordnet', () => {
    write('d/one.jsonl', jsonl([{ anchor: 'a', positive: 'b' }]));
    write('d/two.tsv', 'anchor\tpositive\na\tb\n');
    write('d/notes.md', '# not data');
    write('d/sub/three.jsonl', jsonl([{ anchor: 'a', positive: 'b' }]));
    expect(resolveDataOverride('d', dir).map((s) => s.label)).toEqual(['one.jsonl', 'two.tsv']);
    expect(resolveDataOverride('d/*.jsonl', dir).map((s) => s.label)).toEqual(['one.jsonl']);
    expect(resolveDataOverride('d/**/*.jsonl', dir).map((s) => s.label)).toEqual(['one.jsonl', 'three.jsonl']);
    expect(resolveDataOverride('hf:org/set:pair:dev', dir)[0]).toMatchObject({ format: 'hf', hf_dataset: 'org/set', subset: 'pair', split: 'dev' });
    expect(resolveDatasets(join(dir, 'x.toml'), undefined)[0]).toMatchObject({ format: 'wordnet', max_records: 120000 });
    expect(() => resolveDataOverride('d/*.parquet', dir)).toThrow(/no data files match/);
    expect(() => resolveDataOverride('absent.jsonl', dir)).toThrow(/--data absent\.jsonl: not found/);
    expect(globToRegExp('a/*.jsonl').test('a/b.jsonl')).toBe(true);
    expect(globToRegExp('a/*.jsonl').test('a/b/c.jsonl')).toBe(false);
  });

  it('mixes by max_records and weight deterministically', () => {
    const spec = { label: 's', weight: 1, max_records: 4 };
    const a = mixIndices(10, spec, 1);
    expect(a).toHaveLength(4);
    expect(a).toEqual(mixIndices(10, spec, 1));
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(mixIndices(10, { label: 's', weight: 2 }, 1)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const half = mixIndices(10, { label: 's', weight: 0.5 }, 1);
    expect(half).toHaveLength(5);
    expect(new Set(half).size).toBe(5);
    expect(mixIndices(10, { label: 's', weight: 1.5 }, 1)).toHaveLength(15);
  });
});

describe('token cache', () => {
  it('round-trips packed records, including absent negatives', () => {
    const recs = [
      { anchor: Int32Array.of(1, 2, 3), positive: Int32Array.of(4) },
      { anchor: Int32Array.of(5), positive: Int32Array.of(6, 7), negative: Int32Array.of(8, 9, 10) },
    ];
    const bytes = encodeTokenCache(packRecords(recs), { key: 'k', label: 'l' });
    const { cols, key } = decodeTokenCache(bytes, 'x.tok');
    expect(key).toBe('k');
    expect(unpackRecords(cols)).toEqual(recs);
    expect(() => decodeTokenCache(bytes.subarray(0, bytes.length - 4), 'x.tok')).toThrow(/x\.tok: corrupt token cache \(truncated\)/);
  });

  it('tokenizes without special tokens, truncates, caches, and re-tokenizes when the data changes', async () => {
    const p = write(
      'c/train.jsonl',
      jsonl([
        { anchor: 'The quick brown fox jumps over the lazy dog', positive: 'A fox leaps over a dog' },
        { anchor: 'hello', positive: 'hi there', negative: 'goodbye' },
      ]),
    );
    const cacheDir = join(dir, 'c', 'cache');
    const opts = { tokenizer: tok, maxLength: 5, cacheDir, dataOverride: p, withTexts: true };
    const first = await loadTrainingData(cfg(), opts);
    expect(first.datasets[0]).toMatchObject({ label: 'train.jsonl', count: 2, cached: false });
    const expected = tok.encode('The quick brown fox jumps over the lazy dog', false).slice(0, 5);
    expect(Array.from(first.records[0]!.anchor)).toEqual(expected);
    expect(first.records[0]!.anchor).toHaveLength(5);
    expect(Array.from(first.records[1]!.negative!)).toEqual(tok.encode('goodbye', false));
    expect(first.records[0]!.negative).toBeUndefined();
    expect(first.texts![1]).toEqual({ anchor: 'hello', positive: 'hi there', negative: 'goodbye' });
    expect(tok.encode('hello', true).length).toBeGreaterThan(tok.encode('hello', false).length);

    const second = await loadTrainingData(cfg(), opts);
    expect(second.datasets[0]!.cached).toBe(true);
    expect(second.records.map((r) => Array.from(r.anchor))).toEqual(first.records.map((r) => Array.from(r.anchor)));
    expect(second.texts).toEqual(first.texts);
    expect(second.fingerprint).toBe(first.fingerprint);

    const longer = await loadTrainingData(cfg(), { ...opts, maxLength: 64 });
    expect(longer.datasets[0]!.cached).toBe(false);
    expect(longer.fingerprint).not.toBe(first.fingerprint);

    write('c/train.jsonl', jsonl([{ anchor: 'changed', positive: 'text' }]));
    const changed = await loadTrainingData(cfg(), opts);
    expect(changed.datasets[0]).toMatchObject({ cached: false, count: 1 });
    expect(readdirSync(join(cacheDir, 'tokens')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('mixes datasets from [[training.datasets]] with their ranges', async () => {
    write('m/a.jsonl', jsonl(Array.from({ length: 10 }, (_, i) => ({ anchor: `a${i}`, positive: `p${i}` }))));
    write('m/b.jsonl', jsonl(Array.from({ length: 6 }, (_, i) => ({ anchor: `b${i}`, positive: `q${i}` }))));
    const training = {
      datasets: [
        { path: 'm/a.jsonl', max_records: 3 },
        { path: 'm/b.jsonl', weight: 2 },
      ],
    };
    const data = await loadTrainingData(cfg(training), { tokenizer: tok, maxLength: 16, cacheDir: join(dir, 'm', 'cache'), withTexts: true });
    expect(data.datasets.map((d) => [d.label, d.start, d.count, d.available])).toEqual([
      ['a.jsonl', 0, 3, 10],
      ['b.jsonl', 3, 12, 6],
    ]);
    expect(data.texts!.slice(3, 9).map((t) => t.anchor)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5']);
    data.texts!.forEach((t, i) => expect(Array.from(data.records[i]!.anchor)).toEqual(tok.encode(t.anchor, false)));
  });
});
