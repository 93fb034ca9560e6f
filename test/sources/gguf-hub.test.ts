/**
 * `extract` of a GGUF file in a hub repo (`hf_model_id` + `gguf_file`) against the tests' loopback hub (redirects
 * to a CDN that must not see the token): the header and tensor infos by Range only, then only the token matrix's
 * bytes through the chunked, verified, resumable download; exact values; a lying header is one line, no output.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { decodeToF32 } from '../../src/safetensors/dtype.ts';
import { SafetensorsFile } from '../../src/safetensors/file.ts';
import { extract, type ExtractRequest } from '../../src/sources/extract.ts';
import { readGgufHeader } from '../../src/sources/gguf/header.ts';
import { extractIsCurrent } from '../../src/layout/stage-freshness.ts';
import { UserError } from '../../src/util/errors.ts';
import { expectedRows, ggufRowBytes, testGguf, type TestGgufType } from '../helpers/gguf-models.ts';
import { memorySource } from '../helpers/gguf-writer.ts';
import { startHubServer, tinyTokenizerJson, type HubServer } from '../helpers/hub-server.ts';

const VOCAB = 300;
const DIM = 256;
const CHUNK = 8192;
const TOKEN = 'hf_testtoken123';
let tmp: string;
let server: HubServer;
const text = (s: string) => new TextEncoder().encode(s);
const tokenizer = text(tinyTokenizerJson(VOCAB));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'gguf-hub-'));
  server = await startHubServer({ redirect: true });
  // The original model's repo: what tokenizer_repo points at (GGUF repos seldom ship a tokenizer.json).
  server.addRepo({ id: 'org/original', files: { 'tokenizer.json': { data: tokenizer }, 'config.json': { data: text('{"hidden_size": 256}') } } });
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A GGUF repo with a 4 MB tensor before the token matrix; returns the file and where the matrix lies. */
async function ggufRepo(id: string, type: TestGgufType, o: { tokenizer?: boolean; bytes?: Uint8Array } = {}) {
  const bytes = o.bytes ?? testGguf({ type, vocab: VOCAB, dim: DIM, fillerRows: 4096 });
  const files: Record<string, { data: Uint8Array }> = { 'model-Q.gguf': { data: bytes }, 'README.md': { data: text('# gguf\n') } };
  if (o.tokenizer) files['tokenizer.json'] = { data: tokenizer };
  server.addRepo({ id, files });
  const header = o.bytes ? undefined : await readGgufHeader(memorySource(bytes));
  const embd = header?.tensors.find((t) => t.name === 'token_embd.weight');
  return { bytes, header, start: embd?.fileOffset ?? 0, tensorBytes: VOCAB * ggufRowBytes(type, DIM) };
}

let runNo = 0;
function request(model: Record<string, unknown>, over: Partial<ExtractRequest> = {}): ExtractRequest {
  const config = parseConfig({ model: { dim: DIM, n_vocab: VOCAB, pad_token: '<pad>', ...model } }, join(tmp, 'g.toml'));
  return {
    config,
    outDir: join(tmp, `out${++runNo}`),
    quiet: true,
    dtype: 'F32',
    chunkSize: CHUNK,
    concurrency: 3,
    env: { HF_ENDPOINT: server.url, HF_TOKEN: TOKEN },
    hub: { retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 5000 }, idleTimeoutMs: 3000 },
    ...over,
  };
}

async function outValues(dir: string) {
  const f = await SafetensorsFile.open(join(dir, 'g.safetensors'));
  try {
    const t = f.tensor('embedding');
    return { metadata: f.header.metadata, values: decodeToF32(await f.readBytes(t, 0, t.end - t.begin), t.dtype) };
  } finally {
    await f.close();
  }
}

