/**
 * Tiny inline-SVG line charts for the report: axes with "nice" ticks, grid, axis titles, a legend, solid or
 * dashed series, optional log2 x axis (Matryoshka widths) and horizontal reference lines (baselines).
 * Pure string building; no fonts or scripts, so the page renders the same offline everywhere.
 */

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** Draw a marker at every point (default when a series has ≤ 40 points). */
  markers?: boolean;
  /** Stroke colour; default: the palette colour of the series' position. */
  color?: string;
}

export interface ReferenceLine {
  name: string;
  y: number;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  references?: ReferenceLine[];
  /** log2 x axis with a tick at every distinct x (for widths 32, 64, …). */
  xLog2?: boolean;
  width?: number;
  height?: number;
  /** Force y range (e.g. [0, 1] for scores); else fitted to the data. */
  yRange?: [number, number];
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [min, max] (1, 2, 5 × 10^k steps). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(4));
}

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 320;
  const legendItems = [
    ...o.series.map((s, i) => ({ name: s.name, dashed: s.dashed ?? false, ref: false, color: s.color ?? PALETTE[i % PALETTE.length]! })),
    ...(o.references ?? []).map((r, i) => ({ name: r.name, dashed: true, ref: true, color: PALETTE[(o.series.length + i) % PALETTE.length]! })),
  ];
  const legendW = Math.min(220, Math.max(90, ...legendItems.map((l) => 34 + l.name.length * 6.6)));
  const m = { left: 62, right: legendW + 16, top: 34, bottom: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;

  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...o.series.flatMap((s) => s.points.map((p) => p[1])), ...(o.references ?? []).map((r) => r.y)].filter(Number.isFinite);
  const tx = (x: number) => (o.xLog2 ? Math.log2(x) : x);
  let xMin = Math.min(...xs.map(tx));
  let xMax = Math.max(...xs.map(tx));
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  const xTicks = o.xLog2 ? [...new Set(xs)].sort((a, b) => a - b) : niceTicks(xMin, xMax, 6);
  if (!o.xLog2) {
    xMin = Math.min(xMin, xTicks[0] ?? xMin);
    xMax = Math.max(xMax, xTicks[xTicks.length - 1] ?? xMax);
  }
  const yTicks = o.yRange ? niceTicks(o.yRange[0], o.yRange[1], 5) : niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const yMin = yTicks[0] ?? 0;
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const X = (x: number) => m.left + ((tx(x) - xMin) / (xMax - xMin || 1)) * pw;
  const Y = (y: number) => m.top + ph - ((y - yMin) / (yMax - yMin || 1)) * ph;
  const f = (n: number) => n.toFixed(1);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(o.title)}" class="chart">`,
  );
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${W / 2 - legendW / 2}" y="20" text-anchor="middle" class="chart-title">${escapeXml(o.title)}</text>`);
  // grid + y ticks
  gridAndAxes(parts, { m, pw, ph, H, X, Y, xTicks, yTicks, xLabel: o.xLabel, yLabel: o.yLabel });
  // reference lines (baselines)
  (o.references ?? []).forEach((r, i) => {
    const color = PALETTE[(o.series.length + i) % PALETTE.length];
    if (Number.isFinite(r.y))
      parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${f(Y(r.y))}" y2="${f(Y(r.y))}" stroke="${color}" stroke-width="1.5" stroke-dasharray="2 4"/>`);
  });
  // series
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1])).sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) return;
    const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${f(X(p[0]))} ${f(Y(p[1]))}`).join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} class="series"><title>${escapeXml(s.name)}</title></path>`,
    );
    if (s.markers ?? pts.length <= 40) {
      for (const p of pts)
        parts.push(
          `<circle cx="${f(X(p[0]))}" cy="${f(Y(p[1]))}" r="3" fill="${s.dashed ? '#fff' : color}" stroke="${color}" stroke-width="1.5"><title>${escapeXml(`${s.name}: ${formatTick(p[0])} → ${p[1].toFixed(4)}`)}</title></circle>`,
        );
    }
  });
  // legend
  const lx = m.left + pw + 14;
  legendItems.forEach((l, i) => {
    const color = l.color;
    const ly = m.top + 8 + i * 18;
    const dash = l.ref ? ' stroke-dasharray="2 4"' : l.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 30}" y="${ly + 4}" class="legend">${escapeXml(l.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface ScatterGroup {
  name: string;
  points: { x: number; y: number; label?: string; title?: string }[];
}

/** Shared frame of the scatter and box charts: title, grid with nice ticks, axis titles. */
/** Grid lines and ticks at the given values, the plot frame and both axis labels of an x/y chart. */
function gridAndAxes(
  parts: string[],
  a: {
    m: { left: number; top: number };
    pw: number;
    ph: number;
    H: number;
    X: (x: number) => number;
    Y: (y: number) => number;
    xTicks: number[];
    yTicks: number[];
    xLabel: string;
    yLabel: string;
  },
): void {
  const { m, pw, ph, H, X, Y } = a;
  const f = (n: number) => n.toFixed(1);
  for (const t of a.yTicks) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${f(Y(t))}" y2="${f(Y(t))}" class="grid"/>`);
    parts.push(`<text x="${m.left - 6}" y="${f(Y(t) + 4)}" text-anchor="end" class="tick">${formatTick(t)}</text>`);
  }
  for (const t of a.xTicks) {
    parts.push(`<line x1="${f(X(t))}" x2="${f(X(t))}" y1="${m.top}" y2="${m.top + ph}" class="grid"/>`);
    parts.push(`<text x="${f(X(t))}" y="${m.top + ph + 16}" text-anchor="middle" class="tick">${formatTick(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" class="frame"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle" class="axis-label">${escapeXml(a.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(a.yLabel)}</text>`);
}

