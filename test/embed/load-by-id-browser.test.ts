/**
 * The browser loaders over real fetch against the tests' loopback hub, with a Map standing in for the Cache
 * API (Node has none): `loadFromHub` fetches only the needed files at the resolved commit and a reload is
 * served from the cache; `loadFromUrl` reads a folder served over HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from '../../src/embed/node.ts';
import { loadFromHub, loadFromUrl, type ResponseCache } from '../../src/embed/browser-load.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { modelRepoFiles, writeRepoFiles, type RepoFormat } from '../helpers/hub-model-repos.ts';

const TEXTS = ['w3 w4 w5', 'w30 w31'];
let server: HubServer;
let tmp: string;
beforeAll(async () => {
  server = await startHubServer({ redirect: true });
  tmp = mkdtempSync(join(tmpdir(), 'browser-load-'));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

function memoryCache(): ResponseCache & { urls: string[] } {
  const store = new Map<string, Response>();
  return {
    urls: [],
    async match(url) {
      return store.get(url)?.clone();
    },
    async put(url, res) {
      this.urls.push(url);
      store.set(url, res as Response);
    },
  };
}

const files = () => [...new Set(server.requests.filter((r) => r.file).map((r) => r.file!))].sort();

describe('browser loaders', () => {
  const cases: { format: RepoFormat; dim?: number; fetched: string[] }[] = [
    { format: 'ours', dim: 32, fetched: ['config.json', 'tiny_32.safetensors', 'tokenizer.json'] },
    { format: 'model2vec', fetched: ['config.json', 'model.safetensors', 'tokenizer.json'] },
    {
      format: 'sentence-transformers',
      fetched: ['0_StaticEmbedding/model.safetensors', '0_StaticEmbedding/tokenizer.json', 'config_sentence_transformers.json', 'modules.json'],
    },
    { format: 'wordllama', dim: 32, fetched: ['tiny_32.safetensors', 'tokenizer.json'] },
  ];
  for (const c of cases) {
    it(`loadFromHub ${c.format}: only the needed files, same embeddings as load(), a reload from the cache`, async () => {
      const repo = modelRepoFiles(c.format);
      const id = `browser-org/${c.format}`;
      server.addRepo({ id, files: repo.files });
      const cache = memoryCache();
      server.resetStats();
      const m = await loadFromHub(id, { endpoint: server.url, cache, dim: c.dim });
      expect(files()).toEqual(c.fetched);
      const local = load(writeRepoFiles(join(tmp, c.format), repo.files), { dim: c.dim });
      expect(m.info.format).toBe(local.info.format);
      expect(Array.from(m.embed(TEXTS).data)).toEqual(Array.from(local.embed(TEXTS).data));
      server.resetStats();
      const again = await loadFromHub(id, { endpoint: server.url, cache, dim: c.dim });
      // Only the revision lookup goes out: every file comes from the cache.
      expect(server.requests.map((r) => r.path)).toEqual([`/api/models/${id}/revision/main`]);
      expect(Array.from(again.embed(TEXTS).data)).toEqual(Array.from(m.embed(TEXTS).data));
    });
  }

  it('loadFromUrl reads a model folder over HTTP (config.json picks the width)', async () => {
    const repo = modelRepoFiles('ours');
    const commit = 'f0'.repeat(20);
    server.addRepo({ id: 'browser-org/url', commit, files: repo.files });
    server.resetStats();
    const m = await loadFromUrl(`${server.url}/browser-org/url/resolve/${commit}/`, { dim: 16, cache: null });
    expect(m.dim).toBe(16);
    expect(files()).toEqual(['config.json', 'tiny_16.safetensors', 'tokenizer.json']);
    const local = load(writeRepoFiles(join(tmp, 'url'), repo.files), { dim: 16 });
    expect(Array.from(m.embed(TEXTS).data)).toEqual(Array.from(local.embed(TEXTS).data));
  });

  it('a gated repo without a token is one line asking for one', async () => {
    server.addRepo({ id: 'browser-org/gated', files: modelRepoFiles('model2vec').files, gated: true, allowedTokens: ['hf_ok'] });
    await expect(loadFromHub('browser-org/gated', { endpoint: server.url, cache: null })).rejects.toThrow(
      /\/browser-org\/gated\/resolve\/[0-9a-f]{40}\/config\.json: HTTP 401 \(private or gated: pass a token\)$/,
    );
  });
});
