/**
 * The huggingface_hub cache layout, shared with Python. What we write and what we read mirror
 * huggingface_hub's src/huggingface_hub/file_download.py (`hf_hub_download`: blobs/<etag>, a relative symlink
 * snapshots/<commit>/<path> made by `_create_symlink` with os.path.relpath, refs/<revision> holding the bare
 * commit written by `_cache_commit_hash_for_specific_revision`) and its constants.py (HF_HUB_CACHE / HF_HOME,
 * HF_HUB_OFFLINE's truthy values).
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load, loadModel } from '../../src/embed/node.ts';
import { cachedModelDir } from '../../src/hub/cache/download.ts';
import { hubCacheRoot } from '../../src/hub/cache/layout.ts';
import { parseHubModelId } from '../../src/hub/cache/model-id.ts';
import { resolveModelSource } from '../../src/hub/cache/resolve.ts';
import { startHubServer, type HubServer, type ServedFile } from '../helpers/hub-server.ts';
import { modelRepoFiles, writeRepoFiles } from '../helpers/hub-model-repos.ts';

const TEXTS = ['w3 w4 w5', 'w20 w21'];
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** git's blob id, the ETag (and blob name) the hub gives files not stored in LFS. */
const gitSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');

let server: HubServer;
let tmp: string;
beforeAll(async () => {
  server = await startHubServer({ redirect: true });
  tmp = mkdtempSync(join(tmpdir(), 'hub-cache-'));
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Lay out `files` the way huggingface_hub's hf_hub_download leaves them. */
function pythonCache(root: string, repo: string, commit: string, files: Record<string, ServedFile>, refs: string[] = ['main']): string {
  const folder = join(root, `models--${repo.replace('/', '--')}`);
  for (const [path, f] of Object.entries(files)) {
    const blobName = path.endsWith('.safetensors') ? sha256(f.data!) : gitSha1(f.data!);
    const blob = join(folder, 'blobs', blobName);
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, f.data!);
    const link = join(folder, 'snapshots', commit, ...path.split('/'));
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), blob), link);
  }
  mkdirSync(join(folder, 'refs'), { recursive: true });
  for (const r of refs) writeFileSync(join(folder, 'refs', r), commit);
  return folder;
}