describe('extract a GGUF file from the hub by Range', () => {
  for (const type of ['Q8_0', 'Q4_K', 'F16'] as const) {
    it(`${type}: exact rows; bytes moved ≤ 1.01 × the matrix + the header; no Range ever reaches the filler; the CDN never sees the token`, async () => {
      const id = `org/${type}-GGUF`;
      const repo = await ggufRepo(id, type, { tokenizer: true });
      server.resetStats();
      const r = request({ hf_model_id: id, gguf_file: 'model-Q.gguf' });
      const s = await extract(r);
      const src = s.sources[0]!;
      expect(src).toMatchObject({ kind: 'hub', source_format: 'gguf', source_dtype: type, shard: 'model-Q.gguf', shard_bytes: repo.bytes.byteLength });
      expect((await outValues(r.outDir!)).values).toEqual(expectedRows(type, VOCAB, DIM));
      expect((await outValues(r.outDir!)).metadata).toMatchObject({ repo: id, gguf_file: 'model-Q.gguf', source_format: 'gguf', source_dtype: type });
      // The file is 4.5 MB; its header is a few hundred bytes, read in a grown prefix that stops before the filler's data ends.
      const ggufReads = server.requests.filter((x) => x.file === 'model-Q.gguf' && (x.status === 206 || x.status === 200));
      const headerBytes = ggufReads.filter((x) => x.end! < repo.start).reduce((a, x) => a + x.end! - x.start! + 1, 0);
      const matrixReads = ggufReads.filter((x) => x.start! >= repo.start);
      expect(headerBytes).toBeLessThanOrEqual(64 * 1024);
      expect(ggufReads.every((x) => x.end! < 64 * 1024 || x.start! >= repo.start)).toBe(true);
      expect(matrixReads.reduce((a, x) => a + x.end! - x.start! + 1, 0)).toBe(repo.tensorBytes);
      const sideBytes = tokenizer.byteLength;
      expect(server.bytesSent).toBeLessThanOrEqual(1.01 * repo.tensorBytes + headerBytes + sideBytes);
      expect(src.bytes_downloaded).toBe(server.bytesSent);
      expect(server.requests.filter((x) => x.server === 'cdn').every((x) => !x.auth)).toBe(true);
    });
  }

  it('tokenizer_repo supplies the tokenizer a GGUF repo lacks; without it extract stops before the matrix', async () => {
    await ggufRepo('org/bare-GGUF', 'Q8_0');
    server.resetStats();
    const bare = request({ hf_model_id: 'org/bare-GGUF', gguf_file: 'model-Q.gguf' });
    await expect(extract(bare)).rejects.toThrow(
      /g\.toml: \[model\]: no tokenizer\.json for the GGUF source "g" \(looked in org\/bare-GGUF@[0-9a-f]{12}; the file.s tokenizer\.ggml\.\* metadata cannot be rebuilt: .*\); set tokenizer_repo = "org\/original-model"/,
    );
    expect(server.bytesSent).toBeLessThanOrEqual(64 * 1024);
    expect(existsSync(bare.outDir!) ? readdirSync(bare.outDir!) : []).toEqual([]);

    const r = request({ hf_model_id: 'org/bare-GGUF', gguf_file: 'model-Q.gguf', tokenizer_repo: 'org/original' });
    await extract(r);
    expect(readFileSync(join(r.outDir!, 'tokenizer.json'))).toEqual(Buffer.from(tokenizer));
    expect(readdirSync(r.outDir!).sort()).toEqual(['extract.json', 'g.safetensors', 'source_config.json', 'tokenizer.json']);
    expect((await outValues(r.outDir!)).values).toEqual(expectedRows('Q8_0', VOCAB, DIM));
    // pipeline run's offline freshness test: current for this file, not for another GGUF file of the repo.
    expect(await extractIsCurrent(r.config, r.outDir!)).toBe(true);
    const other = { ...r.config, sources: [{ ...r.config.sources[0]!, gguf_file: 'model-Q4_K_M.gguf' }] };
    expect(await extractIsCurrent(other, r.outDir!)).toBe(false);
  });

  it('a gguf_file the repo lacks is one line listing its GGUF files', async () => {
    await ggufRepo('org/list-GGUF', 'Q8_0', { tokenizer: true });
    await expect(extract(request({ hf_model_id: 'org/list-GGUF', gguf_file: 'model-Q4_K_M.gguf' }))).rejects.toThrow(
      /g\.toml: \[model\] gguf_file: org\/list-GGUF@[0-9a-f]{12} has no "model-Q4_K_M\.gguf" \(its GGUF files: model-Q\.gguf\)$/,
    );
  });

  it('a dropped connection is retried; an interrupted download resumes and fetches only the missing chunks', async () => {
    const repo = await ggufRepo('org/resume-GGUF', 'Q4_K', { tokenizer: true });
    const chunk = Math.floor(CHUNK / 144) * 144;
    const nChunks = Math.ceil(repo.tensorBytes / chunk);
    // A drop mid-chunk is retried and the output stays exact.
    server.faults = [{ kind: 'drop', times: 1, file: 'model-Q.gguf', atByte: repo.start + 2 * chunk + 10 }];
    const retried: string[] = [];
    const first = request({ hf_model_id: 'org/resume-GGUF', gguf_file: 'model-Q.gguf' });
    first.hub = { ...first.hub, onRetry: (m) => retried.push(m) };
    await extract(first);
    expect(retried).toHaveLength(1);
    expect((await outValues(first.outDir!)).values).toEqual(expectedRows('Q4_K', VOCAB, DIM));

    // Retries exhausted at chunk 6: partial files only; the re-run fetches chunks 6.. and nothing before.
    server.faults = [{ kind: 'drop', times: 1000, file: 'model-Q.gguf', atByte: repo.start + 5 * chunk + 1 }];
    const r = request({ hf_model_id: 'org/resume-GGUF', gguf_file: 'model-Q.gguf' }, { concurrency: 1 });
    await expect(extract(r)).rejects.toThrow(/chunk 6\/\d+: failed after 4 attempts/);
    expect(readdirSync(r.outDir!).sort()).toEqual(['g.safetensors.partial', 'g.safetensors.partial.json']);
    server.faults = [];
    server.resetStats();
    const s = await extract(r);
    const matrixReads = server.requests.filter((x) => x.file === 'model-Q.gguf' && x.status === 206 && x.start! >= repo.start);
    expect(matrixReads.map((x) => x.start!).sort((a, b) => a - b)).toEqual(Array.from({ length: nChunks - 5 }, (_, k) => repo.start + (5 + k) * chunk));
    expect(s.sources[0]!.bytes_resumed).toBe(5 * chunk);
    expect((await outValues(r.outDir!)).values).toEqual(expectedRows('Q4_K', VOCAB, DIM));
    expect(readdirSync(r.outDir!).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('a header that lies (tensor beyond the file, absurd tensor count, absurd string length) is one line and writes nothing', async () => {
    const honest = testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM });
    const absurdString = honest.slice();
    // The first metadata key's length (u64 at byte 24): 2^40 bytes.
    new DataView(absurdString.buffer).setBigUint64(24, 1n << 40n, true);
    const cases: [string, Uint8Array, RegExp][] = [
      [
        'offset',
        testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM, overrides: { offsets: { 'token_embd.weight': 1n << 33n } } }),
        /org\/lie-offset-GGUF\/model-Q\.gguf: invalid GGUF header: tensor "token_embd\.weight" \(Q8_0 \[256, 300\]\) spans bytes \d+-\d+ but the file has \d+/,
      ],
      [
        'count',
        testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM, overrides: { tensorCount: 1n << 50n } }),
        /org\/lie-count-GGUF\/model-Q\.gguf: invalid GGUF header: tensor count \d+ cannot fit in a \d+-byte file/,
      ],
      ['string', absurdString, /org\/lie-string-GGUF\/model-Q\.gguf: invalid GGUF header: metadata key 0 length 1099511627776 runs past the end of the file/],
    ];
    for (const [what, bytes, message] of cases) {
      await ggufRepo(`org/lie-${what}-GGUF`, 'Q8_0', { tokenizer: true, bytes });
      server.resetStats();
      const r = request({ hf_model_id: `org/lie-${what}-GGUF`, gguf_file: 'model-Q.gguf' });
      const err = await extract(r).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
      expect(existsSync(r.outDir!) ? readdirSync(r.outDir!) : []).toEqual([]);
      expect(server.bytesSent).toBeLessThanOrEqual(bytes.byteLength);
    }
  });
});

