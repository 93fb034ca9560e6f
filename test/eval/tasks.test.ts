/** Task files (TSV/JSONL parsing, errors with file:line) and the task runner on a hand-built encoder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDims, hammingSim, packSigns, prepareVectors, rowDot, type SentenceEncoder } from '../../src/eval/encoder.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { averagePrecision, spearman } from '../../src/eval/metrics/index.ts';
import { formatTable, toEvalFile } from '../../src/eval/results.ts';
import { runTask } from '../../src/eval/run-task.ts';
import { loadTask, parseTaskSpec } from '../../src/eval/tasks/load.ts';
import { parseCluster, parseLabelled, parsePair, parseRanking, parseSts } from '../../src/eval/tasks/parse.ts';
import type { TaskData } from '../../src/eval/tasks/types.ts';

describe('task file parsing', () => {
  it('reads STS TSV with and without a header, skipping blank lines and CRLF', () => {
    const withHeader = parseSts('a.tsv', 'sentence1\tsentence2\tscore\r\nA cat.\tA dog.\t1.5\r\n\r\nHi\tHello\t4\r\n');
    expect(withHeader).toEqual({ kind: 'sts', sentence1: ['A cat.', 'Hi'], sentence2: ['A dog.', 'Hello'], score: [1.5, 4] });
    expect(parseSts('b.tsv', 'A cat.\tA dog.\t1.5\n').score).toEqual([1.5]);
  });

  it('reads JSONL for every kind', () => {
    expect(parseSts('s.jsonl', '{"sentence1":"a","sentence2":"b","score":3}\n').score).toEqual([3]);
    expect(parsePair('p.jsonl', '{"sentence1":"a","sentence2":"b","label":1}\n{"sentence1":"a","sentence2":"c","label":0}').label).toEqual([1, 0]);
    expect(parseLabelled('c.jsonl', '{"text":"x","label":3}\n')).toEqual({ text: ['x'], label: ['3'] });
    const r = parseRanking('r.jsonl', '{"anchor":"q","positive":"p","negative":["n1","n2"]}\n{"query":"q2","positives":["a","b"]}\n', 'retrieval');
    expect(r.queries).toEqual([
      { query: 'q', positives: ['p'], negatives: ['n1', 'n2'] },
      { query: 'q2', positives: ['a', 'b'], negatives: [] },
    ]);
  });

  it('reads ranking TSV with any number of negatives', () => {
    const r = parseRanking('r.tsv', 'query\tpositive\tnegative\nq1\tp1\tn1\tn2\nq2\tp2\n', 'rerank');
    expect(r.queries).toEqual([
      { query: 'q1', positives: ['p1'], negatives: ['n1', 'n2'] },
      { query: 'q2', positives: ['p2'], negatives: [] },
    ]);
  });

  it('gives one-line errors with file:line', () => {
    expect(() => parseSts('dev.tsv', '')).toThrow('dev.tsv: empty task file; expected lines of sentence1<TAB>sentence2<TAB>score');
    expect(() => parseSts('dev.tsv', 'sentence1\tsentence2\tscore\n')).toThrow('dev.tsv: has a header line but no records');
    expect(() => parseSts('dev.tsv', 'a\tb\t1\nc\td\n')).toThrow('dev.tsv:2: found 2 tab-separated columns, expected sentence1<TAB>sentence2<TAB>score');
    expect(() => parseSts('dev.tsv', 'a\tb\t1\n\nc\td\thigh\n')).toThrow('dev.tsv:3: score (column 3) "high" is not a number');
    expect(() => parseSts('dev.tsv', 'a\t\t1\n')).toThrow('dev.tsv:1: column 2 is empty');
    expect(() => parsePair('p.tsv', 'a\tb\t2\n')).toThrow('p.tsv:1: label "2" must be 0 or 1');
    expect(() => parsePair('p.tsv', 'a\tb\t1\nc\td\t1\n')).toThrow('p.tsv: pair classification needs both label 0 and label 1 rows');
    expect(() => parseSts('s.jsonl', '{"sentence1":"a","sentence2":"b"}\n')).toThrow('s.jsonl:1: missing key "score"');
    expect(() => parseSts('s.jsonl', '{"sentence1":"a","sentence2":"b","score":1}\n{oops\n')).toThrow(/^s\.jsonl:2: not valid JSON/);
    expect(() => parseLabelled('c.tsv', 'only text\n')).toThrow('c.tsv:1: found 1 tab-separated column, expected text<TAB>label');
    expect(() => parseCluster('c.tsv', 'a\tx\nb\tx\n')).toThrow('c.tsv: clustering needs at least 2 distinct labels');
    expect(() => parseRanking('r.jsonl', '{"query":"q"}\n', 'retrieval')).toThrow('r.jsonl:1: missing key "positive"');
    expect(() => parseRanking('r.tsv', 'q\tp\n', 'rerank')).toThrow('r.tsv: reranking needs negatives');
  });

  it('parses --task specs', () => {
    expect(parseTaskSpec('sts=data/dev.tsv')).toEqual({ name: 'dev', kind: 'sts', files: ['data/dev.tsv'] });
    expect(parseTaskSpec('clf=tr.tsv,te.tsv')).toEqual({ name: 'te', kind: 'clf', files: ['tr.tsv', 'te.tsv'] });
    expect(() => parseTaskSpec('foo=x')).toThrow(/KIND one of sts, pair, clf, cluster, retrieval, rerank/);
    expect(() => parseTaskSpec('clf=only.tsv')).toThrow('eval: --task clf= takes TRAIN,TEST (two files), got 1');
    expect(() => parseTaskSpec('sts=a,b')).toThrow('eval: --task sts= takes one file, got 2');
  });

  it('loads files from disk and names a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eval-tasks-'));
    writeFileSync(join(dir, 'tr.tsv'), 'text\tlabel\na\tx\nb\ty\n');
    writeFileSync(join(dir, 'te.tsv'), 'c\tx\n');
    const data = loadTask(parseTaskSpec(`clf=${join(dir, 'tr.tsv')},${join(dir, 'te.tsv')}`));
    expect(data).toEqual({ kind: 'clf', train: { text: ['a', 'b'], label: ['x', 'y'] }, test: { text: ['c'], label: ['x'] } });
    expect(() => loadTask(parseTaskSpec(`sts=${join(dir, 'nope.tsv')}`))).toThrow(`${join(dir, 'nope.tsv')}: task file not found`);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('vectors for each width and mode', () => {
  it('Hamming similarity of packed sign codes = dot product of the ±1/√dim codes, 0 for a tokenless row', () => {
    const rand = mulberry32(4);
    const rows = 40;
    const dim = 80; // not a multiple of 32: the last word is partial
    const data = Float32Array.from({ length: rows * dim }, () => rand() - 0.5);
    data.fill(0, 7 * dim, 8 * dim); // row 7 had no tokens
    const emb = { data, rows, dim };
    for (const d of [80, 64, 33, 5]) {
      const codes = packSigns(emb, d);
      const v = prepareVectors(emb, d, true);
      for (let a = 0; a < rows; a++) {
        for (let b = 0; b < rows; b++) expect(hammingSim(codes, a, b)).toBeCloseTo(rowDot(v, a, v, b, d), 6);
      }
      expect(hammingSim(codes, 7, 3)).toBe(0);
      expect(hammingSim(codes, 2, 2)).toBe(1);
    }
  });

  it('lists default Matryoshka widths', () => {
    expect(defaultDims(256)).toEqual([256, 128, 64, 32]);
    expect(defaultDims(300)).toEqual([300, 256, 128, 64, 32]);
    expect(defaultDims(16)).toEqual([16]);
  });

  it('truncates + normalises (dense) and takes signs (binary)', () => {
    const emb = { data: Float32Array.from([3, 4, 5, -1, 0, 0, 0, 0]), rows: 2, dim: 4 };
    expect(Array.from(prepareVectors(emb, 2, false))).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
    const b = prepareVectors(emb, 4, true);
    expect(Array.from(b)).toEqual([0.5, 0.5, 0.5, -0.5, 0, 0, 0, 0]);
  });
});

/** A hand-built encoder: each text's vector is given in a table (4 dims). */
function tableEncoder(vectors: Record<string, number[]>): SentenceEncoder & { calls: number } {
  const enc = {
    name: 'toy',
    dim: 4,
    dims: [4, 2],
    calls: 0,
    async embed(texts: string[]) {
      enc.calls++;
      const data = new Float32Array(texts.length * 4);
      texts.forEach((t, i) => {
        const v = vectors[t];
        if (!v) throw new Error(`no vector for ${t}`);
        data.set(v, i * 4);
      });
      return { data, rows: texts.length, dim: 4 };
    },
  };
  return enc;
}