describe('hub ids', () => {
  it('org/name, org/name@rev and hf:org/name parse; paths and config names do not', () => {
    expect(parseHubModelId('minishlab/potion-base-8M')).toEqual({ repo: 'minishlab/potion-base-8M', revision: 'main' });
    expect(parseHubModelId('hf:a/b@v1.0')).toEqual({ repo: 'a/b', revision: 'v1.0' });
    expect(parseHubModelId('use_lite')).toBeUndefined();
    expect(parseHubModelId('./weights/x')).toBeUndefined();
    expect(parseHubModelId('/abs/path')).toBeUndefined();
    expect(parseHubModelId('a/b/c')).toBeUndefined();
  });

  it('a local path wins over the id of the same shape; hf: forces the hub', async () => {
    const cwd = process.cwd();
    const base = mkdtempSync(join(tmp, 'cwd-'));
    writeRepoFiles(join(base, 'local-org', 'm'), modelRepoFiles('model2vec').files);
    process.chdir(base);
    try {
      server.resetStats();
      expect(await resolveModelSource('local-org/m', { cacheDir: join(tmp, 'unused'), env: { HF_ENDPOINT: server.url } })).toBe('local-org/m');
      expect(server.requests).toEqual([]);
      await expect(resolveModelSource('hf:local-org/m', { cacheDir: join(tmp, 'unused'), env: { HF_ENDPOINT: server.url } })).rejects.toThrow(
        /repository "local-org\/m" not found/,
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('cache root: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub', () => {
    expect(hubCacheRoot({ HF_HUB_CACHE: '/c', HF_HOME: '/h' })).toBe('/c');
    expect(hubCacheRoot({ HF_HOME: '/h' })).toBe(join('/h', 'hub'));
    expect(hubCacheRoot({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'huggingface', 'hub'));
    expect(hubCacheRoot({}).endsWith(join('.cache', 'huggingface', 'hub'))).toBe(true);
  });
});

describe('the cache we write', () => {
  const commit = 'c0'.repeat(20);
  const repo = 'test-org/st-layout';
  const { files } = modelRepoFiles('sentence-transformers');
  const cacheDir = () => join(tmp, 'written');

  it('blobs named by ETag, relative snapshot links (nested paths too), refs/main = the commit; no temp files', async () => {
    server.addRepo({ id: repo, commit, files });
    const snap = await cachedModelDir(repo, { cacheDir: cacheDir(), env: { HF_ENDPOINT: server.url } });
    const folder = join(cacheDir(), 'models--test-org--st-layout');
    expect(snap).toBe(join(folder, 'snapshots', commit));
    expect(readFileSync(join(folder, 'refs', 'main'), 'utf8')).toBe(commit);
    const weights = files['0_StaticEmbedding/model.safetensors']!.data!;
    const link = join(snap, '0_StaticEmbedding', 'model.safetensors');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(`../../../blobs/${sha256(weights)}`);
    expect(readlinkSync(join(snap, 'modules.json'))).toBe(`../../blobs/${sha256(files['modules.json']!.data!)}`);
    expect(new Uint8Array(readFileSync(join(folder, 'blobs', sha256(weights))))).toEqual(weights);
    expect(readdirSync(join(folder, 'blobs')).sort()).toEqual(
      ['0_StaticEmbedding/model.safetensors', '0_StaticEmbedding/tokenizer.json', 'modules.json', 'config_sentence_transformers.json']
        .map((f) => sha256(files[f]!.data!))
        .sort(),
    );
    expect(existsSync(join(snap, 'README.md'))).toBe(false);
  });

  it('a second load makes no request at all', async () => {
    server.resetStats();
    const m = await loadModel(repo, { cacheDir: cacheDir(), env: { HF_ENDPOINT: server.url } });
    expect(server.requests).toEqual([]);
    expect(m.info.format).toBe('sentence-transformers');
  });

  it('another width of a saved model fetches only that weights file', async () => {
    const ours = modelRepoFiles('ours').files;
    server.addRepo({ id: 'test-org/widths', files: ours });
    const env = { HF_ENDPOINT: server.url };
    await loadModel('test-org/widths', { dim: 16, cacheDir: cacheDir(), env });
    server.resetStats();
    const m = await loadModel('test-org/widths', { dim: 64, cacheDir: cacheDir(), env });
    expect(server.requests.filter((r) => r.file).map((r) => r.file)).toEqual(['tiny_64.safetensors']);
    expect(m.dim).toBe(64);
    server.resetStats();
    expect((await loadModel('test-org/widths', { dim: 16, cacheDir: cacheDir(), env })).dim).toBe(16);
    expect(server.requests).toEqual([]);
  });
});

describe('a cache Python made', () => {
  const commit = 'e1'.repeat(20);
  const { files } = modelRepoFiles('model2vec');
  const needed = Object.fromEntries(Object.entries(files).filter(([p]) => !p.startsWith('onnx/') && p !== 'pytorch_model.bin'));

  it('loads with the hub server stopped, identical to the local folder', async () => {
    const root = join(tmp, 'python');
    pythonCache(root, 'minishlab/potion-test', commit, needed, ['main', 'v2']);
    const stopped = await startHubServer();
    const url = stopped.url;
    await stopped.close();
    const env = { HF_ENDPOINT: url, HF_HUB_CACHE: root };
    const reference = load(writeRepoFiles(join(tmp, 'python-local'), needed));
    for (const id of ['minishlab/potion-test', 'minishlab/potion-test@v2', `minishlab/potion-test@${commit}`]) {
      const m = await loadModel(id, { env });
      expect(Array.from(m.embed(TEXTS).data)).toEqual(Array.from(reference.embed(TEXTS).data));
    }
  });

  it('offline with a file missing: one line naming the file and the cache folder', async () => {
    const root = join(tmp, 'python-partial');
    const { 'tokenizer.json': _dropped, ...rest } = needed;
    const folder = pythonCache(root, 'minishlab/partial', commit, rest);
    const err = await loadModel('minishlab/partial', { env: { HF_HUB_CACHE: root, HF_HUB_OFFLINE: '1' } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `offline (HF_HUB_OFFLINE): minishlab/partial@main: tokenizer.json is not in the cache folder ${join(folder, 'snapshots', commit)}; run once online to download it`,
    );
    const none = await loadModel('minishlab/absent', { offline: true, cacheDir: root }).catch((e: Error) => e);
    expect((none as Error).message).toBe(
      `offline (HF_HUB_OFFLINE): minishlab/absent@main is not in the cache (no refs/main in ${join(root, 'models--minishlab--absent')}); run once online to download it`,
    );
  });
});

describe('access', () => {
  it('a gated repo without HF_TOKEN fails naming HF_TOKEN; with an accepted token it loads', async () => {
    const { files } = modelRepoFiles('model2vec');
    const token = 'hf_testaccepted';
    server.addRepo({ id: 'gated-org/model', files, gated: true, allowedTokens: [token] });
    const cacheDir = join(tmp, 'gated');
    const err = await loadModel('gated-org/model', { cacheDir, env: { HF_ENDPOINT: server.url } }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `gated-org/model is a gated model (HTTP 401): accept the licence on ${server.url}/gated-org/model, then set HF_TOKEN to an access token of that account (https://huggingface.co/settings/tokens)`,
    );
    server.resetStats();
    const m = await loadModel('gated-org/model', { cacheDir, env: { HF_ENDPOINT: server.url, HF_TOKEN: token } });
    expect(m.dim).toBe(48);
    expect(server.requests.filter((r) => r.server === 'cdn').every((r) => !r.auth)).toBe(true);
  });
});
