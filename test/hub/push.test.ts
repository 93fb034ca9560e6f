/**
 * `pipeline push` against the tests' hub server speaking the commit API @huggingface/hub drives (preupload, LFS
 * batch + upload, NDJSON commit): only the release files go up, byte for byte, and a later download of them
 * loads into the same embeddings; `loadModel` by id brings a pushed model back through the huggingface_hub
 * cache, per branch and per commit.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { makeModel, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';
import { load, loadModel } from '../../src/embed/node.ts';
import { cachedCommit, repoCacheFolder, snapshotDir, snapshotFiles } from '../../src/hub/cache/layout.ts';

const TOKEN = 'hf_testwritetoken';
const RELEASE = ['tiny_16.safetensors', 'tokenizer.json', 'config.json', 'README.md'];
const TEXTS = ['A man is playing a guitar.', 'the quick brown fox'];

let hub: HubServer;
let model: GeneratedModel;
const saved = { endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN };

beforeAll(async () => {
  hub = await startHubServer();
  model = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 16, name: 'tiny', seed: 3 });
  writeFileSync(join(model.dir, 'README.md'), '---\nlibrary_name: wordllama-ts\n---\n# tiny\n');
  // What else a weights folder holds: none of it may be pushed.
  mkdirSync(join(model.dir, 'checkpoints', 'best'), { recursive: true });
  writeFileSync(join(model.dir, 'checkpoints', 'best', 'model.safetensors'), 'checkpoint');
  mkdirSync(join(model.dir, 'cache'));
  writeFileSync(join(model.dir, 'cache', 'tokens.bin'), 'cache');
  writeFileSync(join(model.dir, 'metrics.jsonl'), '{}\n');
  writeFileSync(join(model.dir, 'eval.json'), '[]');
  writeFileSync(join(model.dir, 'llama.safetensors'), 'gated source matrix');
  writeFileSync(join(model.dir, 'source_config.json'), '{}');
  process.env.HF_ENDPOINT = hub.url;
});
afterEach(() => {
  process.env.HF_TOKEN = TOKEN;
});
afterAll(async () => {
  for (const [k, v] of [
    ['HF_ENDPOINT', saved.endpoint],
    ['HF_TOKEN', saved.token],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await hub.close();
});

async function download(repo: string, files: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pushed-'));
  for (const f of files) {
    const res = await fetch(`${hub.url}/${repo}/resolve/main/${f}`);
    expect(res.status).toBe(200);
    writeFileSync(join(dir, f), new Uint8Array(await res.arrayBuffer()));
  }
  return dir;
}

describe('pipeline push', () => {
  it('creates the repo and commits exactly the release files (weights by LFS), identical bytes and embeddings', async () => {
    process.env.HF_TOKEN = TOKEN;
    const r = await runCli(['push', '--model', model.dir, '--repo', 'alice/tiny', '--private', '--message', 'first release', '--json', '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { repo: string; revision: string; commit: string; created: boolean; files: string[] };
    expect(out).toMatchObject({ repo: 'alice/tiny', revision: 'main', created: true, files: RELEASE });
    expect(hub.commitApi.created).toEqual([{ id: 'alice/tiny', visibility: 'private' }]);
    expect(hub.commitApi.commits).toHaveLength(1);
    const c = hub.commitApi.commits[0]!;
    expect([c.repo, c.branch, c.summary, c.commit]).toEqual(['alice/tiny', 'main', 'first release', out.commit]);
    expect([...c.files].sort()).toEqual([...RELEASE].sort());
    expect(c.lfs).toEqual(['tiny_16.safetensors']);
    expect(hub.commitApi.lfsUploads).toHaveLength(1);
    // The revision now resolves to the pushed commit and lists only the release files.
    const info = (await (await fetch(`${hub.url}/api/models/alice/tiny/revision/main`)).json()) as { sha: string; siblings: { rfilename: string }[] };
    expect(info.sha).toBe(out.commit);
    expect(info.siblings.map((s) => s.rfilename).sort()).toEqual([...RELEASE].sort());
    const dir = await download('alice/tiny', RELEASE);
    for (const f of RELEASE) expect(readFileSync(join(dir, f)).equals(readFileSync(join(model.dir, f)))).toBe(true);
    expect(Array.from(load(dir).embed(TEXTS).data)).toEqual(Array.from(load(model.dir).embed(TEXTS).data));
  });

  it('pushes again to an existing repo (a new commit, LFS object not re-sent) and to a new branch', async () => {
    const r = await runCli(['push', '--model', model.dir, '--repo', 'alice/tiny', '--revision', 'v2', '--json', '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ created: false, revision: 'v2', files: RELEASE });
    const c = hub.commitApi.commits.at(-1)!;
    expect([c.branch, c.summary]).toEqual(['v2', 'Upload 4 files with wordllama-ts']);
    expect(c.lfs).toEqual(['tiny_16.safetensors']);
    expect(hub.commitApi.lfsUploads).toHaveLength(1);
    const info = (await (await fetch(`${hub.url}/api/models/alice/tiny/revision/v2`)).json()) as { sha: string };
    expect(info.sha).toBe(c.commit);
  });

  it('no HF_TOKEN, a bad repo id, a folder without config.json or with a listed file missing: one line each', async () => {
    delete process.env.HF_TOKEN;
    const noToken = await runCli(['push', '--model', model.dir, '--repo', 'alice/tiny']);
    expect([noToken.code, noToken.err]).toEqual([
      2,
      'error: push: HF_TOKEN is not set; create a token with write access at https://huggingface.co/settings/tokens and export HF_TOKEN=hf_...\n',
    ]);
    process.env.HF_TOKEN = TOKEN;
    const badId = await runCli(['push', '--model', model.dir, '--repo', 'tiny']);
    expect([badId.code, badId.err]).toEqual([2, 'error: push: --repo "tiny" is not a repo id (expected user/name)\n']);
    const empty = mkdtempSync(join(tmpdir(), 'push-empty-'));
    const noCfg = await runCli(['push', '--model', empty, '--repo', 'alice/x']);
    expect([noCfg.code, noCfg.err]).toEqual([2, `error: ${empty}: no config.json; push publishes a model written by pipeline save (run it first)\n`]);
    writeFileSync(join(empty, 'config.json'), JSON.stringify({ model_type: 'wordllama-ts', name: 'm', dims: [8, 4] }));
    writeFileSync(join(empty, 'm_8.safetensors'), 'x');
    const missing = await runCli(['push', '--model', empty, '--repo', 'alice/x']);
    expect([missing.code, missing.err]).toEqual([
      2,
      `error: ${empty}: m_4.safetensors, tokenizer.json, README.md missing (config.json lists the weights; re-run pipeline save)\n`,
    ]);
    expect(hub.commitApi.created.map((c) => c.id)).toEqual(['alice/tiny']);
  });
});

describe('push, then loadModel by id (the round trip)', () => {
  const pushed = (args: string[]) =>
    runCli(['push', ...args, '--json', '--quiet']).then((r) => {
      expect([r.code, r.err]).toEqual([0, '']);
      return JSON.parse(r.out) as { commit: string; files: string[] };
    });
  const fetchedFiles = () => [...new Set(hub.requests.filter((q) => q.file !== undefined).map((q) => q.file!))].sort();
  const embedding = (m: { embed: (t: string[]) => { data: Float32Array } }) => Array.from(m.embed(TEXTS).data);

  it('a pushed model loads by id into an empty cache with identical embeddings; a branch and each earlier commit keep their own files', async () => {
    process.env.HF_TOKEN = TOKEN;
    const env = { HF_ENDPOINT: hub.url };
    const first = await pushed(['--model', model.dir, '--repo', 'bob/round-trip']);
    expect(first.files).toEqual(RELEASE);
    const info = (await (await fetch(`${hub.url}/api/models/bob/round-trip/revision/main`)).json()) as { siblings: { rfilename: string }[] };
    expect(info.siblings.map((f) => f.rfilename).sort()).toEqual([...RELEASE].sort());

    const cacheDir = mkdtempSync(join(tmpdir(), 'round-trip-cache-'));
    hub.resetStats();
    const byId = await loadModel('bob/round-trip', { cacheDir, env });
    // Only what the load needs comes down (never the model card), into the huggingface_hub layout.
    expect(fetchedFiles()).toEqual(['config.json', 'tiny_16.safetensors', 'tokenizer.json']);
    const folder = repoCacheFolder(cacheDir, 'bob/round-trip');
    expect(cachedCommit(folder, 'main')).toBe(first.commit);
    expect(snapshotFiles(snapshotDir(folder, first.commit)).sort()).toEqual(['config.json', 'tiny_16.safetensors', 'tokenizer.json']);
    const v1 = embedding(load(model.dir));
    expect(embedding(byId)).toEqual(v1);

    // Different weights on a new branch: @v2 loads them, main still loads the first push.
    const other = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 16, name: 'tiny', seed: 11 });
    writeFileSync(join(other.dir, 'README.md'), '---\nlibrary_name: wordllama-ts\n---\n# tiny v2\n');
    const second = await pushed(['--model', other.dir, '--repo', 'bob/round-trip', '--revision', 'v2']);
    const v2 = embedding(load(other.dir));
    expect(v2).not.toEqual(v1);
    expect(embedding(await loadModel('bob/round-trip@v2', { cacheDir, env }))).toEqual(v2);
    expect(embedding(await loadModel('bob/round-trip', { cacheDir, env }))).toEqual(v1);

    // Main moves on; the first commit, named by id, still serves the first files (a fresh cache must download them).
    const third = await pushed(['--model', other.dir, '--repo', 'bob/round-trip']);
    const fresh = mkdtempSync(join(tmpdir(), 'round-trip-fresh-'));
    hub.resetStats();
    expect(embedding(await loadModel(`bob/round-trip@${first.commit}`, { cacheDir: fresh, env }))).toEqual(v1);
    expect(fetchedFiles()).toEqual(['config.json', 'tiny_16.safetensors', 'tokenizer.json']);
    expect(embedding(await loadModel('bob/round-trip', { cacheDir: fresh, env }))).toEqual(v2);
    expect(cachedCommit(repoCacheFolder(fresh, 'bob/round-trip'), 'main')).toBe(third.commit);
    expect(new Set([first.commit, second.commit, third.commit]).size).toBe(3);
  });
});
