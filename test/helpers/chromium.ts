/**
 * Headless Chromium (the Debian package, driven by playwright-core) for the tests that render the HTML
 * reports: open one local file with the network off, collect every request and page error, and hand the page
 * to the test. `chromiumIt` skips with a visible reason when /usr/bin/chromium is absent.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `it` when Chromium is installed, else `it.skip` (with one warning naming the package). */
export function chromiumIt(what: string): typeof it | typeof it.skip {
  if (existsSync(CHROMIUM)) return it;
  console.warn(`${what} skipped: ${CHROMIUM} is absent (apt-get install chromium)`);
  return it.skip;
}

export interface OpenedPage {
  page: Page;
  url: string;
  /** Every URL the page requested (a self-contained page requests only itself). */
  requests: string[];
  /** Console errors and uncaught page errors. */
  problems: string[];
}

/** A fresh headless Chromium with the network features that would reach out switched off. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Open `file` in a fresh headless Chromium, run `fn`, close the browser whatever happens. */
export async function withPage<T>(file: string, fn: (p: OpenedPage) => Promise<T>, viewport = { width: 1100, height: 900 }): Promise<T> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    const url = `file://${file}`;
    await page.goto(url);
    return await fn({ page, url, requests, problems });
  } finally {
    await browser.close();
  }
}

/** Width × height of every `svg.chart` as laid out. */
export function chartBoxes(page: Page): Promise<[number, number][]> {
  return page.$$eval('svg.chart', (els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return [r.width, r.height] as [number, number];
    }),
  );
}

/** Texts of any chart laid out past its SVG's right edge (clipped legends or labels); [] when all fit. */
export function overflowingChartText(page: Page): Promise<(string | null)[]> {
  return page.$$eval('svg.chart', (els) =>
    els.flatMap((svg) =>
      Array.from(svg.querySelectorAll('text'))
        .filter((t) => t.getBBox().x + t.getBBox().width > (svg as SVGSVGElement).viewBox.baseVal.width + 1)
        .map((t) => t.textContent),
    ),
  );
}

/** A full-page PNG in test-output/ (git-ignored: a stable place for CI to pick it up as an artifact). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const shots = join(import.meta.dirname, '..', '..', 'test-output');
  mkdirSync(shots, { recursive: true });
  const png = join(shots, name);
  await page.screenshot({ path: png, fullPage: true });
  if (readFileSync(png).subarray(1, 4).toString() !== 'PNG') throw new Error(`${png} is not a PNG`);
  return png;
}
