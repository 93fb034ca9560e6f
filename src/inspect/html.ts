/**
 * InspectReport(s) → inspect.html: one self-contained page in report.html's style (its page shell, tables and
 * SVG charts from src/eval/report/). Several reports (a trained model and its source matrix) are shown side by
 * side: one facts column and one chart per report in every section. Pure function, testable on strings.
 */
import { htmlPage, table } from '../eval/report/page.ts';
import { boxChart, escapeXml as esc, lineChart, scatterChart, type Series } from '../eval/report/svg.ts';
import { formatBytes } from '../util/progress.ts';
import type { InspectReport } from './inspect.ts';
import { TOKEN_KIND_LABELS, TOKEN_KINDS } from './token-kind.ts';
import { tokenLabel } from './token-map.ts';

export interface InspectPage {
  /** Column title: "source matrix", "trained model", or the report's matrix label. */
  name: string;
  report: InspectReport;
}

const fmt = (x: number) => (x === 0 ? '0' : Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const charts = (items: string[]) => (items.filter(Boolean).length ? `<div class="charts">${items.filter(Boolean).join('\n')}</div>` : '');
const titled = (pages: InspectPage[], p: InspectPage, title: string) => (pages.length > 1 ? `${p.name}: ${title}` : title);

function facts(pages: InspectPage[]): string {
  const rows: [string, (r: InspectReport) => string][] = [
    ['inspected', (r) => esc(r.source)],
    ['matrix', (r) => esc(r.matrix)],
    ['shape', (r) => `${r.rows.toLocaleString('en-US')} × ${r.dim}`],
    ['row norms', (r) => `${fmt(r.norms.min)} … ${fmt(r.norms.max)} (mean ${fmt(r.norms.mean)})`],
    [
      'zero rows',
      (r) => `${r.zero_rows.count}${r.zero_rows.count ? ` (ids ${r.zero_rows.ids.slice(0, 10).join(', ')}${r.zero_rows.count > 10 ? ', …' : ''})` : ''}`,
    ],
    [
      'rows the tokenizer never reaches',
      (r) => (r.unreachable ? `${r.unreachable.beyond_vocab} beyond its vocabulary, ${r.unreachable.special.length} special tokens` : '–'),
    ],
    [
      'effective rank (centred)',
      (r) =>
        `${r.spectrum.centred.effective_rank.toFixed(1)} of ${r.dim}; numerical rank ${r.spectrum.centred.numerical_rank}; participation ratio ${r.spectrum.centred.participation_ratio.toFixed(1)}`,
    ],
    ['leading singular values', (r) => r.spectrum.uncentred.singular_values.slice(0, 6).map(fmt).join(', ')],
  ];
  const head = ['', ...pages.map((p) => esc(p.name))];
  return table(
    head,
    rows.map(([k, f]) => [k, ...pages.map((p) => f(p.report))]),
    head.length,
  );
}

function anatomy(pages: InspectPage[]): string {
  const parts: string[] = [];
  for (const p of pages) {
    const a = p.report.anatomy;
    if (!a) continue;
    const rows = a.sources.map((s) => [
      esc(s.name),
      esc(s.repo ?? '–'),
      esc(s.tensor),
      esc(s.dtype),
      `${s.shape.join(' × ')}`,
      s.embedding_params.toLocaleString('en-US'),
      s.checkpoint_params !== undefined ? s.checkpoint_params.toLocaleString('en-US') : '–',
      s.checkpoint_params ? pct(s.embedding_params / s.checkpoint_params) : '–',
      s.tied === undefined ? '–' : s.tied ? 'tied' : `untied (${esc(s.head_tensor ?? 'lm_head')})`,
      formatBytes(s.embedding_bytes),
      s.checkpoint_bytes !== undefined ? formatBytes(s.checkpoint_bytes) : '–',
      a.sources.length > 1 ? pct(s.share_of_width) : '100%',
    ]);
    parts.push(
      `${pages.length > 1 ? `<p class="sub">${esc(p.name)}</p>` : ''}${table(
        [
          'source',
          'repo',
          'tensor',
          'dtype',
          'shape',
          'embedding params',
          'checkpoint params',
          'embedding share',
          'output head',
          'embedding bytes',
          'checkpoint bytes',
          'share of width',
        ],
        rows,
        3,
      )}`,
    );
  }
  if (parts.length === 0) return '';
  return `<h2>Anatomy</h2><p class="sub">From the shard index and safetensors headers only (HTTP range requests): nothing but headers was downloaded.</p><div class="wide">${parts.join('')}</div>`;
}

function spectrumSection(pages: InspectPage[]): string {
  const spectra = pages.map((p) => {
    const sp = p.report.spectrum;
    const pts = (v: number[]) => v.map((s, i) => [i + 1, s] as [number, number]);
    const series: Series[] = [
      { name: 'plain σᵢ', points: pts(sp.uncentred.singular_values), markers: false },
      { name: 'centred σᵢ', points: pts(sp.centred.singular_values), markers: false, dashed: true },
    ];
    return lineChart({ title: titled(pages, p, 'Singular values'), xLabel: 'index i', yLabel: 'σᵢ', series });
  });
  const variance = pages.map((p) => {
    const sp = p.report.spectrum;
    if (sp.variance_explained.length === 0) return '';
    const series: Series[] = [
      { name: 'centred variance', points: sp.variance_explained.map((v) => [v.k, v.fraction]) },
      { name: 'energy (plain)', points: sp.energy_explained.map((v) => [v.k, v.fraction]), dashed: true },
    ];
    return lineChart({
      title: titled(pages, p, 'Variance in the first k components'),
      xLabel: 'k (Matryoshka dim)',
      yLabel: 'fraction',
      series,
      xLog2: true,
      yRange: [0, 1],
    });
  });
  const ks = [...new Set(pages.flatMap((p) => p.report.spectrum.variance_explained.map((v) => v.k)))].sort((a, b) => b - a);
  const rows = ks.map((k) => [
    String(k),
    ...pages.flatMap((p) => {
      const v = p.report.spectrum.variance_explained.find((x) => x.k === k);
      const e = p.report.spectrum.energy_explained.find((x) => x.k === k);
      return [v ? pct(v.fraction) : '–', e ? pct(e.fraction) : '–'];
    }),
  ]);
  const head = ['k', ...pages.flatMap((p) => [`${pages.length > 1 ? `${esc(p.name)}<br>` : ''}centred variance`, 'energy'])];
  return `<h2>Spectrum</h2><p class="sub">Singular values from the eigenvalues of the dim × dim Gram matrix, streamed over row blocks. A fast drop after the first values means the rows lie near a low-dimensional space.</p>${charts(spectra)}<h2>Variance explained per Matryoshka dim</h2>${charts(variance)}${ks.length ? table(head, rows, 1) : ''}`;
}

function baselines(pages: InspectPage[]): string {
  const withRows = pages.filter((p) => p.report.projection_baselines.length > 0);
  if (withRows.length === 0) return '';
  const chartsHtml = withRows.map((p) =>
    lineChart({
      title: titled(pages, p, 'Reconstruction error by k'),
      xLabel: 'k',
      yLabel: '‖X − X̂‖ / ‖X‖',
      series: [
        { name: 'PCA truncation', points: p.report.projection_baselines.map((b) => [b.k, b.pca_error]) },
        { name: 'random projection', points: p.report.projection_baselines.map((b) => [b.k, b.random_error]), dashed: true },
      ],
      xLog2: true,
      yRange: [0, 1],
    }),
  );
  const tables = withRows.map(
    (p) =>
      `${pages.length > 1 ? `<p class="sub">${esc(p.name)}</p>` : ''}${table(
        ['k', 'PCA error', 'random projection error', 'random scale', 'k/d'],
        p.report.projection_baselines.map((b) => [
          String(b.k),
          b.pca_error.toFixed(4),
          b.random_error.toFixed(4),
          b.random_scale.toFixed(4),
          b.expected_scale.toFixed(4),
        ]),
        1,
      )}`,
  );
  return `<h2>Projection baselines</h2><p class="sub">Relative reconstruction error of PCA truncation and of a seeded random projection mapped back through its pseudo-inverse (a scaled identity of factor ≈ k/d plus noise).</p>${charts(chartsHtml)}${tables.join('')}`;
}

function tokenMapSection(pages: InspectPage[]): string {
  const maps = pages.map((p) => {
    const map = p.report.map;
    if (!map || map.points.length === 0) return '';
    const kinds = [...TOKEN_KINDS, 'unknown' as const].filter((k) => map.points.some((q) => q.kind === k));
    return scatterChart({
      title: titled(pages, p, `Token map: ${map.points.length} sampled tokens`),
      xLabel: `PC 1 (${pct(map.axis_variance[0])} of the variance)`,
      yLabel: `PC 2 (${pct(map.axis_variance[1])})`,
      groups: kinds.map((k) => ({
        name: k,
        points: map.points
          .filter((q) => q.kind === k)
          .map((q) => ({
            x: q.x,
            y: q.y,
            label: q.labelled && q.token !== null ? tokenLabel(q.token) : undefined,
            title: `${q.id} ${q.token === null ? '' : JSON.stringify(q.token)} (${k})`,
          })),
      })),
    });
  });
  const norms = pages.map((p) => {
    const rows = p.report.norms_by_kind;
    if (rows.length === 0) return '';
    return boxChart({
      title: titled(pages, p, 'Row norm by token kind'),
      xLabel: '‖row‖',
      rows: rows.map((r) => ({ ...r, name: `${r.kind} (${r.count.toLocaleString('en-US')})`, color: [...TOKEN_KINDS, 'unknown'].indexOf(r.kind) })),
    });
  });
  const present = new Set(pages.flatMap((p) => p.report.norms_by_kind.map((r) => r.kind)));
  const legend = TOKEN_KINDS.filter((k) => present.has(k))
    .map((k) => `<b>${k}</b>: ${esc(TOKEN_KIND_LABELS[k])}`)
    .join(' · ');
  const normTables = pages.map(
    (p) =>
      `${pages.length > 1 ? `<p class="sub">${esc(p.name)}</p>` : ''}${table(
        ['kind', 'rows', 'min', 'q1', 'median', 'q3', 'max', 'mean'],
        p.report.norms_by_kind.map((r) => [r.kind, r.count.toLocaleString('en-US'), fmt(r.min), fmt(r.q1), fmt(r.median), fmt(r.q3), fmt(r.max), fmt(r.mean)]),
        1,
      )}`,
  );
  return `<h2>Map by token kind</h2><p class="sub">A 2-D PCA projection of a seeded sample of tokens (up to a fixed number per kind, so rare kinds show), coloured by kind; a few tokens of each kind are labelled (␣ space, ⏎ newline). Hover a dot for its id and token.</p><p class="note">${legend}</p>${charts(maps)}<h2>Row norms by token kind</h2>${charts(norms)}${normTables.join('')}`;
}

function neighbours(pages: InspectPage[]): string {
  const parts = pages.flatMap((p) =>
    p.report.neighbours.map(
      (q) =>
        `<p class="sub">${pages.length > 1 ? `${esc(p.name)}: ` : ''}${esc(JSON.stringify(q.query))} (${q.kind}${q.kind === 'text' ? `, mean of ${q.ids.length} token rows` : `, id ${q.ids[0]}`})</p>${table(
          ['rank', 'id', 'token', 'cosine'],
          q.neighbours.map((n, i) => [String(i + 1), String(n.id), esc(n.token === null ? '–' : JSON.stringify(n.token)), n.score.toFixed(4)]),
          0,
        )}`,
    ),
  );
  if (parts.length === 0) return '';
  return `<h2>Neighbours</h2><p class="sub">Nearest rows by cosine, exact over the whole vocabulary.</p><div class="charts">${parts.map((x) => `<div>${x}</div>`).join('')}</div>`;
}

function duplicates(pages: InspectPage[]): string {
  const parts = pages.map((p) => {
    const d = p.report.near_duplicates;
    if (!d) return '';
    const rows = d.examples.map((e, i) => [
      String(e.a),
      esc(JSON.stringify(d.examples_tokens[i]?.[0] ?? null)),
      String(e.b),
      esc(JSON.stringify(d.examples_tokens[i]?.[1] ?? null)),
      e.distance.toExponential(2),
    ]);
    return `<div><p class="sub">${pages.length > 1 ? `${esc(p.name)}: ` : ''}${d.pairs.toLocaleString('en-US')} pairs with 1 − cos ≤ ${d.threshold} over ${d.rows_involved.toLocaleString('en-US')} rows (exact count)</p>${rows.length ? table(['id a', 'token a', 'id b', 'token b', '1 − cos'], rows, 0) : ''}</div>`;
  });
  if (parts.every((x) => !x)) return '';
  return `<h2>Near-duplicate rows</h2><div class="charts">${parts.join('')}</div>`;
}

function evalTable(pages: InspectPage[]): string {
  const rows = pages.flatMap((p) => (p.report.eval ?? []).map((r) => ({ ...r, page: p.name })));
  if (rows.length === 0) return '';
  const tasks = [...new Map(rows.map((r) => [`${r.kind}\u0000${r.task}\u0000${r.metric}`, r])).values()];
  const cols = [...new Map(rows.map((r) => [`${r.model}\u0000${r.dim}`, { model: r.model, dim: r.dim }])).values()];
  const body = tasks.map((t) => {
    const scores = cols.map(
      (c) => rows.find((r) => r.task === t.task && r.kind === t.kind && r.metric === t.metric && r.model === c.model && r.dim === c.dim)?.score,
    );
    const best = Math.max(...scores.map((s) => (s === undefined || s === null ? -Infinity : s)));
    return [
      `${esc(t.kind)} ${esc(t.task)}`,
      esc(t.metric),
      ...scores.map((s) => (s === undefined || s === null ? '<td>–</td>' : `<td${s === best && cols.length > 1 ? ' class="best"' : ''}>${s.toFixed(4)}</td>`)),
    ];
  });
  return `<h2>Baselines on the eval tasks</h2><p class="sub">The same task files as pipeline eval, on mean-pooled raw rows, the PCA-projected rows, a seeded random projection and the trained model (best of each row in bold).</p><div class="wide">${table(
    ['task', 'metric', ...cols.map((c) => `${esc(c.model)}<br>${c.dim}`)],
    body,
    2,
  )}</div>`;
}

export function renderInspect(pages: InspectPage[]): string {
  const first = pages[0]!.report;
  const body = [
    `<h1>Inside ${esc(first.matrix)}</h1><p class="sub">pipeline inspect · ${esc(pages.map((p) => p.report.source).join(' beside '))}</p>`,
    facts(pages),
    anatomy(pages),
    spectrumSection(pages),
    baselines(pages),
    evalTable(pages),
    tokenMapSection(pages),
    neighbours(pages),
    duplicates(pages),
  ];
  return htmlPage(`${first.matrix} — inspect`, body, 'Generated by pipeline inspect.');
}
