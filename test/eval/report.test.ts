/**
 * `pipeline report`: HTML built from fixture files (eval.json from a real eval run, metrics.jsonl,
 * extract.json, a tiny model), checked for structure and numbers, sections left out without data, and
 * rendered in headless Chromium (screenshot saved; skipped with a message when Chromium is absent).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { chartBoxes, chromiumIt, overflowingChartText, screenshot, withPage } from '../helpers/chromium.ts';
import { runCli } from '../helpers/cli.ts';
import { parseMetricsLog } from '../../src/eval/report/collect.ts';
import { lineChart, niceTicks } from '../../src/eval/report/svg.ts';
import { writeRawSource, writeTaskFiles, writeTinyModel } from '../helpers/eval-fixtures.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';
import { load } from '../../src/embed/node.ts';

let dir: string;
let weights: string;
let bare: string;

const cli = runCli;

afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'report-'));
  // weights/<config>/ layout: saved model + tokenizer + config.json, the training log and extract facts beside it
  weights = join(dir, 'weights', 'tiny');
  await writeTinyModel(weights);
  await writeRawSource(join(dir, 'extracted'));
  const tasks = writeTaskFiles(join(dir, 'tasks'));
  const lines: string[] = [];
  for (let step = 0; step <= 600; step += 20) {
    lines.push(
      JSON.stringify({
        type: 'train',
        step,
        epoch: Math.floor(step / 300),
        loss: 3 * Math.exp(-step / 200) + 0.5 + ((step * 7) % 10) / 100,
        lr: 0.001,
        pairs_per_s: 812.5,
        elapsed_s: step / 8,
      }),
    );
    if (step % 100 === 0) {
      for (const dim of [64, 32]) {
        for (const binary of [false, true]) {
          lines.push(
            JSON.stringify({ type: 'eval', step, file: 'dev.tsv', dim, binary, spearman: 0.4 + step / 2000 - (dim === 32 ? 0.02 : 0) - (binary ? 0.07 : 0) }),
          );
        }
      }
    }
  }
  lines.push(JSON.stringify({ type: 'note', message: 'ignored' }));
  writeFileSync(join(weights, 'metrics.jsonl'), lines.join('\n') + '\n');
  writeFileSync(
    join(weights, 'extract.json'),
    JSON.stringify({
      sources: [
        {
          name: 'gemma2',
          file: 'gemma2.safetensors',
          kind: 'hub',
          repo: 'google/gemma-2-2b',
          revision: '0123456789abcdef0123',
          bytes_downloaded: 1_179_648_000,
          bytes_resumed: 0,
          shard_bytes: 5_228_683_776,
          tensor_bytes: 1_179_648_000,
          seconds: 95.5,
        },
        {
          name: 'use_lite',
          file: 'use_lite.safetensors',
          kind: 'tfjs',
          repo: 'npm:x/model.json',
          revision: 'local',
          bytes_downloaded: 0,
          shard_bytes: 11_126_440,
          tensor_bytes: 8_194_048,
          seconds: 0.2,
        },
      ],
    }),
  );
  const r = await cli(['eval', '--model', weights, '--quiet', '--raw', join(dir, 'extracted'), '--task', `sts=${tasks.sts}`, '--task', `pair=${tasks.pair}`]);
  expect(r.code).toBe(0);
  // a model folder with nothing but the model: every optional section must disappear
  bare = join(dir, 'bare');
  await writeTinyModel(bare, [64]);
});

describe('report data', () => {
  it('parses metrics.jsonl train/eval lines and names a bad line', () => {
    const { train, dev } = parseMetricsLog(
      'm.jsonl',
      '{"type":"train","step":1,"loss":2}\n{"type":"eval","step":1,"file":"d","dim":8,"binary":true,"spearman":0.5}\n',
    );
    expect(train).toEqual([{ step: 1, loss: 2, epoch: undefined, lr: undefined, pairsPerS: undefined, elapsedS: undefined }]);
    expect(dev).toEqual([{ step: 1, file: 'd', dim: 8, binary: true, spearman: 0.5 }]);
    expect(() => parseMetricsLog('m.jsonl', '{"type":"train","step":1,"loss":2}\n{bad')).toThrow(/^m\.jsonl:2: not valid JSON/);
  });

  it('picks round ticks', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.43, 0.81, 5)).toEqual([0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(niceTicks(0, 600, 6)).toEqual([0, 100, 200, 300, 400, 500, 600]);
  });

  it('draws series, legend, axis titles, log2 ticks at the widths', () => {
    const svg = lineChart({
      title: 'T <1>',
      xLabel: 'dimension',
      yLabel: 'score',
      xLog2: true,
      series: [
        {
          name: 'model dense',
          points: [
            [32, 0.5],
            [64, 0.6],
            [256, 0.7],
          ],
        },
      ],
      references: [{ name: 'raw', y: 0.4 }],
    });
    expect(svg).toContain('T &lt;1&gt;');
    expect(svg.match(/<path /g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(3);
    for (const t of ['>32<', '>64<', '>256<', '>dimension<', '>score<', '>model dense<', '>raw<']) expect(svg).toContain(t);
    expect(svg).not.toContain('>128<'); // ticks only where there is a width
  });
});

describe('pipeline report', () => {
  it('writes a self-contained report.html with every section and the right numbers', async () => {
    const { code, out } = await cli(['report', '--model', weights, '--json', '--quiet']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ report: join(weights, 'report.html'), sections: ['scores', 'training', 'size', 'extraction'] });
    const html = readFileSync(join(weights, 'report.html'), 'utf8');
    // self-contained: no scripts, external stylesheets, images, fonts or URLs besides the SVG namespace
    expect(html).not.toMatch(/<script|<link|<img|@import|@font-face|url\(/i);
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:/);
    for (const h of ['Scores', 'Score vs dimension', 'Training', 'Model size', 'Extraction']) expect(html).toContain(`<h2>${h}</h2>`);
    // the scores table holds exactly what eval.json says (4 decimals)
    const ev = JSON.parse(readFileSync(join(weights, 'eval.json'), 'utf8'));
    const score = (model: string, kind: string, dim: number, binary: boolean) =>
      ev.results
        .find(
          (r: { model: string; kind: string; dim: number; binary: boolean; main: boolean }) =>
            r.model === model && r.kind === kind && r.dim === dim && r.binary === binary && r.main,
        )
        .score.toFixed(4);
    for (const [m, k, d, b] of [
      ['model', 'sts', 64, false],
      ['model', 'sts', 32, true],
      ['raw', 'pair', 48, false],
      ['raw', 'sts', 48, true],
    ] as const) {
      expect(html).toContain(`>${score(m, k, d, b)}</td>`);
    }
    // charts: score vs width per task (2), loss, dev Spearman
    expect(html.match(/<svg xmlns/g)).toHaveLength(4);
    expect(html).toContain('sts sts: spearman by width');
    expect(html).toContain('Dev Spearman per dimension');
    expect(html).toContain('>64 binary<');
    expect(html).toContain('>raw dense (48)<');
    expect(html).toContain('31 training log lines, 28 dev evaluations');
    // dev numbers: 0.4 + step/2000 − 0.02 (dim 32) − 0.07 (binary); best = last = step 600
    expect(html).toContain('<td>64</td><td>dense</td><td>0.4000 (step 0)</td><td>0.7000 (step 600)</td><td>0.7000 (step 600)</td>');
    expect(html).toContain('<td>32</td><td>binary</td><td>0.3100 (step 0)</td><td>0.6100 (step 600)</td><td>0.6100 (step 600)</td>');
    expect(html).toContain('Training: 600 steps · epoch 2 · 1.3 min · median 813 pairs/s · final loss');
    // sizes: 32000 × 64 × 2 = 4.10 MB, × 32 → 2.05 MB; codes 64 bits
    expect(html).toContain('<td>4.10 MB</td>');
    expect(html).toContain('<td>2.05 MB</td>');
    expect(html).toContain('64 bits (8 B)');
    // extraction: 1.18 GB of 5.23 GB shards = 22.56%
    expect(html).toContain('<td>1.18 GB</td>');
    expect(html).toContain('<td>5.23 GB</td>');
    expect(html).toContain('22.56%');
    expect(html).toContain('google/gemma-2-2b @ 0123456789ab (hub)');
    expect(html).toContain('<td>none (local files)</td>');
  });

  it('leaves out sections without data', async () => {
    const { code, out } = await cli(['report', '--model', bare, '--json', '--quiet']);
    expect(code).toBe(0);
    expect(JSON.parse(out).sections).toEqual(['size']);
    const html = readFileSync(join(bare, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Model size</h2>');
    for (const h of ['Scores', 'Training', 'Extraction']) expect(html).not.toContain(`<h2>${h}</h2>`);
    expect(html).not.toContain('<svg xmlns');
  });

  it('errors in one line', async () => {
    writeFileSync(join(bare, 'eval.json'), '{"results": 3}');
    const r = await cli(['report', '--model', bare]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(`error: ${join(bare, 'eval.json')}: no "results" list; is this an eval.json from pipeline eval?`);
    const r3 = await cli(['report', '--model', weights, '--out', '/dev/null/report.html']);
    expect(r3.code).toBe(2);
    expect(r3.err.trim()).toMatch(/^error: report: cannot write \/dev\/null\/report\.html \(.+\); pass --out FILE somewhere writable$/);
    const r2 = await cli(['report']);
    expect(r2.err.trim()).toBe('error: report: --model PATH is required (see: pipeline report --help)');
  });

  it('--out writes elsewhere; --help lists every flag and section', async () => {
    const out = join(dir, 'elsewhere', 'r.html');
    const r = await cli(['report', '--model', join(weights, 'tiny_64.safetensors'), '--out', out]);
    expect(r.code).toBe(0);
    expect(r.err.trim()).toBe(`report: ${out} (scores, training, size, extraction)`);
    expect(readFileSync(out, 'utf8')).toContain('<h2>Extraction</h2>');
    const h = await cli(['report', '--help']);
    for (const t of ['--model', '--out', '--json', '--quiet', 'eval.json', 'metrics.jsonl', 'extract.json']) expect(h.out).toContain(t);
  });

  chromiumIt('report render test')('renders in headless Chromium without network, with visible charts (screenshot saved)', async () => {
    await withPage(join(weights, 'report.html'), async ({ page, url, requests, problems }) => {
      expect(requests).toEqual([url]);
      expect(problems).toEqual([]);
      expect(await page.title()).toBe('tiny — model report');
      const boxes = await chartBoxes(page);
      expect(boxes).toHaveLength(4);
      for (const [w, h] of boxes) {
        expect(w).toBeGreaterThan(300);
        expect(h).toBeGreaterThan(150);
      }
      // every chart's legend text is laid out inside its SVG (nothing clipped off the right edge)
      expect(await overflowingChartText(page)).toEqual([]);
      console.info(`report screenshot: ${await screenshot(page, 'report.png')}`);
    });
  });
});

describeShared('pipeline report on model2vec folders', ['fixtures', 'model2vec'], () => {
  it('reports any model load accepts (f32, f16, int8, sentence-transformers, vocab-quantized)', async () => {
    for (const name of ['test-model-float32', 'test-model-float16', 'test-model-int8', 'test-model-sentence-transformers', 'test-model-vocab-quantized']) {
      const path = sharedPath('fixtures', 'model2vec', name);
      const out = join(dir, `${name}.html`);
      const r = await cli(['report', '--model', path, '--out', out, '--json', '--quiet']);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).sections).toEqual(['size']);
      const html = readFileSync(out, 'utf8');
      const m = load(path);
      expect(html).toContain(`<tr><th class="l">width</th><td class="l">${m.info.fullDim}</td></tr>`);
      expect(html).toContain('<h2>Model size</h2>');
    }
  });
});
