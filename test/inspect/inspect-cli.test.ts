/**
 * `pipeline inspect` through the CLI: on the real USE-lite matrix (extracted offline with `pipeline extract
 * --config use_lite`, as test/sources/use-lite.test.ts does), checked against quantities computed here from
 * the file itself; and with --model on a small f16 matrix with planted duplicates and zero rows.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectReport } from '../../src/inspect/inspect.ts';
import { openSafetensorsMatrix } from '../../src/matrix/row-matrix.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import { centredGram, streamGram } from '../../src/inspect/gram.ts';
import { tokenKinds, tokenText } from '../../src/inspect/token-kind.ts';
import { quantile, topEigenvectors } from '../../src/inspect/token-map.ts';
import { chartBoxes, chromiumIt, overflowingChartText, screenshot, withPage } from '../helpers/chromium.ts';
import { runCli } from '../helpers/cli.ts';
import { writeTaskFiles } from '../helpers/eval-fixtures.ts';
import { memoryMatrix, seeded } from '../helpers/memory-matrix.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
let dir: string;
let weights: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inspect-cli-'));
  weights = join(dir, 'use_lite');
  const env = { ...process.env, HF_ENDPOINT: 'http://127.0.0.1:9', HF_TOKEN: '', NO_COLOR: '1' };
  await promisify(execFile)(process.execPath, ['bin/pipeline.js', 'extract', '--config', 'use_lite', '--out-dir', weights], {
    cwd: ROOT,
    env,
    timeout: 120_000,
  });
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function centred(x: Float32Array, rows: number, dim: number): Promise<Float64Array> {
  return centredGram(await streamGram(memoryMatrix(x, rows, dim)));
}

function cos(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}

describe('pipeline inspect', () => {
  it('inspects the USE-lite matrix: spectrum, rows, neighbours equal to brute force', async () => {
    const r = await runCli(['inspect', '--config', 'use_lite', '--out-dir', weights, '--duplicates', '0', '--k', '4', '--neighbours', '▁good', 'good morning']);
    expect(r.code).toBe(0);
    const path = join(weights, 'inspect.json');
    expect(r.out).toBe(`${path}\n`);
    expect((await readdir(weights)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const rep = JSON.parse(readFileSync(path, 'utf8')) as InspectReport;
    expect([rep.rows, rep.dim, rep.source]).toEqual([8002, 256, 'config use_lite']);
    expect(rep.near_duplicates).toBeUndefined();

    const m = await openSafetensorsMatrix(join(weights, 'use_lite.safetensors'), 'embedding');
    const x = await m.readRows(0, 8002);
    await m.close();
    // Σσ² is the squared Frobenius norm; Σσ² of the centred matrix is that minus n·‖μ‖²
    let fro = 0;
    const mean = new Float64Array(256);
    let zero = 0;
    for (let i = 0; i < 8002; i++) {
      let s = 0;
      for (let j = 0; j < 256; j++) {
        s += x[i * 256 + j]! ** 2;
        mean[j] = mean[j]! + x[i * 256 + j]! / 8002;
      }
      fro += s;
      if (s === 0) zero++;
    }
    const sum2 = (v: number[]) => v.reduce((a, s) => a + s * s, 0);
    expect(sum2(rep.spectrum.uncentred.singular_values) / fro).toBeCloseTo(1, 10);
    expect(sum2(rep.spectrum.centred.singular_values) / (fro - 8002 * mean.reduce((a, v) => a + v * v, 0))).toBeCloseTo(1, 10);
    expect(rep.spectrum.variance_explained.map((v) => v.k)).toEqual([256, 128, 64]);
    expect(rep.spectrum.variance_explained[0]!.fraction).toBeCloseTo(1, 12);
    expect(rep.zero_rows.count).toBe(zero);
    expect(rep.projection_baselines.map((b) => [b.k, b.expected_scale])).toEqual([
      [128, 0.5],
      [64, 0.25],
    ]);
    for (const b of rep.projection_baselines) {
      expect(b.pca_error).toBeLessThan(b.random_error);
      expect(Math.abs(b.random_scale - b.expected_scale)).toBeLessThan(0.1);
    }
    const tok = loadTokenizerFile(join(weights, 'tokenizer.json'));
    expect(rep.unreachable).toEqual({ beyond_vocab: Math.max(0, 8002 - tok.vocabSize), special: [...tok.specialIds].sort((a, b) => a - b) });

    const king = tok.tokenToId('▁good')!;
    expect(king).toBeTypeOf('number');
    const row = (id: number) => x.subarray(id * 256, (id + 1) * 256);
    const brute = Array.from({ length: 8002 }, (_, id) => ({ id, score: id === king ? -Infinity : cos(row(king), row(id)) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 4);
    const [kq, tq] = rep.neighbours;
    expect(kq!.kind).toBe('token');
    expect(kq!.neighbours.map((n) => n.id)).toEqual(brute.map((b) => b.id));
    kq!.neighbours.forEach((n, i) => {
      expect(n.score).toBeCloseTo(brute[i]!.score, 5);
      expect(n.token).toBe(tok.idToToken(n.id));
    });
    expect(tq!.kind).toBe('text');
    expect(tq!.ids).toEqual(tok.encode('good morning'));
    expect(r.err).toContain('use_lite.safetensors#embedding: 8002 × 256');
    expect(r.err).toContain('variance in first k: 256 → 100.0%, 128 → ');

    // token kinds: the norms-by-kind table counts every row once, by the classifier's kinds
    const kinds = tokenKinds(tok, 8002);
    const counts = new Map<string, number>();
    for (const k of kinds) counts.set(k ?? 'unknown', (counts.get(k ?? 'unknown') ?? 0) + 1);
    expect(new Map(rep.norms_by_kind.map((k) => [k.kind, k.count]))).toEqual(counts);
    expect(rep.norms_by_kind.find((k) => k.kind === 'special')!.count).toBe(tok.specialIds.size);
    const letters = rep.norms_by_kind.find((k) => k.kind === 'letters')!;
    const letterNorms = kinds.flatMap((k, id) => (k === 'letters' ? [Math.hypot(...row(id))] : [])).sort((a, b) => a - b);
    expect(letters.median).toBeCloseTo(quantile(letterNorms, 0.5), 5);
    expect(letters.max).toBeCloseTo(letterNorms[letterNorms.length - 1]!, 5);
    // the map: up to 400 per kind, each point's coordinates the projection of its centred row
    const map = rep.map!;
    for (const [kind, n] of counts) expect(map.points.filter((p) => p.kind === kind).length).toBe(Math.min(400, n));
    const [pc1, pc2] = topEigenvectors(await centred(x, 8002, 256), 256, 2).vectors;
    for (const p of map.points.slice(0, 20)) {
      const c = Array.from(row(p.id), (v, j) => v - mean[j]!);
      expect(p.x).toBeCloseTo(
        c.reduce((s, v, j) => s + v * pc1![j]!, 0),
        4,
      );
      expect(p.y).toBeCloseTo(
        c.reduce((s, v, j) => s + v * pc2![j]!, 0),
        4,
      );
      expect(p.token).toBe(tokenText(tok, p.id));
    }
    expect(map.axis_variance[0]).toBeCloseTo(rep.spectrum.centred.singular_values[0]! ** 2 / sum2(rep.spectrum.centred.singular_values), 8);
    expect(existsSync(join(weights, 'inspect.html'))).toBe(true);
  }, 120_000);

  chromiumIt('inspect.html render test')(
    'inspect.html renders in headless Chromium with its charts, no network',
    async () => {
      await withPage(join(weights, 'inspect.html'), async ({ page, url, requests, problems }) => {
        expect(requests).toEqual([url]);
        expect(problems).toEqual([]);
        expect(await page.title()).toBe(`${join(weights, 'use_lite.safetensors')}#embedding — inspect`);
        const rep = JSON.parse(readFileSync(join(weights, 'inspect.json'), 'utf8')) as InspectReport;
        const titles = await page.$$eval('svg.chart', (els) => els.map((e) => e.getAttribute('aria-label')));
        expect(titles).toEqual([
          'Singular values',
          'Variance in the first k components',
          'Reconstruction error by k',
          `Token map: ${rep.map!.points.length} sampled tokens`,
          'Row norm by token kind',
        ]);
        for (const [w, h] of await chartBoxes(page)) {
          expect(w).toBeGreaterThan(300);
          expect(h).toBeGreaterThan(150);
        }
        expect(await overflowingChartText(page)).toEqual([]);
        // one dot per sampled token, labels drawn for the labelled ones, one box per kind
        expect(await page.$$eval('g.points circle', (els) => els.length)).toBe(rep.map!.points.length);
        expect(await page.$$eval('text.point-label', (els) => els.length)).toBe(rep.map!.points.filter((p) => p.labelled).length);
        expect(await page.$$eval('g.box', (els) => els.length)).toBe(rep.norms_by_kind.length);
        const headings = await page.$$eval('h2', (els) => els.map((e) => e.textContent));
        expect(headings).toEqual([
          'Spectrum',
          'Variance explained per Matryoshka dim',
          'Projection baselines',
          'Map by token kind',
          'Row norms by token kind',
          'Neighbours',
        ]);
        console.info(`inspect screenshot: ${await screenshot(page, 'inspect.png')}`);
      });
    },
    60_000,
  );

  it('--model weights/NAME: the trained model beside its source matrix, on one page', async () => {
    // A saved model in the config's folder, as pipeline save leaves it: config.json names the config, whose
    // extracted input (use_lite.safetensors) sits in the same folder.
    const x = Float32Array.from({ length: 8002 * 64 }, (_, i) => Math.sin(i * 0.37));
    await writeSafetensors(join(weights, 'use_lite_64.safetensors'), [{ name: 'embedding.weight', dtype: 'F16', shape: [8002, 64], data: x }]);
    writeFileSync(
      join(weights, 'config.json'),
      JSON.stringify({ model_type: 'wordllama-ts', name: 'use_lite', dims: [64], n_vocab: 8002, files: { '64': 'use_lite_64.safetensors' } }),
    );
    const out = join(dir, 'trained', 'inspect.json');
    const tasks = writeTaskFiles(join(dir, 'tasks'));
    const r = await runCli(['inspect', '--model', weights, '--duplicates', '0', '--out', out, '--task', `sts=${tasks.sts}`, '--task', `pair=${tasks.pair}`]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as InspectReport;
    expect([rep.rows, rep.dim]).toEqual([8002, 64]);
    expect([rep.compared_with!.rows, rep.compared_with!.dim, rep.compared_with!.source]).toEqual([8002, 256, 'config use_lite (source matrix)']);
    const first = JSON.parse(readFileSync(join(weights, 'inspect.json'), 'utf8')) as InspectReport;
    expect(rep.compared_with!.spectrum.uncentred.singular_values).toEqual(first.spectrum.uncentred.singular_values);
    expect(r.err).toContain('source matrix:\n');
    // the baselines table: raw rows at the source width, PCA and random projection at each Matryoshka dim, the model
    const ev = rep.eval!;
    expect(rep.compared_with!.eval).toBeUndefined();
    expect([...new Set(ev.map((e) => `${e.model}@${e.dim}`))]).toEqual([
      'raw rows@256',
      'PCA@256',
      'PCA@128',
      'PCA@64',
      'random projection@256',
      'random projection@128',
      'random projection@64',
      'trained model@64',
    ]);
    expect(new Set(ev.map((e) => `${e.kind}:${e.metric}`))).toEqual(new Set(['sts:spearman', 'pair:ap']));
    // a random orthonormal projection to the full width is a rotation: cosines, so scores, equal the raw rows'
    for (const kind of ['sts', 'pair']) {
      const at = (model: string) => ev.find((e) => e.kind === kind && e.model === model && e.dim === 256)!.score!;
      expect(at('random projection')).toBeCloseTo(at('raw rows'), 9);
    }
    const html = readFileSync(join(dir, 'trained', 'inspect.html'), 'utf8');
    expect(html).toContain('<h2>Baselines on the eval tasks</h2>');
    for (const t of ['trained model: Singular values', 'source matrix: Singular values', 'trained model: Token map', 'source matrix: Row norm by token kind'])
      expect(html).toContain(`aria-label="${t}`);
  }, 120_000);

  it('--model: finds planted duplicates and zero rows in an f16 matrix, writes beside it', async () => {
    const rows = 300;
    const dim = 16;
    const rnd = seeded(9);
    const x = Float32Array.from({ length: rows * dim }, () => rnd() * 2 - 1);
    x.copyWithin(7 * dim, 3 * dim, 4 * dim); // row 7 = row 3
    x.copyWithin(250 * dim, 100 * dim, 101 * dim); // row 250 = row 100
    x.fill(0, 42 * dim, 43 * dim);
    const modelDir = join(dir, 'raw');
    await writeSafetensors(join(modelDir, 'm.safetensors'), [{ name: 'embedding', dtype: 'F16', shape: [rows, dim], data: x }]);
    copyFileSync(join(weights, 'tokenizer.json'), join(modelDir, 'tokenizer.json'));
    const r = await runCli(['inspect', '--model', join(modelDir, 'm.safetensors'), '--json', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const rep = JSON.parse(r.out) as InspectReport;
    expect(existsSync(join(modelDir, 'inspect.json'))).toBe(true);
    expect(readFileSync(join(modelDir, 'inspect.html'), 'utf8')).toContain('<h2>Map by token kind</h2>');
    // report.html links the page when it exists beside the model (or up to two folders above)
    const rr = await runCli(['report', '--model', join(modelDir, 'm.safetensors'), '--json', '--quiet']);
    expect(rr.code).toBe(0);
    expect(JSON.parse(rr.out).sections).toContain('inspect');
    expect(readFileSync(join(modelDir, 'report.html'), 'utf8')).toContain('<h2>Inside the matrix</h2><p class="sub"><a href="inspect.html">inspect.html</a>');
    expect(rep.near_duplicates!.pairs).toBe(2);
    expect(rep.near_duplicates!.examples.map((p) => [p.a, p.b, p.distance])).toEqual(
      [
        [3, 7, 0],
        [100, 250, 0],
      ].map(([a, b]) => [a, b, expect.closeTo(0, 6)]),
    );
    expect(rep.zero_rows).toEqual({ count: 1, ids: [42] });
    expect(rep.spectrum.variance_explained.map((v) => v.k)).toEqual([16]);
  }, 60_000);

  it('refuses both or neither of --config and --model in one line', async () => {
    const r = await runCli(['inspect']);
    expect(r.code).not.toBe(0);
    expect(r.err.trim()).toBe('error: inspect: pass exactly one of --config NAME or --model PATH (see: pipeline inspect --help)');
    const h = await runCli(['inspect', '--help']);
    for (const t of ['--config', '--model', '--neighbours', '--duplicates', 'inspect.json']) expect(h.out).toContain(t);
  });
});
