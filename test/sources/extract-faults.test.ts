/**
 * Faults during the ranged download: each is retried and the output stays bit-exact; exhausting retries
 * fails with one line and leaves only `.partial` files, which the next run resumes from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { extract, type ExtractRequest } from '../../src/sources/extract.ts';
import { SafetensorsFile } from '../../src/safetensors/file.ts';
import { startHubServer, writeSparseSafetensors, matrixBytes, tinyTokenizerJson, type FaultKind, type HubServer } from '../helpers/hub-server.ts';

const ROWS = 256;
const DIM = 256;
const CHUNK = 4096;
let tmp: string;
let server: HubServer;
let emb: Uint8Array;
let dataStart: number;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'extract-faults-'));
  server = await startHubServer({ redirect: true });
  emb = matrixBytes(ROWS, DIM, 'BF16', 11);
  const path = join(tmp, 'model.safetensors');
  writeSparseSafetensors(path, [
    { name: 'model.layers.0.weight', dtype: 'BF16', shape: [1 << 20] },
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: emb },
  ]);
  const f = await SafetensorsFile.open(path);
  dataStart = f.header.dataStart + f.tensor('model.embed_tokens.weight').begin;
  await f.close();
  server.addRepo({
    id: 'org/faulty',
    files: { 'model.safetensors': { disk: path }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
  });
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const cfg = () => parseConfig({ model: { hf_model_id: 'org/faulty', dim: DIM, n_vocab: ROWS, pad_token: '<eos>' } }, join(tmp, 'faulty.toml'));
let runNo = 0;
const req = (over: Partial<ExtractRequest> = {}): ExtractRequest => ({
  config: cfg(),
  outDir: join(tmp, `out${++runNo}`),
  quiet: true,
  dtype: 'BF16',
  chunkSize: CHUNK,
  concurrency: 3,
  env: { HF_ENDPOINT: server.url },
  hub: { retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 5000 }, idleTimeoutMs: 3000 },
  ...over,
});

async function outBytes(dir: string): Promise<Buffer> {
  const f = await SafetensorsFile.open(join(dir, 'faulty.safetensors'));
  const t = f.tensor('embedding');
  const b = Buffer.from(await f.readBytes(t, 0, t.end - t.begin));
  await f.close();
  return b;
}

describe('download faults are retried and never corrupt the output', () => {
  const kinds: [FaultKind, string][] = [
    ['drop', 'connection dropped mid-chunk'],
    ['short', 'body shorter than Content-Length (connection closed early)'],
    ['lying-length', '206 whose Content-Length and body are shorter than the range'],
    ['500', 'HTTP 500'],
    ['whole', '200 with the whole file in answer to a Range request'],
    ['wrong-range', '206 with a Content-Range that does not match the request'],
  ];
  for (const [kind, what] of kinds) {
    it(`${kind}: ${what}`, async () => {
      server.faults = [{ kind, times: 2, file: 'model.safetensors', atByte: dataStart + 5 * CHUNK + 100 }];
      const retries: string[] = [];
      const r = req();
      r.hub = { ...r.hub, onRetry: (m) => retries.push(m) };
      await extract(r);
      expect(server.faults[0]!.times).toBe(0);
      expect(retries.length).toBe(2);
      expect((await outBytes(r.outDir!)).equals(Buffer.from(emb))).toBe(true);
    });
  }

  it('stall: a response that stops sending is aborted after the idle timeout and retried', async () => {
    server.faults = [{ kind: 'stall', times: 1, atByte: dataStart + 7 * CHUNK }];
    const r = req();
    const retries: string[] = [];
    r.hub = { ...r.hub, idleTimeoutMs: 300, onRetry: (m) => retries.push(m) };
    await extract(r);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/chunk 8\/32: .*no data for 300 ms/);
    expect((await outBytes(r.outDir!)).equals(Buffer.from(emb))).toBe(true);
  });

  it('chunks go straight to the CDN after the first redirect; an expired CDN URL (403) goes through the hub again, no retry spent', async () => {
    server.faults = [{ kind: 'expired', times: 1, atByte: dataStart + 20 * CHUNK + 10 }];
    server.resetStats();
    const r = req();
    const retries: string[] = [];
    r.hub = { ...r.hub, onRetry: (m) => retries.push(m) };
    await extract(r);
    expect(server.faults[0]!.times).toBe(0);
    expect(retries).toHaveLength(0);
    expect((await outBytes(r.outDir!)).equals(Buffer.from(emb))).toBe(true);
    const rangeStart = (x: { range?: string }) => Number(/^bytes=(\d+)-/.exec(x.range ?? '')?.[1] ?? -1);
    const hubData = server.requests.filter((x) => x.server === 'hub' && x.status === 307 && rangeStart(x) >= dataStart).map(rangeStart);
    // Through resolve/: only chunk 20 after its refusal and the chunks started before its new redirect was known
    // (at most 3 with concurrency 3; the header requests already taught the CDN URL); the rest went straight there.
    expect(hubData.length).toBeLessThanOrEqual(3);
    expect(hubData).toContain(dataStart + 20 * CHUNK);
    expect(server.requests.filter((x) => x.server === 'cdn' && x.status === 206 && x.start! >= dataStart)).toHaveLength(32);
    expect(server.requests.filter((x) => x.server === 'cdn').every((x) => !x.auth)).toBe(true);
  });

  it('429 with Retry-After: waits as told before retrying', async () => {
    server.faults = [{ kind: '429', times: 1, retryAfter: 1, atByte: dataStart + 100 }];
    const r = req();
    const retries: string[] = [];
    r.hub = { ...r.hub, onRetry: (m) => retries.push(m) };
    const t0 = Date.now();
    await extract(r);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/HTTP 429 .*retry 1\/3 in 1\.0 s/);
    expect((await outBytes(r.outDir!)).equals(Buffer.from(emb))).toBe(true);
  });

  it('exhausted retries: one-line error, no complete-looking file; the re-run re-verifies recorded chunks and fetches only missing or damaged ones', async () => {
    server.faults = [{ kind: 'whole', times: 1000, atByte: dataStart + 20 * CHUNK + 1 }];
    const r = req({ concurrency: 1 });
    await expect(extract(r)).rejects.toThrow(/chunk 21\/32: failed after 4 attempts: .*ignored the Range request and answered 200/);
    expect(existsSync(join(r.outDir!, 'faulty.safetensors'))).toBe(false);
    const left = readdirSync(r.outDir!).sort();
    expect(left).toEqual(['faulty.safetensors.partial', 'faulty.safetensors.partial.json']);
    const state = JSON.parse(readFileSync(join(r.outDir!, 'faulty.safetensors.partial.json'), 'utf8'));
    // Chunks run in order with concurrency 1; the failure stops the queue, so chunks 1-20 are verified.
    expect(
      Object.keys(state.done)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([...Array(20).keys()]);
    // Simulate a power loss that lost the pages of recorded chunk #4: the resume re-hashes and re-fetches it.
    const partial = join(r.outDir!, 'faulty.safetensors.partial');
    const headerLen = readFileSync(partial).subarray(0, 8).readUInt32LE(0) + 8;
    const fd = openSync(partial, 'r+');
    writeSync(fd, new Uint8Array(CHUNK), 0, CHUNK, headerLen + 3 * CHUNK);
    closeSync(fd);
    server.faults = [];
    server.resetStats();
    const summary = await extract(r);
    const dataReqs = server.requests.filter((x) => x.server === 'cdn' && x.start! >= dataStart);
    const expected = [3, ...Array.from({ length: 12 }, (_, k) => 20 + k)].map((k) => [dataStart + k * CHUNK, dataStart + (k + 1) * CHUNK - 1]);
    expect(dataReqs.map((x) => [x.start!, x.end!]).sort((a, b) => a[0]! - b[0]!)).toEqual(expected);
    expect(summary.sources[0]!.bytes_resumed).toBe(19 * CHUNK);
    expect((await outBytes(r.outDir!)).equals(Buffer.from(emb))).toBe(true);
    expect(readdirSync(r.outDir!).filter((n) => n.includes('partial'))).toEqual([]);
  });

  it('a new commit on the branch invalidates the partial: the re-run starts over', async () => {
    server.faults = [{ kind: '500', times: 1000, atByte: dataStart + 10 * CHUNK + 1 }];
    const r = req({ concurrency: 1 });
    await expect(extract(r)).rejects.toThrow(/chunk 11\/32: failed after 4 attempts/);
    const before = JSON.parse(readFileSync(join(r.outDir!, 'faulty.safetensors.partial.json'), 'utf8'));
    expect(Object.keys(before.done)).toHaveLength(10);
    // Same files, new commit (as after a push to main): the recorded chunks belong to the old commit.
    server.addRepo({
      id: 'org/faulty',
      files: { 'model.safetensors': { disk: join(tmp, 'model.safetensors') }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
    });
    server.faults = [];
    server.resetStats();
    const summary = await extract(r);
    expect(summary.sources[0]!.revision).not.toBe(before.identity.revision);
    expect(summary.sources[0]!.bytes_resumed).toBe(0);
    expect(server.requests.filter((x) => x.server === 'cdn' && x.start! >= dataStart)).toHaveLength(32);
    expect((await outBytes(r.outDir!)).equals(Buffer.from(emb))).toBe(true);
  });
});
