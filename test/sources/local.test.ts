/**
 * Local sources (`--from` / `path = ...`): a file, a folder with an index, a folder of shards; and the real
 * config.json / model.safetensors.index.json layouts of ../shared/fixtures/hf-layouts driving auto-detection
 * and index handling, locally and through the hub server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { extract } from '../../src/sources/extract.ts';
import { detectEmbeddingTensor } from '../../src/sources/detect.ts';
import { parseShardIndex } from '../../src/safetensors/shard-index.ts';
import { SafetensorsFile } from '../../src/safetensors/file.ts';
import { decodeToF32, encodeFromF32 } from '../../src/safetensors/dtype.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';
import { matrixBytes, startHubServer, tinyTokenizerJson, writeSparseSafetensors, type HubServer, type TensorDef } from '../helpers/hub-server.ts';

const ROWS = 128;
const DIM = 40;
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'extract-local-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cfg = (model: Record<string, unknown>, name = 'local') =>
  parseConfig(
    { model: { dim: DIM, n_vocab: ROWS, pad_token: '<eos>', ...(model.path === undefined ? { hf_model_id: 'org/local-test' } : {}), ...model } },
    join(tmp, `${name}.toml`),
  );

async function tensorBytes(path: string): Promise<{ bytes: Buffer; dtype: string; meta: Record<string, string> }> {
  const f = await SafetensorsFile.open(path);
  const t = f.tensor('embedding');
  const bytes = Buffer.from(await f.readBytes(t, 0, t.end - t.begin));
  const r = { bytes, dtype: t.dtype, meta: f.header.metadata };
  await f.close();
  return r;
}

describe('local sources', () => {
  it('--from a single file: BF16 → f16 rounds like encodeFromF32; tokenizer files beside it are copied', async () => {
    const dir = join(tmp, 'single');
    const emb = matrixBytes(ROWS, DIM, 'BF16', 3);
    writeSparseSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: emb },
      { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'BF16', shape: [1024, 1024] },
    ]);
    writeFileSync(join(dir, 'tokenizer.json'), tinyTokenizerJson(ROWS));
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 40}');
    const out = join(tmp, 'out-single');
    const s = await extract({ config: cfg({}), from: join(dir, 'model-00001-of-00002.safetensors'), outDir: out, quiet: true });
    const got = await tensorBytes(join(out, 'local.safetensors'));
    expect(got.dtype).toBe('F16');
    expect(got.bytes.equals(Buffer.from(encodeFromF32(decodeToF32(emb, 'BF16'), 'F16').bytes))).toBe(true);
    expect(got.meta).toMatchObject({
      source_kind: 'local',
      revision: 'local',
      repo: 'org/local-test',
      path: join(dir, 'model-00001-of-00002.safetensors'),
      tensor: 'model.embed_tokens.weight',
      source_dtype: 'BF16',
      shape: '[128,40]',
    });
    expect(readdirSync(out).sort()).toEqual(['extract.json', 'local.safetensors', 'source_config.json', 'tokenizer.json']);
    expect(s.sources[0]!.bytes_downloaded).toBe(0);
  });

  it('path = ... (relative to the config) to a folder with an index: finds the right shard', async () => {
    const dir = join(tmp, 'indexed');
    const emb = matrixBytes(ROWS, DIM, 'F32', 4);
    writeSparseSafetensors(join(dir, 'a.safetensors'), [{ name: 'lm_head.weight', dtype: 'F32', shape: [ROWS, DIM], data: matrixBytes(ROWS, DIM, 'F32', 9) }]);
    writeSparseSafetensors(join(dir, 'b.safetensors'), [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [ROWS, DIM], data: emb }]);
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { 'lm_head.weight': 'a.safetensors', 'model.embed_tokens.weight': 'b.safetensors' } }),
    );
    writeFileSync(join(dir, 'tokenizer.json'), tinyTokenizerJson(ROWS));
    const out = join(tmp, 'out-indexed');
    const s = await extract({ config: cfg({ path: 'indexed' }, 'indexed'), outDir: out, quiet: true, dtype: 'F32' });
    expect(s.sources[0]!.shard).toBe(join(dir, 'b.safetensors'));
    expect((await tensorBytes(join(out, 'indexed.safetensors'))).bytes.equals(Buffer.from(emb))).toBe(true);
  });

  it('a folder of shards without index: searches their headers', async () => {
    const dir = join(tmp, 'noindex');
    const emb = matrixBytes(ROWS, DIM, 'F16', 5);
    writeSparseSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [{ name: 'model.norm.weight', dtype: 'F16', shape: [DIM] }]);
    writeSparseSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [{ name: 'tok_embeddings.weight', dtype: 'F16', shape: [ROWS, DIM], data: emb }]);
    const out = join(tmp, 'out-noindex');
    const s = await extract({ config: cfg({}), from: dir, outDir: out, quiet: true });
    expect(s.sources[0]!.tensor).toBe('tok_embeddings.weight');
    expect(s.notes).toEqual([`${dir} has no tokenizer.json`]);
    expect((await tensorBytes(join(out, 'local.safetensors'))).bytes.equals(Buffer.from(emb))).toBe(true);
  });

  it('an extracted file is itself a valid source (tensor "embedding")', async () => {
    const out = join(tmp, 'out-again');
    const s = await extract({ config: cfg({}), from: join(tmp, 'out-single', 'local.safetensors'), outDir: out, quiet: true, dtype: 'F32' });
    expect(s.sources[0]!.tensor).toBe('embedding');
    expect(s.sources[0]!.source_dtype).toBe('F16');
    // F16 → F32 is exact.
    const f16 = (await tensorBytes(join(tmp, 'out-single', 'local.safetensors'))).bytes;
    const f32 = await tensorBytes(join(out, 'local.safetensors'));
    expect(f32.dtype).toBe('F32');
    expect(f32.bytes.equals(Buffer.from(decodeToF32(new Uint8Array(f16), 'F16').buffer))).toBe(true);
  });

  it('index that names a missing shard, and a path that does not exist', async () => {
    const dir = join(tmp, 'missing');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.embed_tokens.weight': 'gone.safetensors' } }));
    await expect(extract({ config: cfg({}), from: dir, outDir: join(tmp, 'o1'), quiet: true })).rejects.toThrow(
      `${join(dir, 'model.safetensors.index.json')} puts "model.embed_tokens.weight" in gone.safetensors, which is missing from ${dir}; download that shard`,
    );
    await expect(extract({ config: cfg({}), from: join(tmp, 'nowhere'), outDir: join(tmp, 'o2'), quiet: true })).rejects.toThrow(
      `${join(tmp, 'nowhere')}: no such file or folder (from --from or path = ...)`,
    );
  });
});

/** What ../shared/fixtures/hf-layouts/SOURCE.md says about each real layout. */
const LAYOUTS = [
  { dir: 'gemma-2b-it', tensor: 'model.embed_tokens.weight', shard: 'model-00001-of-00002.safetensors', vocab: 256000, hidden: 2048 },
  { dir: 'medgemma-27b-it', tensor: 'language_model.model.embed_tokens.weight', shard: 'model-00001-of-00012.safetensors', vocab: 262208, hidden: 5376 },
  { dir: 'sakura-14b-qwen2.5', tensor: 'model.embed_tokens.weight', shard: 'model-00001-of-00006.safetensors', vocab: 152064, hidden: 5120 },
  { dir: 'llama-3.1-8b-finetune', tensor: 'model.embed_tokens.weight', shard: 'model-00001-of-00006.safetensors', vocab: 128256, hidden: 4096 },
  { dir: 'llama-3.2-3b-per-tensor-shards', tensor: 'model.embed_tokens.weight', shard: 'embed_tokens.safetensors', vocab: 128256, hidden: 3072 },
];

