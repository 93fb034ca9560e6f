/**
 * `loadModel('org/name')` and the CLI's `--model org/name` against the tests' loopback hub: every format load
 * reads, only the files the load needs are downloaded, and the embeddings equal those of the same files loaded
 * from a local folder.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load, loadModel } from '../../src/embed/node.ts';
import { startHubServer, tinyTokenizerJson, writeSparseSafetensors, type HubServer } from '../helpers/hub-server.ts';
import { modelRepoFiles, writeRepoFiles, type RepoFormat } from '../helpers/hub-model-repos.ts';
import { runCli } from '../helpers/cli.ts';

const TEXTS = ['w3 w4 w5', 'w10 w11 w12 w13', 'w39'];
let server: HubServer;
let tmp: string;

beforeAll(async () => {
  server = await startHubServer({ redirect: true });
  tmp = mkdtempSync(join(tmpdir(), 'load-by-id-'));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const downloaded = () => [...new Set(server.requests.filter((r) => r.file !== undefined).map((r) => r.file!))].sort();

describe('load by hub id', () => {
  const cases: { format: RepoFormat; dim?: number; weights: string[]; width: number }[] = [
    { format: 'ours', dim: 32, weights: ['config.json', 'tiny_32.safetensors', 'tokenizer.json'], width: 32 },
    { format: 'wordllama', dim: 20, weights: ['tiny_32.safetensors', 'tokenizer.json'], width: 20 },
    { format: 'model2vec', weights: ['config.json', 'model.safetensors', 'modules.json', 'tokenizer.json'], width: 48 },
    {
      format: 'sentence-transformers',
      weights: ['0_StaticEmbedding/model.safetensors', '0_StaticEmbedding/tokenizer.json', 'config_sentence_transformers.json', 'modules.json'],
      width: 24,
    },
  ];
  for (const c of cases) {
    it(`${c.format}: downloads exactly ${c.weights.length} files and embeds as the local folder does`, async () => {
      const { files, extra } = modelRepoFiles(c.format);
      const id = `test-org/${c.format}-model`;
      server.addRepo({ id, files });
      server.resetStats();
      const cacheDir = join(tmp, `cache-${c.format}`);
      const env = { HF_ENDPOINT: server.url };
      const byId = await loadModel(id, { dim: c.dim, cacheDir, env });
      expect(downloaded()).toEqual(c.weights);
      for (const f of extra) expect(downloaded()).not.toContain(f);
      const local = load(writeRepoFiles(join(tmp, `local-${c.format}`), files), { dim: c.dim });
      expect(byId.dim).toBe(c.width);
      expect(byId.info.format).toBe(c.format === 'ours' ? 'wordllama-ts' : c.format);
      expect(byId.info.format).toBe(local.info.format);
      expect(Array.from(byId.embed(TEXTS).data)).toEqual(Array.from(local.embed(TEXTS).data));
    });
  }

  it('the CLI: pipeline embed --model hf:org/name@rev through HF_ENDPOINT and HF_HUB_CACHE; again without a request', async () => {
    const { files } = modelRepoFiles('model2vec');
    const commit = 'ab'.repeat(20);
    server.addRepo({ id: 'test-org/cli-model', files, revisions: { v1: commit } });
    const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_HUB_CACHE: process.env.HF_HUB_CACHE };
    process.env.HF_ENDPOINT = server.url;
    process.env.HF_HUB_CACHE = join(tmp, 'cli-cache');
    try {
      server.resetStats();
      const first = await runCli(['embed', '--model', 'hf:test-org/cli-model@v1', '--json', '--text', 'w3 w4']);
      expect(first.err).toContain('downloaded model.safetensors');
      expect(first.code).toBe(0);
      expect(downloaded()).toEqual(['config.json', 'model.safetensors', 'modules.json', 'tokenizer.json']);
      server.resetStats();
      const again = await runCli(['embed', '--model', 'test-org/cli-model@v1', '--json', '--text', 'w3 w4']);
      expect(again.code).toBe(0);
      expect(server.requests).toEqual([]);
      expect(again.out).toBe(first.out);
      const local = load(writeRepoFiles(join(tmp, 'local-cli'), files));
      const printed = JSON.parse(first.out) as { dim: number; embeddings: number[][] };
      expect(printed.dim).toBe(48);
      expect(printed.embeddings[0]).toEqual(Array.from(local.embed(['w3 w4']).data));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('a weights file above 2 GiB (sparse, served with Range) is refused from its Content-Length, before its body is read', async () => {
    // model2vec layout, "embeddings" F32 [40, 16777216]: 2.5 GiB declared, a hole on disk.
    const file = join(tmp, 'big', 'model.safetensors');
    const size = writeSparseSafetensors(file, [{ name: 'embeddings', dtype: 'F32', shape: [40, 16 * 1024 * 1024] }]);
    expect(size).toBeGreaterThan(2 * 1024 ** 3);
    server.addRepo({
      id: 'test-org/too-big',
      files: {
        'config.json': { data: new TextEncoder().encode(JSON.stringify({ model_type: 'model2vec', normalize: true })) },
        'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(40)) },
        'model.safetensors': { disk: file },
      },
    });
    server.resetStats();
    const cacheDir = join(tmp, 'cache-big');
    await expect(loadModel('test-org/too-big', { cacheDir, env: { HF_ENDPOINT: server.url } })).rejects.toThrow(
      `test-org/too-big/model.safetensors is ${size} bytes, too large for a static embedding model loaded whole (at most ${2 * 1024 ** 3 - 1}); use a narrower width or a smaller dtype of it (pipeline export --dim D --dtype f16 writes one)`,
    );
    // The body is cancelled at once: the server gets out at most its first read-stream chunks (1 MiB each), not
    // 2.5 GiB; no blob of the big file is left in the cache.
    expect(server.bytesSent).toBeLessThan(8 * 1024 ** 2);
    const blobs = join(cacheDir, 'models--test-org--too-big', 'blobs');
    expect(existsSync(blobs) ? readdirSync(blobs).length : 0).toBe(2);
  });
});
