/**
 * Checkpoint anatomy from headers only, on the test hub server (test/helpers/hub-server.ts) serving the real
 * layouts of ../shared/fixtures/hf-layouts: their config.json and model.safetensors.index.json as published,
 * and sparse shards whose headers hold every tensor of the index with the shape the architecture gives it
 * (checked here against the index's own total_size, so the layout is the real one byte for byte). Only headers
 * and small files may cross the wire.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Anatomy } from '../../src/inspect/anatomy.ts';
import type { DType } from '../../src/safetensors/dtype.ts';
import { DTYPE_BYTES } from '../../src/safetensors/dtype.ts';
import { runCli } from '../helpers/cli.ts';
import { startHubServer, writeSparseSafetensors, type HubServer, type TensorDef } from '../helpers/hub-server.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';

const LAYOUTS = ['fixtures', 'hf-layouts'];

interface ArchConfig {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim?: number;
  vocab_size: number;
}

/** The HF transformers shape ([out, in]) of a Llama/Gemma/Qwen2 tensor, from config.json. */
function shapeOf(name: string, c: ArchConfig): number[] {
  const h = c.hidden_size;
  const hd = c.head_dim ?? h / c.num_attention_heads;
  const q = c.num_attention_heads * hd;
  const kv = c.num_key_value_heads * hd;
  const rules: [RegExp, number[]][] = [
    [/(embed_tokens|lm_head)\.weight$/, [c.vocab_size, h]],
    [/q_proj\.weight$/, [q, h]],
    [/[kv]_proj\.weight$/, [kv, h]],
    [/q_proj\.bias$/, [q]],
    [/[kv]_proj\.bias$/, [kv]],
    [/o_proj\.weight$/, [h, q]],
    [/(gate|up)_proj\.weight$/, [c.intermediate_size, h]],
    [/down_proj\.weight$/, [h, c.intermediate_size]],
    [/norm\.weight$/, [h]],
  ];
  const hit = rules.find(([re]) => re.test(name));
  if (!hit) throw new Error(`no shape rule for ${name}`);
  return hit[1];
}

let server: HubServer;
let tmp: string;
const saved = { endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN };
const expected = new Map<string, { params: number; bytes: number; shards: number }>();

function serveLayout(dir: string, repo: string, dtype: DType): void {
  const root = sharedPath(...LAYOUTS, dir);
  const config = readFileSync(join(root, 'config.json'));
  const indexText = readFileSync(join(root, 'model.safetensors.index.json'), 'utf8');
  const index = JSON.parse(indexText) as { weight_map: Record<string, string>; metadata: { total_size: number } };
  const arch = JSON.parse(config.toString()) as ArchConfig;
  const byShard = new Map<string, TensorDef[]>();
  let params = 0;
  for (const [name, shard] of Object.entries(index.weight_map)) {
    const shape = shapeOf(name, arch);
    params += shape.reduce((a, b) => a * b, 1);
    if (!byShard.has(shard)) byShard.set(shard, []);
    byShard.get(shard)!.push({ name, dtype, shape });
  }
  // the derived shapes are the real ones: they add up to the index's total_size
  expect(params * DTYPE_BYTES[dtype]).toBe(index.metadata.total_size);
  expected.set(repo, { params, bytes: index.metadata.total_size, shards: byShard.size });
  const files: Record<string, { disk?: string; data?: Uint8Array }> = {
    'config.json': { data: config },
    'model.safetensors.index.json': { data: new TextEncoder().encode(indexText) },
  };
  for (const [shard, tensors] of byShard) {
    const path = join(tmp, dir, shard);
    writeSparseSafetensors(path, tensors);
    files[shard] = { disk: path };
  }
  server.addRepo({ id: repo, files });
}

