/**
 * ReportData → one self-contained HTML page: inline CSS and SVG only (no scripts, fonts, images or network).
 * Sections without data are left out. Pure function, so tests can check it on strings.
 */
import { relative, sep } from 'node:path';
import { formatBytes } from '../../util/progress.ts';
import { MAIN_METRIC, fmtScore, type EvalFile } from '../results.ts';
import type { ReportData } from './collect.ts';
import { htmlPage, table } from './page.ts';
import { escapeXml as esc, lineChart, PALETTE, type ReferenceLine, type Series } from './svg.ts';

type Row = EvalFile['results'][number];

function mainResults(ev: EvalFile): Row[] {
  return ev.results.filter((r) => r.main || r.metric === MAIN_METRIC[r.kind]);
}

function taskKeys(rs: Row[]): { task: string; kind: string; file: string; metric: string }[] {
  return [...new Map(rs.map((r) => [`${r.kind}\u0000${r.task}\u0000${r.file}`, { task: r.task, kind: r.kind, file: r.file, metric: r.metric }])).values()];
}

/**
 * Side-by-side table: one row per task main metric and mode (dense, binary), one column per (model, width):
 * the model's widths first, then the baselines. The best score of each row is highlighted.
 */
function comparisonTable(ev: EvalFile): string {
  const rs = mainResults(ev);
  const tasks = taskKeys(rs);
  const cols = [...new Map(rs.map((r) => [`${r.model}\u0000${r.dim}`, { model: r.model, dim: r.dim }])).values()];
  const head = ['task', 'metric', 'mode', ...cols.map((c) => `${esc(c.model)}<br>${c.dim}`)];
  const rows: string[][] = [];
  for (const t of tasks) {
    for (const binary of [false, true]) {
      const of = rs.filter((r) => r.task === t.task && r.kind === t.kind && r.file === t.file && r.binary === binary);
      if (of.length === 0) continue;
      const scores = cols.map((c) => of.find((r) => r.model === c.model && r.dim === c.dim)?.score);
      const best = Math.max(...scores.map((x) => (x === null || x === undefined ? -Infinity : x)));
      rows.push([
        `${esc(t.kind)} ${esc(t.task)}`,
        esc(t.metric),
        binary ? 'binary' : 'dense',
        ...scores.map((x) => (x === undefined ? '<td>–</td>' : `<td${x !== null && x === best && cols.length > 1 ? ' class="best"' : ''}>${fmtScore(x)}</td>`)),
      ]);
    }
  }
  return table(head, rows, 3);
}

/** Score vs width charts: the model dense/binary as lines, baselines (their widest dim) as reference lines. */
function dimCharts(ev: EvalFile): string {
  const rs = mainResults(ev);
  const charts: string[] = [];
  for (const t of taskKeys(rs)) {
    const of = rs.filter((r) => r.task === t.task && r.kind === t.kind && r.file === t.file);
    const models = [...new Set(of.map((r) => r.model))];
    const series: Series[] = [];
    const refs: ReferenceLine[] = [];
    for (const m of models) {
      const mine = of.filter((r) => r.model === m && r.score !== null);
      const dims = new Set(mine.map((r) => r.dim));
      for (const binary of [false, true]) {
        const pts = mine.filter((r) => r.binary === binary).map((r) => [r.dim, r.score!] as [number, number]);
        if (pts.length === 0) continue;
        const label = `${m} ${binary ? 'binary' : 'dense'}`;
        if (dims.size > 1) series.push({ name: label, points: pts, dashed: binary, color: PALETTE[models.indexOf(m) % PALETTE.length] });
        else refs.push({ name: `${label} (${pts[0]![0]})`, y: pts[0]![1] });
      }
    }
    if (series.length === 0) continue;
    charts.push(
      lineChart({
        title: `${t.kind} ${t.task}: ${t.metric} by width`,
        xLabel: 'dimension (Matryoshka prefix)',
        yLabel: t.metric,
        series,
        references: refs,
        xLog2: true,
      }),
    );
  }
  return charts.length ? `<div class="charts">${charts.join('\n')}</div>` : '';
}

