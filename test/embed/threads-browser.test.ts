/**
 * Both cores in the browser (src/embed/web-workers.ts) in real headless Chromium: a page served from the
 * test's loopback server with COOP/COEP headers (so it is cross-origin isolated and has SharedArrayBuffer)
 * runs `cosineMatrixWorkers` over real Web Workers started from the bundled web-worker.generated.ts, and its
 * matrix equals the page's one-thread `cosineMatrix` exactly; served without the headers, the page is not
 * isolated and the same call falls back to one thread with the same values.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_WORKER_MODULE, webWorkerModuleText } from '../../scripts/build-kernels.ts';
import { chromiumIt, launchChromium } from '../helpers/chromium.ts';
import { REPO } from '../helpers/embed-model.ts';

const PAGE_SCRIPT = `
import { cosineMatrixWorkers, webWorkersAvailable } from './src/embed/web-workers.ts';
import { cosineMatrix } from './src/embed/similarity.ts';
import { mulberry32 } from './src/util/random.ts';
function rows(n, dim, seed) {
  const r = mulberry32(seed);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, rows: n, dim };
}
window.compare = async (threads) => {
  const a = rows(1201, 64, 1);
  const b = rows(1001, 64, 2);
  const one = cosineMatrix(a, b);
  const got = await cosineMatrixWorkers(a, b, { threads });
  let differ = 0;
  for (let i = 0; i < one.data.length; i++) if (!Object.is(one.data[i], got.data[i])) differ++;
  return { isolated: crossOriginIsolated, available: webWorkersAvailable(), shared: typeof SharedArrayBuffer === 'function' && got.data.buffer instanceof SharedArrayBuffer, differ, cells: got.data.length };
};
`;

let server: Server;
let base: string;
beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: PAGE_SCRIPT, resolveDir: REPO, loader: 'js' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
  });
  const js = bundle.outputFiles[0]!.text;
  server = createServer((req, res) => {
    const isolated = !req.url!.startsWith('/plain');
    const headers: Record<string, string> = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
    if (req.url!.endsWith('.js')) res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end('<!doctype html><script src="page.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('Web Workers in Chromium', () => {
  it('web-worker.generated.ts is the bundle of web-worker-entry.ts and what it imports now', async () => {
    expect(await webWorkerModuleText(), 'stale: run `npx tsx scripts/build-kernels.ts`').toBe(readFileSync(WEB_WORKER_MODULE, 'utf8'));
  });

  chromiumIt('cosineMatrixWorkers')(
    'on 2 and 3 workers equals the one-thread matrix; without isolation it is one thread',
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(`${base}/isolated/index.html`);
        for (const threads of [2, 3]) {
          const r = await page.evaluate((t) => (window as unknown as { compare(t: number): Promise<Record<string, unknown>> }).compare(t), threads);
          expect(r).toEqual({ isolated: true, available: true, shared: true, differ: 0, cells: 1201 * 1001 });
        }
        await page.goto(`${base}/plain/index.html`);
        const r = await page.evaluate(() => (window as unknown as { compare(t: number): Promise<Record<string, unknown>> }).compare(2));
        expect(r).toEqual({ isolated: false, available: false, shared: false, differ: 0, cells: 1201 * 1001 });
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
