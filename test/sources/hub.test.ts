/**
 * `extract` against the loopback hub server: layouts (single file, sharded + index), dtypes, tied/untied,
 * prefixed names, padded rows, redirects to a CDN that must not see the token, bytes actually transferred.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { extract, type ExtractRequest } from '../../src/sources/extract.ts';
import { SafetensorsFile } from '../../src/safetensors/file.ts';
import { decodeToF32, encodeFromF32 } from '../../src/safetensors/dtype.ts';
import {
  startHubServer,
  writeSparseSafetensors,
  matrixBytes,
  tinyTokenizerJson,
  type HubServer,
  type TensorDef,
  type TestRepo,
} from '../helpers/hub-server.ts';

const FAST_RETRY = { retries: 4, baseDelayMs: 5, maxDelayMs: 50, maxRetryAfterMs: 5000 };
let tmp: string;
let server: HubServer;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'extract-hub-'));
  server = await startHubServer({ redirect: true });
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const TOKEN = 'hf_testtoken123';
const ROWS = 300;
const DIM = 48;

function config(toml: Record<string, unknown>, name = 'cfg') {
  return parseConfig(toml, join(tmp, `${name}.toml`));
}

function request(cfg: ReturnType<typeof config>, extra: Partial<ExtractRequest> = {}): ExtractRequest {
  return {
    config: cfg,
    outDir: join(tmp, 'out', cfg.name + '-' + Math.random().toString(36).slice(2, 8)),
    quiet: true,
    chunkSize: 8192,
    concurrency: 4,
    env: { HF_ENDPOINT: server.url },
    hub: { retry: FAST_RETRY, idleTimeoutMs: 5000 },
    ...extra,
  };
}

/** A repo with the embedding in a big sparse shard (plus filler), tokenizer files and config.json. */
function makeRepo(
  id: string,
  o: {
    dtype: 'F32' | 'F16' | 'BF16';
    layout: 'single' | 'sharded';
    tensor?: string;
    rows?: number;
    tied?: boolean;
    fillerBytes?: number;
    gated?: boolean;
    seed?: number;
    tokenizer?: boolean;
  },
): { repo: TestRepo; emb: Uint8Array; tensorBytes: number; smallBytes: number } {
  const rows = o.rows ?? ROWS;
  const dir = join(tmp, 'repos', id.replace('/', '__'));
  const emb = matrixBytes(rows, DIM, o.dtype, o.seed ?? 7);
  const name = o.tensor ?? 'model.embed_tokens.weight';
  const filler: TensorDef = {
    name: 'model.layers.0.mlp.up_proj.weight',
    dtype: o.dtype,
    shape: [(o.fillerBytes ?? 4 << 20) / 2 / (o.dtype === 'F32' ? 2 : 1), 1],
  };
  const norm = { name: 'model.norm.weight', dtype: o.dtype, shape: [DIM], data: matrixBytes(1, DIM, o.dtype, 3) };
  const lmHead = { name: 'lm_head.weight', dtype: o.dtype, shape: [rows, DIM], data: matrixBytes(rows, DIM, o.dtype, 99) };
  const files: TestRepo['files'] = {};
  const small: Record<string, string> = {
    'config.json': JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: DIM, vocab_size: rows, tie_word_embeddings: o.tied !== false }),
    'tokenizer_config.json': JSON.stringify({ pad_token: '<pad>', eos_token: '<eos>' }),
    'generation_config.json': '{}',
  };
  if (o.tokenizer !== false) small['tokenizer.json'] = tinyTokenizerJson(Math.min(rows, 290));
  if (o.layout === 'single') {
    const tensors = [{ name, dtype: o.dtype, shape: [rows, DIM], data: emb }, filler, norm, ...(o.tied === false ? [lmHead] : [])];
    writeSparseSafetensors(join(dir, 'model.safetensors'), tensors);
    files['model.safetensors'] = { disk: join(dir, 'model.safetensors') };
  } else {
    // Embedding in shard 2 after a filler, as in real indexes where shard order follows parameter names.
    writeSparseSafetensors(join(dir, 's1.safetensors'), [filler, norm]);
    writeSparseSafetensors(join(dir, 's2.safetensors'), [
      { ...filler, name: 'model.layers.1.mlp.up_proj.weight' },
      { name, dtype: o.dtype, shape: [rows, DIM], data: emb },
    ]);
    const weightMap: Record<string, string> = {
      'model.layers.0.mlp.up_proj.weight': 'model-00001-of-00002.safetensors',
      'model.norm.weight': 'model-00001-of-00002.safetensors',
      'model.layers.1.mlp.up_proj.weight': 'model-00002-of-00002.safetensors',
      [name]: 'model-00002-of-00002.safetensors',
    };
    if (o.tied === false) {
      writeSparseSafetensors(join(dir, 's3.safetensors'), [lmHead]);
      weightMap['lm_head.weight'] = 'model-00003-of-00003.safetensors';
      files['model-00003-of-00003.safetensors'] = { disk: join(dir, 's3.safetensors') };
    }
    files['model-00001-of-00002.safetensors'] = { disk: join(dir, 's1.safetensors') };
    files['model-00002-of-00002.safetensors'] = { disk: join(dir, 's2.safetensors') };
    small['model.safetensors.index.json'] = JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap });
  }
  let smallBytes = 0;
  for (const [k, v] of Object.entries(small)) {
    files[k] = { data: new TextEncoder().encode(v) };
    if (k !== 'generation_config.json') smallBytes += files[k]!.data!.byteLength;
  }
  const repo: TestRepo = { id, files, gated: o.gated, allowedTokens: [TOKEN] };
  server.addRepo(repo);
  return { repo, emb, tensorBytes: emb.byteLength, smallBytes };
}

