/**
 * The browser example in headless Debian Chromium: the page (bundled by scripts/build-browser.ts) fetches a
 * generated model from a loopback server, a person's typing is simulated, and the similarity numbers shown
 * must equal Node's. Saves a screenshot to test-output/browser-similarity.png. Skips when /usr/bin/chromium is
 * absent.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { buildBrowserBundle } from '../../scripts/build-browser.ts';
import { load } from '../../src/embed/node.ts';
import { CHROMIUM, launchChromium } from '../helpers/chromium.ts';
import { makeModel, REPO, TOKENIZERS } from '../helpers/embed-model.ts';

const describeBrowser = existsSync(CHROMIUM) ? describe : describe.skip;
if (!existsSync(CHROMIUM)) console.warn(`browser test skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.safetensors': 'application/octet-stream',
};

function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path.endsWith('/') ? path + 'index.html' : path);
    if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describeBrowser('browser example (headless Chromium)', () => {
  let root: string;
  let server: Server;
  let browser: Browser;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'browser-page-'));
    await buildBrowserBundle(join(root, 'dist'));
    copyFileSync(join(REPO, 'examples/browser/index.html'), join(root, 'index.html'));
    await makeModel({
      tokenizer: TOKENIZERS.llama2,
      nVocab: 32000,
      dim: 64,
      padToken: '</s>',
      name: 'demo',
      dir: (mkdirSync(join(root, 'model')), join(root, 'model')),
    });
    server = await serve(root);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('shows the similarities of typed sentences, equal to Node', async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Only loopback traffic: anything else is refused.
    await page.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#status[data-state=ready]', { timeout: 60_000 });
    expect(await page.textContent('#status')).toContain('32000 tokens × 64 dims');

    const sentences = ['The cat sits on the mat.', 'A cat is sitting on a rug.', 'Stock prices fell sharply today.', 'naïve café 😀'];
    await page.fill('#sentences', '');
    await page.click('#sentences');
    await page.keyboard.type(sentences.join('\n'), { delay: 2 });
    await page.waitForFunction((text) => document.body.dataset.renderedText === text, sentences.join('\n'));
    const cells = await page.$$eval('td.score', (tds) => tds.map((td) => ({ i: Number(td.dataset.i), j: Number(td.dataset.j), v: Number(td.dataset.value) })));
    expect(cells).toHaveLength(sentences.length ** 2);

    const node = load(join(root, 'model')).similarityMatrix(sentences, sentences);
    for (const c of cells) expect(Math.abs(c.v - node.data[c.i * node.cols + c.j]!)).toBeLessThan(1e-6);
    expect(cells.filter((c) => c.i === c.j).every((c) => Math.abs(c.v - 1) < 1e-6)).toBe(true);
    expect(errors).toEqual([]);

    mkdirSync(join(REPO, 'test-output'), { recursive: true });
    const shot = join(REPO, 'test-output', 'browser-similarity.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    await page.close();
  });

  it('reports a missing model on the page instead of failing silently', async () => {
    const page = await browser.newPage();
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/?model=./nowhere/`);
    await page.waitForSelector('#status[data-state=error]', { timeout: 30_000 });
    expect(await page.textContent('#status')).toMatch(/tokenizer\.json: HTTP 404/);
    await page.close();
  });
});