function frame(parts: string[], W: number, H: number, title: string, m: { left: number; right: number; top: number; bottom: number }) {
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(title)}" class="chart">`,
  );
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="20" text-anchor="middle" class="chart-title">${escapeXml(title)}</text>`);
}

/**
 * A scatter of labelled groups (one palette colour each, legend on the right): small dots, and for points with
 * a `label` the text beside a larger dot. `title` of a point becomes its hover tooltip.
 */
export function scatterChart(o: { title: string; xLabel: string; yLabel: string; groups: ScatterGroup[]; width?: number; height?: number }): string {
  const W = o.width ?? 640;
  const H = o.height ?? 480;
  const legendW = Math.min(240, Math.max(90, ...o.groups.map((g) => 34 + g.name.length * 6.6)));
  const m = { left: 56, right: legendW + 16, top: 34, bottom: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const all = o.groups.flatMap((g) => g.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs), 6);
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 6);
  const [x0, x1] = [xTicks[0] ?? -1, xTicks[xTicks.length - 1] ?? 1];
  const [y0, y1] = [yTicks[0] ?? -1, yTicks[yTicks.length - 1] ?? 1];
  const X = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const Y = (y: number) => m.top + ph - ((y - y0) / (y1 - y0 || 1)) * ph;
  const f = (n: number) => n.toFixed(1);
  const parts: string[] = [];
  frame(parts, W, H, o.title, m);
  gridAndAxes(parts, { m, pw, ph, H, X, Y, xTicks, yTicks, xLabel: o.xLabel, yLabel: o.yLabel });
  o.groups.forEach((g, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    parts.push(`<g class="points" fill="${color}" fill-opacity="0.55">`);
    for (const p of g.points)
      parts.push(`<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="2.2">${p.title ? `<title>${escapeXml(p.title)}</title>` : ''}</circle>`);
    parts.push('</g>');
  });
  // labels last, so no dot covers them; a white halo keeps them readable over the dots
  o.groups.forEach((g, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    for (const p of g.points.filter((q) => q.label !== undefined)) {
      parts.push(`<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="3.5" fill="${color}" stroke="#fff" stroke-width="1"/>`);
      parts.push(
        `<text x="${f(X(p.x) + 5)}" y="${f(Y(p.y) + 4)}" class="point-label" fill="${color}" stroke="#fff" stroke-width="3" paint-order="stroke">${escapeXml(p.label!)}</text>`,
      );
    }
  });
  const lx = m.left + pw + 14;
  o.groups.forEach((g, i) => {
    const ly = m.top + 8 + i * 18;
    parts.push(`<circle cx="${lx + 8}" cy="${ly}" r="5" fill="${PALETTE[i % PALETTE.length]}"/>`);
    parts.push(`<text x="${lx + 20}" y="${ly + 4}" class="legend">${escapeXml(g.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface BoxRow {
  name: string;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  /** Palette index (default: the row's position). */
  color?: number;
}

/** Horizontal box plots on one shared x axis: whiskers min–max, box q1–q3, a bar at the median. */
export function boxChart(o: { title: string; xLabel: string; rows: BoxRow[]; width?: number }): string {
  const W = o.width ?? 640;
  const rowH = 26;
  const labelW = Math.min(220, Math.max(60, ...o.rows.map((r) => 12 + r.name.length * 6.6)));
  const m = { left: labelW, right: 20, top: 34, bottom: 48 };
  const ph = Math.max(1, o.rows.length) * rowH;
  const H = m.top + ph + m.bottom;
  const pw = W - m.left - m.right;
  const ticks = niceTicks(Math.min(...o.rows.map((r) => r.min)), Math.max(...o.rows.map((r) => r.max)), 6);
  const [x0, x1] = [ticks[0] ?? 0, ticks[ticks.length - 1] ?? 1];
  const X = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const f = (n: number) => n.toFixed(1);
  const parts: string[] = [];
  frame(parts, W, H, o.title, m);
  for (const t of ticks) {
    parts.push(`<line x1="${f(X(t))}" x2="${f(X(t))}" y1="${m.top}" y2="${m.top + ph}" class="grid"/>`);
    parts.push(`<text x="${f(X(t))}" y="${m.top + ph + 16}" text-anchor="middle" class="tick">${formatTick(t)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" class="frame"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle" class="axis-label">${escapeXml(o.xLabel)}</text>`);
  o.rows.forEach((r, i) => {
    const color = PALETTE[(r.color ?? i) % PALETTE.length]!;
    const cy = m.top + i * rowH + rowH / 2;
    const tip = `${r.name}: min ${r.min.toPrecision(4)}, q1 ${r.q1.toPrecision(4)}, median ${r.median.toPrecision(4)}, q3 ${r.q3.toPrecision(4)}, max ${r.max.toPrecision(4)}`;
    parts.push(`<text x="${m.left - 6}" y="${f(cy + 4)}" text-anchor="end" class="tick">${escapeXml(r.name)}</text>`);
    parts.push(`<g class="box"><title>${escapeXml(tip)}</title>`);
    parts.push(`<line x1="${f(X(r.min))}" x2="${f(X(r.max))}" y1="${f(cy)}" y2="${f(cy)}" stroke="${color}" stroke-width="1.5"/>`);
    parts.push(
      `<rect x="${f(X(r.q1))}" y="${f(cy - 8)}" width="${f(Math.max(1, X(r.q3) - X(r.q1)))}" height="16" fill="${color}" fill-opacity="0.35" stroke="${color}"/>`,
    );
    parts.push(`<line x1="${f(X(r.median))}" x2="${f(X(r.median))}" y1="${f(cy - 8)}" y2="${f(cy + 8)}" stroke="${color}" stroke-width="2.5"/>`);
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n');
}