const run = (enc: SentenceEncoder, data: TaskData, modes: ('dense' | 'binary')[] = ['dense', 'binary']) =>
  runTask(enc, { name: 't', file: 't.tsv', data }, { dims: enc.dims, modes });

describe('task runner', () => {
  const vec: Record<string, number[]> = {
    a: [1, 0, 1, 0],
    b: [1, 0.1, 1, 0.2],
    c: [0, 1, 1, 0],
    d: [-1, 1, -1, 1],
    e: [1, 1, 0, 0],
  };

  it('STS: Spearman of cosine per width, Hamming for binary; embeds each distinct text once', async () => {
    const enc = tableEncoder(vec);
    const data: TaskData = { kind: 'sts', sentence1: ['a', 'a', 'a', 'c'], sentence2: ['b', 'c', 'd', 'e'], score: [5, 3, 0, 3] };
    const res = await run(enc, data);
    expect(enc.calls).toBe(1);
    const get = (dim: number, binary: boolean, metric: string) => res.find((r) => r.dim === dim && r.binary === binary && r.metric === metric)!.score;
    // dim 4 cosines: a·b = 0.985, a·c = 0.5, a·d = −0.707, c·e = 0.5 → ranks of sims [4, 2.5, 1, 2.5] vs scores [4, 2.5, 1, 2.5]
    expect(get(4, false, 'spearman')).toBeCloseTo(1, 12);
    // dim 2 (first two columns): a=(1,0) b=(1,.1) c=(0,1) d=(-1,1) e=(1,1): sims .995, 0, −.707, .707
    expect(get(2, false, 'spearman')).toBeCloseTo(spearman([0.995, 0, -0.707, 0.707], [5, 3, 0, 3]), 12);
    // binary dim 4: signs a=++++? no: a=[+,−,+,−] (0 → −), b=[+,+,+,+], c=[−,+,+,−], d=[−,+,−,+], e=[+,+,−,−]
    // Hamming sims 1 − 2h/4: a·b = 0, a·c = 0, a·d = −1, c·e = 0
    expect(get(4, true, 'spearman')).toBeCloseTo(spearman([0, 0, -1, 0], [5, 3, 0, 3]), 12);
    expect(res.filter((r) => r.main).map((r) => `${r.dim}/${r.binary}`)).toEqual(['4/false', '4/true', '2/false', '2/true']);
    expect(res[0]).toMatchObject({ model: 'toy', task: 't', kind: 'sts', file: 't.tsv' });
  });

  it('pair: AP of cosine with best accuracy / F1', async () => {
    const data: TaskData = { kind: 'pair', sentence1: ['a', 'a', 'a', 'c'], sentence2: ['b', 'c', 'd', 'e'], label: [1, 0, 0, 1] };
    const res = await run(tableEncoder(vec), data, ['dense']);
    const at4 = res.filter((r) => r.dim === 4);
    // cosines [.985, .5, −.707, .5]: positive first, then a tie of one positive and one negative
    expect(at4.find((r) => r.metric === 'ap')!.score).toBeCloseTo(averagePrecision([0.985, 0.5, -0.707, 0.5], [1, 0, 0, 1]), 12);
    expect(at4.find((r) => r.metric === 'ap')!.score).toBeCloseTo(0.5 + 0.5 * (2 / 3), 12);
    expect(at4.find((r) => r.metric === 'accuracy')!.score).toBe(0.75);
  });

  it('retrieval ranks against the whole pool, rerank against each query’s own candidates', async () => {
    const v: Record<string, number[]> = {
      q1: [1, 0, 0, 0],
      q2: [0, 1, 0, 0],
      p1: [0.9, 0.1, 0, 0],
      p2: [0.8, 0.7, 0, 0],
      n1: [0.95, 0, 0.1, 0],
      n2: [0, 0, 1, 0],
    };
    const queries = [
      { query: 'q1', positives: ['p1'], negatives: ['n2'] },
      { query: 'q2', positives: ['p2'], negatives: ['n1'] },
    ];
    const enc = { ...tableEncoder(v), dims: [4] };
    const retrieval = await run(enc, { kind: 'retrieval', queries }, ['dense']);
    // pool {p1, n2, p2, n1}. q1: n1 (.995) > p1 (.994) → p1 at rank 2. q2: p2 first.
    const m = (rs: typeof retrieval, k: string) => rs.find((r) => r.metric === k)!.score;
    expect(m(retrieval, 'mrr@10')).toBeCloseTo((1 / 2 + 1) / 2, 12);
    expect(m(retrieval, 'ndcg@10')).toBeCloseTo((1 / Math.log2(3) + 1) / 2, 12);
    const rerank = await run(enc, { kind: 'rerank', queries }, ['dense']);
    // own candidates: q1 {p1, n2} → p1 first; q2 {p2, n1} → p2 first
    expect(m(rerank, 'map')).toBe(1);
    expect(m(rerank, 'mrr@10')).toBe(1);
    expect(rerank.find((r) => r.main)!.metric).toBe('map');
    expect(retrieval.find((r) => r.main)!.metric).toBe('ndcg@10');
  });

  it('classification and clustering on separable data score 1, deterministically', async () => {
    const v: Record<string, number[]> = {};
    const texts: string[] = [];
    const labels: string[] = [];
    for (let i = 0; i < 30; i++) {
      const c = i % 3;
      const t = `t${i}`;
      const base = [
        [5, -5, -5, -5],
        [-5, 5, -5, -5],
        [-5, -5, 5, -5],
      ][c]!;
      v[t] = base.map((x, j) => x + ((i * 7 + j * 3) % 5) * 0.1);
      texts.push(t);
      labels.push(['x', 'y', 'z'][c]!);
    }
    const enc = { ...tableEncoder(v), dims: [4] };
    const clf = await run(enc, {
      kind: 'clf',
      train: { text: texts.slice(0, 21), label: labels.slice(0, 21) },
      test: { text: texts.slice(21), label: labels.slice(21) },
    });
    expect(clf.map((r) => [r.binary, r.metric, r.score])).toEqual([
      [false, 'accuracy', 1],
      [false, 'f1_macro', 1],
      [true, 'accuracy', 1],
      [true, 'f1_macro', 1],
    ]);
    const cl1 = await run(enc, { kind: 'cluster', text: texts, label: labels }, ['dense']);
    const cl2 = await run(enc, { kind: 'cluster', text: texts, label: labels }, ['dense']);
    expect(cl1[0]!.score).toBeCloseTo(1, 12);
    expect(cl1).toEqual(cl2);
  });
});

describe('results', () => {
  it('writes an undefined metric as null and shows it as n/a; table rows per metric, model and width', () => {
    const base = { task: 'dev', kind: 'sts' as const, file: 'dev.tsv', main: true, metric: 'spearman' };
    const file = toEvalFile(
      '/m',
      [{ name: 'dev', kind: 'sts', files: ['dev.tsv'] }],
      [],
      [
        { ...base, model: 'model', dim: 64, binary: false, score: 0.5 },
        { ...base, model: 'model', dim: 64, binary: true, score: NaN },
        { ...base, model: 'raw', dim: 48, binary: false, score: 0.25 },
      ],
      1.23456,
    );
    expect(file.results.map((r) => r.score)).toEqual([0.5, null, 0.25]);
    expect(file.seconds).toBe(1.235);
    expect(JSON.parse(JSON.stringify(file)).results[1].score).toBeNull();
    expect(formatTable(file.results)).toBe(
      [
        'sts dev (dev.tsv)',
        '  metric    model  dim   dense  binary',
        '  spearman  model   64  0.5000     n/a',
        '  spearman  raw     48  0.2500       -',
        '',
      ].join('\n'),
    );
  });
});