async function readOut(path: string) {
  const f = await SafetensorsFile.open(path);
  const t = f.tensor('embedding');
  const bytes = await f.readBytes(t, 0, t.end - t.begin);
  const out = { names: f.tensorNames, dtype: t.dtype, shape: t.shape, metadata: f.header.metadata, bytes };
  await f.close();
  return out;
}

describe('extract from the hub', () => {
  it('single file, BF16 → f32 is bit-exact, only the tensor is transferred, token never reaches the CDN', async () => {
    const { emb, tensorBytes, smallBytes } = makeRepo('org/single-bf16', { dtype: 'BF16', layout: 'single', fillerBytes: 64 << 20, gated: true });
    const cfg = config({ model: { hf_model_id: 'org/single-bf16', dim: DIM, n_vocab: ROWS, pad_token: '<eos>' } }, 'single');
    server.resetStats();
    const req = request(cfg, { dtype: 'F32', env: { HF_ENDPOINT: server.url, HF_TOKEN: TOKEN } });
    const summary = await extract(req);
    const out = await readOut(join(req.outDir!, 'single.safetensors'));
    expect(out.names).toEqual(['embedding']);
    expect(out.dtype).toBe('F32');
    expect(out.shape).toEqual([ROWS, DIM]);
    // BF16 → F32 is exact: each f32 is the bf16 bits shifted left by 16.
    expect(Buffer.from(out.bytes).equals(Buffer.from(decodeToF32(emb, 'BF16').buffer))).toBe(true);
    const commit = summary.sources[0]!.revision;
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(out.metadata).toEqual({
      format: 'pt',
      repo: 'org/single-bf16',
      revision: commit,
      tensor: 'model.embed_tokens.weight',
      source_dtype: 'BF16',
      shape: JSON.stringify([ROWS, DIM]),
      source_kind: 'hub',
    });
    // Bytes: tensor + safetensors header + small files, within 2%.
    const f = await SafetensorsFile.open(join(tmp, 'repos', 'org__single-bf16', 'model.safetensors'));
    const headerBytes = f.header.dataStart;
    await f.close();
    expect(server.bytesSent).toBeLessThanOrEqual((tensorBytes + headerBytes + smallBytes) * 1.02);
    expect(server.bytesSent).toBeGreaterThanOrEqual(tensorBytes);
    // Redirects were followed: data came from the CDN, which never saw Authorization; the hub always did.
    const cdn = server.requests.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBeGreaterThan(tensorBytes / 8192 - 1);
    expect(cdn.every((r) => !r.auth && r.status === 206)).toBe(true);
    expect(server.requests.filter((r) => r.server === 'hub').every((r) => r.auth)).toBe(true);
    // Side files and facts.
    expect(readFileSync(join(req.outDir!, 'tokenizer.json'), 'utf8')).toBe(tinyTokenizerJson(290));
    expect(existsSync(join(req.outDir!, 'tokenizer_config.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(req.outDir!, 'source_config.json'), 'utf8')).hidden_size).toBe(DIM);
    const facts = JSON.parse(readFileSync(join(req.outDir!, 'extract.json'), 'utf8'));
    expect(facts.sources[0]).toMatchObject({
      name: 'single',
      file: 'single.safetensors',
      tensor_bytes: tensorBytes,
      shard_bytes: (64 << 20) + tensorBytes + DIM * 2 + headerBytes,
    });
    expect(facts.sources[0].bytes_downloaded).toBeGreaterThanOrEqual(tensorBytes);
    expect(readdirSync(req.outDir!).filter((n) => n.includes('.partial') || n.endsWith('.tmp'))).toEqual([]);
  });

  it('sharded with index, untied, F16 source → f16 bytes identical (--fsync path); lm_head is not picked', async () => {
    const { emb } = makeRepo('org/sharded-f16', { dtype: 'F16', layout: 'sharded', tied: false });
    const cfg = config({ model: { hf_model_id: 'org/sharded-f16', dim: DIM, n_vocab: ROWS, pad_token: '<pad>' } }, 'sharded');
    server.resetStats();
    const req = request(cfg, { fsync: true });
    const summary = await extract(req);
    const out = await readOut(join(req.outDir!, 'sharded.safetensors'));
    expect(out.dtype).toBe('F16');
    expect(Buffer.from(out.bytes).equals(Buffer.from(emb))).toBe(true);
    expect(summary.sources[0]).toMatchObject({ shard: 'model-00002-of-00002.safetensors', tensor: 'model.embed_tokens.weight', source_dtype: 'F16' });
    // Only the embedding's shard was touched for data; shards 1 and 3 were never requested.
    const dataFiles = new Set(server.requests.filter((r) => r.file?.endsWith('.safetensors')).map((r) => r.file));
    expect([...dataFiles]).toEqual(['model-00002-of-00002.safetensors']);
  });

  it('F32 source → f16 rounds to nearest even, → bf16 likewise; overflows are counted', async () => {
    const { emb } = makeRepo('org/f32', { dtype: 'F32', layout: 'single', tied: false });
    // Put two values out of f16 range into row 0.
    const f = new Float32Array(emb.buffer.slice(0));
    f[0] = 1e6;
    f[1] = -7e4;
    const e2 = new Uint8Array(f.buffer);
    const dir = join(tmp, 'repos', 'org__f32b');
    writeSparseSafetensors(join(dir, 'model.safetensors'), [{ name: 'transformer.wte.weight', dtype: 'F32', shape: [ROWS, DIM], data: e2 }]);
    server.addRepo({
      id: 'org/f32b',
      files: { 'model.safetensors': { disk: join(dir, 'model.safetensors') }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
    });
    const cfg = config({ model: { hf_model_id: 'org/f32b', dim: DIM, n_vocab: ROWS, pad_token: '<pad>' } }, 'f32b');
    const r16 = request(cfg);
    const s16 = await extract(r16);
    expect(s16.sources[0]!.tensor).toBe('transformer.wte.weight');
    expect(s16.sources[0]!.overflows).toBe(2);
    const o16 = await readOut(join(r16.outDir!, 'f32b.safetensors'));
    expect(Buffer.from(o16.bytes).equals(Buffer.from(encodeFromF32(f, 'F16').bytes))).toBe(true);
    const rb = request(cfg, { dtype: 'BF16' });
    await extract(rb);
    const ob = await readOut(join(rb.outDir!, 'f32b.safetensors'));
    expect(ob.dtype).toBe('BF16');
    expect(Buffer.from(ob.bytes).equals(Buffer.from(encodeFromF32(f, 'BF16').bytes))).toBe(true);
  });

  it('a source matrix with NaN rows leaves no output; an f16 overflow is not counted as one', async () => {
    const { emb } = makeRepo('org/f32nan', { dtype: 'F32', layout: 'single', tied: false });
    const f = new Float32Array(emb.buffer.slice(0));
    f[0] = 1e6; // row 0: finite, beyond float16 (an overflow, counted apart)
    f[3 * DIM + 2] = NaN; // row 3
    f[7 * DIM] = Infinity; // row 7
    const dir = join(tmp, 'repos', 'org__f32nan2');
    writeSparseSafetensors(join(dir, 'model.safetensors'), [
      { name: 'transformer.wte.weight', dtype: 'F32', shape: [ROWS, DIM], data: new Uint8Array(f.buffer) },
    ]);
    server.addRepo({
      id: 'org/f32nan2',
      files: { 'model.safetensors': { disk: join(dir, 'model.safetensors') }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
    });
    const cfg = config({ model: { hf_model_id: 'org/f32nan2', dim: DIM, n_vocab: ROWS, pad_token: '<pad>' } }, 'f32nan');
    // Kept as f32, every non-finite value counts; narrowed to f16, ±Inf may be an overflow, so only NaN does.
    for (const [dtype, found] of [
      ['F32', `2 of ${ROWS} rows hold NaN or ±Inf (first: row 3)`],
      ['F16', `1 of ${ROWS} rows hold NaN or ±Inf (first: row 3)`],
    ] as const) {
      const r = request(cfg, { dtype });
      await expect(extract(r)).rejects.toThrow(`${join(r.outDir!, 'f32nan.safetensors')}: the source matrix is broken: ${found}; nothing was written`);
      expect(existsSync(join(r.outDir!, 'f32nan.safetensors'))).toBe(false);
    }
  });

  it('Gemma-3 multimodal prefix + padded rows dropped only with drop_extra_rows (fewer bytes fetched)', async () => {
    const rows = 320;
    const { emb } = makeRepo('org/gemma3-mm', { dtype: 'BF16', layout: 'sharded', rows, tensor: 'language_model.model.embed_tokens.weight' });
    const base = { hf_model_id: 'org/gemma3-mm', dim: DIM, n_vocab: 300, pad_token: '<eos>' };
    await expect(extract(request(config({ model: base }, 'mm')))).rejects.toThrow(
      /mm\.toml: \[model\] n_vocab: 300 but the tensor has 320 rows .*set drop_extra_rows = true/,
    );
    server.resetStats();
    const req = request(config({ model: { ...base, drop_extra_rows: true } }, 'mm'), { dtype: 'BF16' });
    const summary = await extract(req);
    expect(summary.sources[0]!.tensor).toBe('language_model.model.embed_tokens.weight');
    const out = await readOut(join(req.outDir!, 'mm.safetensors'));
    expect(out.shape).toEqual([300, DIM]);
    expect(Buffer.from(out.bytes).equals(Buffer.from(emb.subarray(0, 300 * DIM * 2)))).toBe(true);
    const cdnBytes = server.requests.filter((r) => r.server === 'cdn' && r.status === 206 && r.start! > 8).reduce((a, r) => a + r.end! - r.start! + 1, 0);
    expect(cdnBytes).toBe(300 * DIM * 2);
  });

  it('BF16 → f16 (the default; done on the worker thread) is exact round-to-nearest-even, overflows counted', async () => {
    const bf = new Uint16Array(matrixBytes(ROWS, DIM, 'BF16', 77).buffer.slice(0));
    bf[5] = 0x4974; // ≈ 999424: beyond f16's 65504
    bf[6] = 0xc780; // -65536
    bf[7] = 0x477f; // 65280: still finite in f16
    const emb = new Uint8Array(bf.buffer);
    const dir = join(tmp, 'repos', 'org__bf16-f16');
    writeSparseSafetensors(join(dir, 'model.safetensors'), [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: emb }]);
    server.addRepo({
      id: 'org/bf16-f16',
      files: { 'model.safetensors': { disk: join(dir, 'model.safetensors') }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
    });
    const req = request(config({ model: { hf_model_id: 'org/bf16-f16', dim: DIM, n_vocab: ROWS, pad_token: '<eos>' } }, 'bf16f16'));
    const s = await extract(req);
    expect(s.sources[0]!.overflows).toBe(2);
    const out = await readOut(join(req.outDir!, 'bf16f16.safetensors'));
    const ref = encodeFromF32(decodeToF32(emb, 'BF16'), 'F16');
    expect(ref.overflows).toBe(2);
    expect(Buffer.from(out.bytes).equals(Buffer.from(ref.bytes))).toBe(true);
  });

  it('a second run with the same commit and dtype skips the download; --force redoes it', async () => {
    makeRepo('org/again', { dtype: 'BF16', layout: 'single' });
    const cfg = config({ model: { hf_model_id: 'org/again', dim: DIM, n_vocab: ROWS, pad_token: '<eos>' } }, 'again');
    const req = request(cfg);
    const first = await extract(req);
    expect(first.sources[0]!.skipped).toBe(false);
    server.resetStats();
    const second = await extract(req);
    expect(second.sources[0]!.skipped).toBe(true);
    // Only the shard header (8 bytes + JSON) is read again, to learn which tensor/commit the file would hold.
    expect(server.requests.filter((r) => r.server === 'cdn').map((r) => r.start)).toEqual([0, 8]);
    const facts = JSON.parse(readFileSync(join(req.outDir!, 'extract.json'), 'utf8'));
    expect(facts.sources[0].bytes_downloaded).toBe(first.sources[0]!.bytes_downloaded);
    server.resetStats();
    const third = await extract({ ...req, force: true });
    expect(third.sources[0]!.skipped).toBe(false);
    expect(server.requests.filter((r) => r.server === 'cdn').length).toBeGreaterThan(0);
  });
});

describe('extract without redirects (mirror-style hub serving bytes itself)', () => {
  it('downloads the same bytes straight from resolve/', async () => {
    const plain = await startHubServer({ redirect: false });
    try {
      const dir = join(tmp, 'repos', 'plain');
      const emb = matrixBytes(ROWS, DIM, 'BF16', 5);
      writeSparseSafetensors(join(dir, 'model.safetensors'), [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: emb }]);
      plain.addRepo({
        id: 'org/plain',
        files: { 'model.safetensors': { disk: join(dir, 'model.safetensors') }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
      });
      const cfg = config({ model: { hf_model_id: 'org/plain', dim: DIM, n_vocab: ROWS, pad_token: '<eos>' } }, 'plain');
      const req = request(cfg, { env: { HF_ENDPOINT: plain.url }, dtype: 'BF16' });
      const summary = await extract(req);
      expect(summary.notes).toEqual([]);
      const out = await readOut(join(req.outDir!, 'plain.safetensors'));
      expect(Buffer.from(out.bytes).equals(Buffer.from(emb))).toBe(true);
      expect(plain.requests.every((r) => r.server === 'hub')).toBe(true);
    } finally {
      await plain.close();
    }
  });
});
