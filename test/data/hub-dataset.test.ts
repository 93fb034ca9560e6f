/**
 * Hub datasets end to end against a minimal dataset hub on 127.0.0.1: the tree listing (paginated with a Link
 * header, as the real API does), resolve with Range support, and the hub's error codes.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSplitFile, selectParquetFiles } from '../../src/data/hub-dataset.ts';
import { loadTrainingData } from '../../src/data/load.ts';
import { parseDatasetTables } from '../../src/data/spec.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import type { TextTokenizer } from '../../src/tokenize/tokenizer.ts';

const TOKENIZER = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');

const triplets = (n: number, tag: string) => ({
  anchor: Array.from({ length: n }, (_, i) => `${tag} premise number ${i}`),
  positive: Array.from({ length: n }, (_, i) => `${tag} entailed ${i}`),
  negative: Array.from({ length: n }, (_, i) => `${tag} contradiction ${i}`),
});

function parquet(cols: Record<string, string[]>): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({ columnData: Object.entries(cols).map(([name, data]) => ({ name, data, type: 'STRING' as const })) }));
}

const FILES: Record<string, Uint8Array> = {
  'README.md': new TextEncoder().encode('# all-nli test copy\n'),
  'triplet/train-00000-of-00002.parquet': parquet(triplets(5, 'a')),
  'triplet/train-00001-of-00002.parquet': parquet(triplets(4, 'b')),
  'triplet/dev-00000-of-00001.parquet': parquet(triplets(3, 'dev')),
  'pair/train-00000-of-00001.parquet': parquet({ anchor: ['p1', 'p2'], positive: ['q1', 'q2'] }),
};
const REPO = 'sentence-transformers/all-nli';

let server: Server;
let hubUrl: string;
let dir: string;
let tok: TextTokenizer;
const requests: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'data-hub-'));
  tok = loadTokenizerFile(TOKENIZER);
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const tree = /^\/api\/datasets\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repo = (tree ?? resolve)?.[1];
    if (repo !== undefined && repo !== REPO) {
      res.writeHead(401, { 'X-Error-Code': 'RepoNotFound', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'Repository not found' }));
      return;
    }
    if (tree) {
      const entries = Object.entries(FILES).map(([path, data]) => ({ type: 'file', path, size: data.byteLength, oid: 'x' }));
      // Two items per page, the next page linked like the hub does.
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const page = entries.slice(cursor, cursor + 2);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (cursor + 2 < entries.length) {
        headers.Link = `<${hubUrl}${url.pathname}?recursive=true&expand=false&cursor=${cursor + 2}>; rel="next"`;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify(page));
      return;
    }
    if (resolve) {
      const data = FILES[decodeURIComponent(resolve[3]!)];
      if (!data) {
        res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' });
        res.end('Entry not found');
        return;
      }
      const etag = `"${createHash('sha256').update(data).digest('hex').slice(0, 40)}"`;
      const common = { ETag: etag, 'X-Repo-Commit': 'c0ffee'.padEnd(40, '0') };
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (m) {
        const start = Number(m[1]);
        const end = m[2] ? Math.min(Number(m[2]), data.byteLength - 1) : data.byteLength - 1;
        res.writeHead(206, {
          ...common,
          'Content-Range': `bytes ${start}-${end}/${data.byteLength}`,
          'Content-Length': String(end - start + 1),
          'Accept-Ranges': 'bytes',
        });
        res.end(Buffer.from(data.subarray(start, end + 1)));
      } else {
        res.writeHead(200, { ...common, 'Content-Length': String(data.byteLength) });
        res.end(Buffer.from(data));
      }
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const cfg = { file: '/config/x.toml', training: undefined };

describe('hub datasets', () => {
  it('picks the parquet files of a subset and split', () => {
    const files = Object.keys(FILES);
    expect(selectParquetFiles(files, REPO, 'triplet', 'train')).toEqual(['triplet/train-00000-of-00002.parquet', 'triplet/train-00001-of-00002.parquet']);
    expect(selectParquetFiles(files, REPO, 'triplet', 'dev')).toEqual(['triplet/dev-00000-of-00001.parquet']);
    expect(() => selectParquetFiles(files, REPO, 'nope', 'train')).toThrow(/no subset "nope" \(subsets: triplet, pair\)/);
    expect(() => selectParquetFiles(files, REPO, 'triplet', 'test')).toThrow(/subset "triplet": no split "test"/);
    expect(() => selectParquetFiles(files, REPO, undefined, 'train')).toThrow(/several subsets \(pair, triplet\); choose one with subset/);
    expect(isSplitFile('default/train/0000.parquet', 'train')).toBe(true);
    expect(isSplitFile('data/train-00000.parquet', 'train')).toBe(true);
    expect(isSplitFile('data/training-00000.parquet', 'train')).toBe(false);
  });

  it('downloads a subset/split through @huggingface/hub, reads its parquet files in order, and reuses the cache', async () => {
    const cacheDir = join(dir, 'cache');
    requests.length = 0;
    const data = await loadTrainingData(cfg, { tokenizer: tok, maxLength: 32, cacheDir, dataOverride: `hf:${REPO}:triplet`, hubUrl, withTexts: true });
    expect(data.datasets[0]).toMatchObject({ label: REPO, format: 'hf', count: 9, cached: false });
    expect(data.texts!.map((t) => t.anchor)).toEqual([...triplets(5, 'a').anchor, ...triplets(4, 'b').anchor]);
    expect(data.texts![6]).toEqual({ anchor: 'b premise number 1', positive: 'b entailed 1', negative: 'b contradiction 1' });
    expect(Array.from(data.records[6]!.negative!)).toEqual(tok.encode('b contradiction 1', false));
    expect(requests.filter((r) => r.startsWith('GET /api/')).length).toBe(3); // 5 files, 2 per page
    expect(requests.filter((r) => r.includes('/resolve/')).length).toBeGreaterThanOrEqual(2);
    expect(requests.some((r) => r.includes('README') || r.includes('/dev-') || r.includes('/pair/'))).toBe(false);

    requests.length = 0;
    const again = await loadTrainingData(cfg, { tokenizer: tok, maxLength: 32, cacheDir, dataOverride: `hf:${REPO}:triplet`, hubUrl });
    expect(again.datasets[0]!.cached).toBe(true);
    expect(requests.filter((r) => r.includes('/resolve/'))).toEqual([]);
    expect(again.fingerprint).toBe(data.fingerprint);

    // Offline (the hub unreachable): the earlier complete download is used.
    const logs: string[] = [];
    const offline = await loadTrainingData(cfg, {
      tokenizer: tok,
      maxLength: 32,
      cacheDir,
      dataOverride: `hf:${REPO}:triplet`,
      hubUrl: 'http://127.0.0.1:9',
      log: (m) => logs.push(m),
    });
    expect(offline.fingerprint).toBe(data.fingerprint);
    expect(logs.join('\n')).toMatch(/listing failed .*using the 2 files downloaded before/);
  });

  it('reads [[training.datasets]] hub entries with split and max_records', async () => {
    const training = {
      datasets: [
        { hf_dataset: REPO, subset: 'triplet', split: 'dev', max_records: 2 },
        { hf_dataset: REPO, subset: 'pair' },
      ],
    };
    const data = await loadTrainingData(
      { file: join(dir, 'x.toml'), training: { datasets: parseDatasetTables(join(dir, 'x.toml'), training.datasets) } },
      { tokenizer: tok, maxLength: 32, cacheDir: join(dir, 'cache2'), hubUrl, withTexts: true },
    );
    expect(data.datasets.map((d) => [d.count, d.available])).toEqual([
      [2, 3],
      [2, 2],
    ]);
    expect(data.texts!.slice(2)).toEqual([
      { anchor: 'p1', positive: 'q1' },
      { anchor: 'p2', positive: 'q2' },
    ]);
  });

  it('turns hub errors into one-line messages', async () => {
    await expect(loadTrainingData(cfg, { tokenizer: tok, maxLength: 8, cacheDir: join(dir, 'c3'), dataOverride: 'hf:nobody/nothing', hubUrl })).rejects.toThrow(
      /hub dataset nobody\/nothing@main: cannot list files/,
    );
    await expect(
      loadTrainingData(cfg, { tokenizer: tok, maxLength: 8, cacheDir: join(dir, 'c3'), dataOverride: `hf:${REPO}:triplet:test`, hubUrl }),
    ).rejects.toThrow(/no split "test"/);
  });
});