describeShared('real checkpoint layouts (hf-layouts fixtures)', ['fixtures', 'hf-layouts'], () => {
  const layout = (d: string, f: string) => sharedPath('fixtures', 'hf-layouts', d, f);

  for (const l of LAYOUTS) {
    it(`${l.dir}: detects ${l.tensor} in ${l.shard} among ${'the real index'}`, () => {
      const index = parseShardIndex(readFileSync(layout(l.dir, 'model.safetensors.index.json'), 'utf8'), l.dir);
      const det = detectEmbeddingTensor(index.weightMap.keys(), l.dir);
      expect(det.name).toBe(l.tensor);
      expect(index.weightMap.get(det.name)).toBe(l.shard);
      // The configs' dims come from the same place: config.json (text_config for multimodal models).
      const c = JSON.parse(readFileSync(layout(l.dir, 'config.json'), 'utf8'));
      expect([c.vocab_size ?? c.text_config?.vocab_size, c.hidden_size ?? c.text_config?.hidden_size]).toEqual([l.vocab, l.hidden]);
    });
  }

  it('llama-3.2-3b per-tensor shards: the index points at a shard the folder lacks', async () => {
    const dir = sharedPath('fixtures', 'hf-layouts', 'llama-3.2-3b-per-tensor-shards');
    await expect(extract({ config: cfg({ dim: 3072, n_vocab: 128256 }), from: dir, outDir: join(tmp, 'o3'), quiet: true })).rejects.toThrow(
      /model\.safetensors\.index\.json puts "model\.embed_tokens\.weight" in embed_tokens\.safetensors, which is missing from .*llama-3\.2-3b-per-tensor-shards; download that shard/,
    );
  });

  it('llama-3.2-3b per-tensor shards: its real 1-D norm shard is refused as an embedding', async () => {
    const file = join(sharedPath('fixtures', 'hf-layouts', 'llama-3.2-3b-per-tensor-shards'), 'model-00001-model.layers.0.input_layernorm.weight.safetensors');
    await expect(
      extract({
        config: cfg({ dim: 3072, n_vocab: 128256, tensor: 'model.layers.0.input_layernorm.weight' }),
        from: file,
        outDir: join(tmp, 'o4'),
        quiet: true,
      }),
    ).rejects.toThrow(/shape \[3072\] is not a 2-D \[rows, dim\] matrix/);
  });

  describe('served by the hub with their real index (tiny tensors, real names and shard files)', () => {
    let server: HubServer;
    beforeAll(async () => {
      server = await startHubServer({ redirect: true });
    });
    afterAll(async () => server.close());

    it('llama-3.2-3b per-tensor shards on the hub: its 11 real shards served, the index names a missing one', async () => {
      const dir = sharedPath('fixtures', 'hf-layouts', 'llama-3.2-3b-per-tensor-shards');
      const files: Record<string, { disk?: string; data?: Uint8Array }> = {};
      for (const name of readdirSync(dir)) if (name.endsWith('.json') || name.endsWith('.safetensors')) files[name] = { disk: join(dir, name) };
      expect(Object.keys(files).filter((n) => n.endsWith('.safetensors'))).toHaveLength(11);
      server.addRepo({ id: 'real/llama-3.2-3b', files });
      await expect(
        extract({
          config: cfg({ hf_model_id: 'real/llama-3.2-3b', dim: 3072, n_vocab: 128256 }),
          outDir: join(tmp, 'o5'),
          quiet: true,
          env: { HF_ENDPOINT: server.url },
        }),
      ).rejects.toThrow(
        /real\/llama-3\.2-3b\/model\.safetensors\.index\.json puts "model\.embed_tokens\.weight" in embed_tokens\.safetensors, but real\/llama-3\.2-3b@[0-9a-f]{12} has no such file/,
      );
    });

    for (const l of LAYOUTS.filter((x) => x.dir !== 'llama-3.2-3b-per-tensor-shards')) {
      it(`${l.dir}: extracts ${l.tensor} from ${l.shard} only`, async () => {
        const indexText = readFileSync(layout(l.dir, 'model.safetensors.index.json'), 'utf8');
        const index = parseShardIndex(indexText, l.dir);
        const byShard = new Map<string, TensorDef[]>();
        const emb = matrixBytes(ROWS, DIM, 'BF16', 8);
        for (const [name, shard] of index.weightMap) {
          const t: TensorDef = name === l.tensor ? { name, dtype: 'BF16', shape: [ROWS, DIM], data: emb } : { name, dtype: 'BF16', shape: [4] };
          byShard.set(shard, [...(byShard.get(shard) ?? []), t]);
        }
        const files: Record<string, { disk?: string; data?: Uint8Array }> = {};
        for (const [shard, tensors] of byShard) {
          const p = join(tmp, 'hf', l.dir, shard);
          writeSparseSafetensors(p, tensors);
          files[shard] = { disk: p };
        }
        for (const small of ['model.safetensors.index.json', 'config.json', 'tokenizer_config.json']) {
          if (existsSync(layout(l.dir, small))) files[small] = { data: readFileSync(layout(l.dir, small)) };
        }
        files['tokenizer.json'] = { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) };
        server.addRepo({ id: `real/${l.dir}`, files });
        server.resetStats();
        const out = join(tmp, `out-${l.dir}`);
        const s = await extract({
          config: cfg({ hf_model_id: `real/${l.dir}` }, l.dir),
          outDir: out,
          quiet: true,
          dtype: 'BF16',
          env: { HF_ENDPOINT: server.url },
        });
        expect(s.sources[0]).toMatchObject({ tensor: l.tensor, shard: l.shard });
        expect((await tensorBytes(join(out, `${l.dir}.safetensors`))).bytes.equals(Buffer.from(emb))).toBe(true);
        const touched = new Set(server.requests.filter((r) => r.file?.endsWith('.safetensors')).map((r) => r.file));
        expect([...touched]).toEqual([l.shard]);
        // The real config.json is copied beside the matrix.
        expect(readFileSync(join(out, 'source_config.json'))).toEqual(readFileSync(layout(l.dir, 'config.json')));
      });
    }
  });
});