describe('--verify on a GGUF hub file (the same pass as safetensors shards: src/hub/verify-file.ts)', () => {
  const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

  it("a good file verifies: the whole file is streamed once more and hashed against the hub's sha256; a corrupted range is rewritten", async () => {
    const repo = await ggufRepo('org/verify-GGUF', 'Q8_0', { tokenizer: true });
    // One byte inside the token matrix flipped in an otherwise valid 206: only the hashed second pass can see it.
    server.faults = [{ kind: 'corrupt', times: 1, file: 'model-Q.gguf', atByte: repo.start + 3 * 34 + 5 }];
    server.resetStats();
    const logs: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (logs.push(String(c)), true));
    const r = request({ hf_model_id: 'org/verify-GGUF', gguf_file: 'model-Q.gguf' }, { verify: true, quiet: false });
    try {
      await extract(r);
    } finally {
      spy.mockRestore();
      server.faults = [];
    }
    expect((await outValues(r.outDir!)).values).toEqual(expectedRows('Q8_0', VOCAB, DIM));
    expect(logs.join('')).toContain(`g: --verify: streaming all of model-Q.gguf (${repo.bytes.byteLength} bytes) to check its sha256`);
    expect(logs.join('')).toMatch(
      /verify: org\/verify-GGUF\/model-Q\.gguf: \d+ bytes of the first download differed from the verified file and were rewritten/,
    );
    // The cost: the whole file once more, on top of the header and the matrix.
    const fileBytes = server.requests.filter((x) => x.file === 'model-Q.gguf' && x.status === 206).reduce((a, x) => a + x.end! - x.start! + 1, 0);
    expect(fileBytes).toBeGreaterThanOrEqual(repo.bytes.byteLength + repo.tensorBytes);
  });

  it('a file whose LFS sha256 does not match its bytes fails in one line and leaves no output', async () => {
    // Served from disk, the test hub's ETag is a sha256 of the path, size and commit, not of the bytes: an oid that lies.
    const bytes = testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM, fillerRows: 64 });
    const disk = join(tmp, 'lying-oid.gguf');
    writeFileSync(disk, bytes);
    server.addRepo({ id: 'org/oid-GGUF', files: { 'model-Q.gguf': { disk }, 'tokenizer.json': { data: tokenizer } } });
    const r = request({ hf_model_id: 'org/oid-GGUF', gguf_file: 'model-Q.gguf' }, { verify: true });
    const err = await extract(r).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UserError);
    const m =
      /^org\/oid-GGUF\/model-Q\.gguf: sha256 of the downloaded file is ([0-9a-f]{64}), the hub's is ([0-9a-f]{64}): bytes were corrupted on the way; nothing was written, run again \(verified chunks are kept\)$/.exec(
        (err as Error).message,
      );
    expect(m?.[1]).toBe(sha256(bytes));
    expect(m?.[2]).not.toBe(sha256(bytes));
    expect((err as UserError).exitCode).toBe(1);
    expect(readdirSync(r.outDir!).sort()).toEqual(['g.safetensors.partial', 'g.safetensors.partial.json']);
  });

  it('a Q8_0 block with a NaN scale: one line naming the row, only the partial files left', async () => {
    const bytes = testGguf({ type: 'Q8_0', vocab: VOCAB, dim: DIM, fillerRows: 4096 });
    const embd = (await readGgufHeader(memorySource(bytes))).tensors.find((t) => t.name === 'token_embd.weight')!;
    new DataView(bytes.buffer).setUint16(embd.fileOffset + 17 * ggufRowBytes('Q8_0', DIM), 0x7e00, true);
    await ggufRepo('org/nan-GGUF', 'Q8_0', { tokenizer: true, bytes });
    const r = request({ hf_model_id: 'org/nan-GGUF', gguf_file: 'model-Q.gguf' }, { dtype: 'F16' });
    await expect(extract(r)).rejects.toThrow(
      /g\.safetensors: the source matrix is broken: 1 of \d+ rows hold NaN or ±Inf \(first: row 17\); nothing was written \(use another revision or source\)$/,
    );
    expect(readdirSync(r.outDir!).filter((f) => f.endsWith('.safetensors') || f === 'extract.json')).toEqual([]);
  });
});