describeShared('inspect --anatomy on real checkpoint layouts', LAYOUTS, () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'inspect-anatomy-'));
    server = await startHubServer();
    serveLayout('gemma-2b-it', 'google/gemma-2b-it', 'BF16');
    serveLayout('sakura-14b-qwen2.5', 'SakuraLLM/Sakura-14B-Qwen2.5', 'F16');
    process.env.HF_ENDPOINT = server.url;
    process.env.HF_TOKEN = '';
  }, 60_000);

  afterAll(async () => {
    process.env.HF_ENDPOINT = saved.endpoint;
    process.env.HF_TOKEN = saved.token;
    if (saved.endpoint === undefined) delete process.env.HF_ENDPOINT;
    if (saved.token === undefined) delete process.env.HF_TOKEN;
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  function writeConfig(name: string, body: string): string {
    const path = join(tmp, `${name}.toml`);
    writeFileSync(path, body);
    return path;
  }

  it('a single source: embedding vs checkpoint params and bytes, implicit tie (Gemma), headers only', async () => {
    const cfg = writeConfig(
      'gemma',
      `[model]\nhf_model_id = "google/gemma-2b-it"\nrevision = "main"\ndim = 2048\nn_vocab = 256000\npad_token = "<eos>"\n[tokenizer]\nmax_length = 64\n`,
    );
    server.resetStats();
    const r = await runCli(['inspect', '--config', cfg, '--anatomy', '--json']);
    expect(r.code).toBe(0);
    const { anatomy } = JSON.parse(r.out) as { anatomy: Anatomy };
    const e = expected.get('google/gemma-2b-it')!;
    expect(anatomy.sources).toHaveLength(1);
    const s = anatomy.sources[0]!;
    expect(s).toMatchObject({
      name: 'gemma', // a single source is named after its config
      repo: 'google/gemma-2b-it',
      tensor: 'model.embed_tokens.weight',
      dtype: 'BF16',
      shape: [256000, 2048],
      embedding_params: 256000 * 2048,
      embedding_bytes: 256000 * 2048 * 2,
      checkpoint_params: e.params,
      checkpoint_bytes: e.bytes,
      tied: true,
      share_of_width: 1,
    });
    expect(s.head_tensor).toBeUndefined();
    // 2 506 172 416 params, of which 524 288 000 are the embedding: 20.9%
    expect(e.params).toBe(2506172416);
    expect(r.err).toContain('model.embed_tokens.weight BF16 [256000, 2048] = 524,288,000 params, 1.05 GB of 2,506,172,416 (20.9%), 5.01 GB; output head tied');
    // nothing but headers, the index and config.json: a few hundred kB at most for a 5 GB checkpoint
    expect(server.bytesSent).toBeLessThan(200_000);
    for (const q of server.requests.filter((q) => q.range)) expect(q.end! - q.start!).toBeLessThan(100_000);
  }, 60_000);

  it('a concatenation: each source with its share of the width; an untied head (Qwen2.5) by config.json', async () => {
    const cfg = writeConfig(
      'cat',
      `[model]\ndim = 7168\nn_vocab = 152064\npad_token = "<eos>"\n[[sources]]\nhf_model_id = "google/gemma-2b-it"\ndim = 2048\n[[sources]]\nhf_model_id = "SakuraLLM/Sakura-14B-Qwen2.5"\ndim = 5120\n[tokenizer]\nmax_length = 64\n`,
    );
    const r = await runCli(['inspect', '--config', cfg, '--anatomy', '--json', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const { anatomy } = JSON.parse(r.out) as { anatomy: Anatomy };
    expect(anatomy.sources.map((s) => [s.repo, s.share_of_width])).toEqual([
      ['google/gemma-2b-it', 2048 / 7168],
      ['SakuraLLM/Sakura-14B-Qwen2.5', 5120 / 7168],
    ]);
    const q = anatomy.sources[1]!;
    const e = expected.get('SakuraLLM/Sakura-14B-Qwen2.5')!;
    expect(q).toMatchObject({
      dtype: 'F16',
      shape: [152064, 5120],
      tied: false,
      head_tensor: 'lm_head.weight',
      checkpoint_params: e.params,
      checkpoint_bytes: e.bytes,
    });
    expect(q.embedding_params / q.checkpoint_params!).toBeCloseTo((152064 * 5120) / e.params, 12);
  }, 60_000);

  it('says in one line when a config has no hub source', async () => {
    const r = await runCli(['inspect', '--config', 'use_lite', '--anatomy']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('error: inspect: config use_lite has no hub source (hf_model_id); --anatomy reads hub checkpoints');
  });
});
