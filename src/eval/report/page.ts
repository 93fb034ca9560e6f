/**
 * The page shell every HTML report shares (report.html, inspect.html): one stylesheet, the table builder and
 * the self-contained document around a body (inline CSS and SVG only: no scripts, fonts, images or network).
 */
import { escapeXml as esc } from './svg.ts';

export const REPORT_CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 24px auto; max-width: 1320px; padding: 0 16px; color: #222; background: #fafafa; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.sub { color: #666; margin: 0 0 12px; font-size: 14px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; background: #fff; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; } td:not(.l) { white-space: nowrap; }
td.best { font-weight: 700; background: #e8f4e8; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { border: 1px solid #ddd; background: #fff; max-width: 100%; height: auto; }
svg .grid { stroke: #e6e6e6; stroke-width: 1; } svg .frame { stroke: #999; stroke-width: 1; }
svg text { font-family: inherit; fill: #333; } svg .tick { font-size: 11px; fill: #555; }
svg .axis-label { font-size: 12px; } svg .legend { font-size: 12px; } svg .chart-title { font-size: 14px; font-weight: 600; }
svg .point-label { font-size: 11px; }
.note { color: #666; font-size: 13px; }
.wide { overflow-x: auto; max-width: 100%; }
table.facts td { max-width: 900px; overflow-wrap: anywhere; }
`;

/** A table; cells that already start with `<td` are used as they are (for classes), the first `leftCols` align left. */
export function table(head: string[], rows: string[][], leftCols = 1): string {
  const cls = (i: number) => (i < leftCols ? ' class="l"' : '');
  return `<table><thead><tr>${head.map((h, i) => `<th${cls(i)}>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => (c.startsWith('<td') ? c : `<td${cls(i)}>${c}</td>`)).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** The whole document: `body` sections (empty ones dropped) and a one-line footer naming the stage. */
export function htmlPage(title: string, body: string[], footer: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${REPORT_CSS}</style></head>
<body>
${body.filter(Boolean).join('\n')}
<p class="note">${esc(footer)} Self-contained: no scripts, fonts or network.</p>
</body></html>
`;
}