function trainingCharts(d: ReportData): string {
  const charts: string[] = [];
  if (d.train.length > 0) {
    const pts = d.train.map((p) => [p.step, p.loss] as [number, number]);
    const series: Series[] = [{ name: 'train loss', points: pts, markers: pts.length <= 40 }];
    if (pts.length > 50) {
      // a moving average (window ≈ 5% of the points) shows the trend through batch noise
      const w = Math.max(3, Math.round(pts.length / 20));
      const avg = pts.map((p, i) => {
        const from = Math.max(0, i - w + 1);
        const win = pts.slice(from, i + 1);
        return [p[0], win.reduce((s, q) => s + q[1], 0) / win.length] as [number, number];
      });
      series.push({ name: `moving mean (${w})`, points: avg, markers: false });
    }
    charts.push(lineChart({ title: 'Training loss', xLabel: 'step', yLabel: 'loss', series }));
  }
  if (d.dev.length > 0) {
    const keys = [...new Map(d.dev.map((p) => [`${p.file}\u0000${p.dim}\u0000${p.binary}`, p])).values()].sort(
      (a, b) => b.dim - a.dim || Number(a.binary) - Number(b.binary),
    );
    const files = new Set(keys.map((k) => k.file));
    // one colour per (file, dim); binary is the dashed twin of its dense line
    const colorKeys = [...new Set(keys.map((k) => `${k.file}\u0000${k.dim}`))];
    const series: Series[] = keys.map((k) => ({
      name: `${files.size > 1 ? `${k.file} ` : ''}${k.dim}${k.binary ? ' binary' : ' dense'}`,
      color: PALETTE[colorKeys.indexOf(`${k.file}\u0000${k.dim}`) % PALETTE.length],
      points: d.dev.filter((p) => p.file === k.file && p.dim === k.dim && p.binary === k.binary).map((p) => [p.step, p.spearman] as [number, number]),
      dashed: k.binary,
    }));
    charts.push(lineChart({ title: 'Dev Spearman per dimension', xLabel: 'step', yLabel: 'Spearman', series }));
  }
  if (charts.length === 0) return '';
  return `<div class="charts">${charts.join('\n')}</div>${devSummary(d)}${trainSummary(d)}`;
}

/** Best and last dev Spearman per (file, dim, mode): the numbers behind the dev curve. */
function devSummary(d: ReportData): string {
  if (d.dev.length === 0) return '';
  const keys = [...new Map(d.dev.map((p) => [`${p.file}\u0000${p.dim}\u0000${p.binary}`, p])).values()].sort(
    (a, b) => b.dim - a.dim || Number(a.binary) - Number(b.binary),
  );
  const rows = keys.map((k) => {
    const pts = d.dev.filter((p) => p.file === k.file && p.dim === k.dim && p.binary === k.binary).sort((a, b) => a.step - b.step);
    const best = pts.reduce((b, p) => (p.spearman > b.spearman ? p : b));
    const first = pts[0]!;
    const last = pts[pts.length - 1]!;
    return [
      esc(k.file),
      String(k.dim),
      k.binary ? 'binary' : 'dense',
      `${first.spearman.toFixed(4)} (step ${first.step})`,
      `${best.spearman.toFixed(4)} (step ${best.step})`,
      `${last.spearman.toFixed(4)} (step ${last.step})`,
    ];
  });
  return table(['dev file', 'dim', 'mode', 'first', 'best', 'last'], rows, 1);
}

/** Steps, time and throughput of the training run. */
function trainSummary(d: ReportData): string {
  if (d.train.length === 0) return '';
  const last = d.train[d.train.length - 1]!;
  const rates = d.train.map((p) => p.pairsPerS).filter((v): v is number => v !== undefined);
  const facts = [`${last.step} steps`];
  if (last.epoch !== undefined) facts.push(`epoch ${last.epoch}`);
  if (last.elapsedS !== undefined) facts.push(`${(last.elapsedS / 60).toFixed(1)} min`);
  if (rates.length > 0) facts.push(`median ${[...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!.toFixed(0)} pairs/s`);
  facts.push(`final loss ${last.loss.toFixed(4)}`);
  return `<p class="sub">Training: ${esc(facts.join(' · '))}.</p>`;
}

function sizeTable(d: ReportData): string {
  const dims = [...new Set([...d.dims, ...(d.eval?.results.filter((r) => r.model === 'model').map((r) => r.dim) ?? [])])]
    .filter((x) => x <= d.dim || d.dims.includes(x))
    .sort((a, b) => b - a);
  const rows = dims.map((dim) => [String(dim), formatBytes(d.nVocab * dim * 2), `${dim * 4} B`, `${dim} bits (${dim / 8} B)`]);
  return table(['dim', `matrix f16 (${d.nVocab.toLocaleString('en-US')} × dim × 2 B)`, 'sentence vector f32', 'sentence code binary'], rows, 0);
}

function extractSection(d: ReportData): string {
  const srcs = d.extract ?? [];
  if (srcs.length === 0) return '';
  const rows = srcs.map((s) => {
    const frac = s.bytesDownloaded !== undefined && s.shardBytes ? s.bytesDownloaded / s.shardBytes : undefined;
    const bar =
      frac === undefined
        ? ''
        : `<svg width="160" height="14" role="img" aria-label="downloaded ${(frac * 100).toFixed(1)}% of shards"><rect width="160" height="14" fill="#e6e6e6"/><rect width="${Math.max(1, Math.min(160, frac * 160)).toFixed(1)}" height="14" fill="#1f77b4"/></svg>`;
    const local = s.kind !== undefined && s.kind !== 'hub';
    const origin = [s.repo, s.revision ? `@ ${s.revision.slice(0, 12)}` : undefined, s.kind ? `(${s.kind})` : undefined].filter(Boolean).join(' ');
    const downloaded =
      s.bytesDownloaded === undefined
        ? '–'
        : local && s.bytesDownloaded === 0
          ? 'none (local files)'
          : `${formatBytes(s.bytesDownloaded)}${s.bytesResumed ? ` + ${formatBytes(s.bytesResumed)} resumed` : ''}`;
    return [
      `${esc(s.name)}${origin ? `<br><span class="note">${esc(origin)}</span>` : ''}`,
      downloaded,
      s.shardBytes !== undefined ? formatBytes(s.shardBytes) : '–',
      s.tensorBytes !== undefined ? formatBytes(s.tensorBytes) : '–',
      frac !== undefined ? `${(frac * 100).toFixed(2)}%` : '–',
      `<td class="l">${bar}</td>`,
      s.seconds !== undefined ? `${s.seconds.toFixed(1)} s` : '–',
    ];
  });
  return `<h2>Extraction</h2><p class="sub">Only the token-embedding tensor is fetched (HTTP range requests), not the whole checkpoint. From ${esc(d.extractPath ?? 'extract.json')}.</p>${table(['source', 'downloaded', 'shard bytes', 'tensor bytes', 'downloaded / shards', '', 'time'], rows, 1)}`;
}

function summary(d: ReportData): string {
  const c = d.config ?? {};
  const src = c.source && typeof c.source === 'object' ? (c.source as Record<string, unknown>) : undefined;
  const facts: [string, string][] = [
    ['model file', esc(d.modelPath)],
    ['vocabulary', d.nVocab.toLocaleString('en-US')],
    ['width', String(d.dim)],
    ['Matryoshka dims', d.dims.join(', ')],
  ];
  if (typeof c.binarized === 'boolean') facts.push(['binarized training', String(c.binarized)]);
  if (typeof c.normalize === 'boolean') facts.push(['normalize', String(c.normalize)]);
  if (src) facts.push(['source', describeSource(src)]);
  if (d.eval)
    facts.push([
      'evaluated',
      `${esc(d.eval.created)} (${secs(d.eval.seconds)} for ${d.eval.models.map((m) => `${esc(m.name)} ${secs(m.seconds)}`).join(', ')})`,
    ]);
  return `<table class="facts"><tbody>${facts.map(([k, v]) => `<tr><th class="l">${k}</th><td class="l">${v}</td></tr>`).join('')}</tbody></table>`;
}

export function renderReport(d: ReportData): string {
  const body: string[] = [];
  body.push(`<h1>${esc(d.name)}</h1><p class="sub">WordLlama-style static embedding model · ${esc(d.dir)}</p>`);
  body.push(summary(d));
  if (d.eval && d.eval.results.length > 0) {
    body.push(
      `<h2>Scores</h2><p class="sub">Main metric per task (fractions; the best of each row in bold). Binary = sign codes compared by Hamming similarity.</p>`,
    );
    body.push(`<div class="wide">${comparisonTable(d.eval)}</div>`);
    const charts = dimCharts(d.eval);
    if (charts)
      body.push(`<h2>Score vs dimension</h2><p class="sub">Solid: dense; dashed: binary; dotted horizontal lines: baselines at their own width.</p>${charts}`);
  }
  const training = trainingCharts(d);
  if (training)
    body.push(
      `<h2>Training</h2><p class="sub">From ${esc(d.metricsPath ?? 'metrics.jsonl')}: ${d.train.length} training log lines, ${d.dev.length} dev evaluations.</p>${training}`,
    );
  body.push(`<h2>Model size</h2>${sizeTable(d)}`);
  body.push(extractSection(d));
  if (d.inspectHtml) {
    const href = relative(d.dir, d.inspectHtml).split(sep).map(encodeURIComponent).join('/');
    body.push(
      `<h2>Inside the matrix</h2><p class="sub"><a href="${esc(href)}">${esc(href)}</a>: pipeline inspect's page (spectrum, token map, norms by kind, neighbours, projection baselines).</p>`,
    );
  }
  return htmlPage(`${d.name} — model report`, body, 'Generated by pipeline report.');
}

function secs(s: number): string {
  return `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

/** Provenance in one readable line per source: "name: repo @ revision (kind, dtype)", plus the training step. */
function describeSource(src: Record<string, unknown>): string {
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  const sources = Array.isArray(src.sources) ? (src.sources as Record<string, unknown>[]) : [src];
  const lines = sources.map((s) => {
    const extra = [str(s.source_kind), str(s.source_dtype), s.dim !== undefined ? `dim ${str(s.dim)}` : undefined].filter(Boolean).join(', ');
    const head = [str(s.name), str(s.repo)].filter(Boolean).join(': ');
    return esc(`${head || 'source'}${s.revision ? ` @ ${str(s.revision)}` : ''}${extra ? ` (${extra})` : ''}`);
  });
  if (src.step !== undefined) lines.push(esc(`trained ${str(src.step)} steps${src.token_weights ? `, token weights ${str(src.token_weights)}` : ''}`));
  return lines.join('<br>');
}
