/**
 * `pipeline inspect --model org/name`: a hub id is downloaded into the huggingface_hub cache like every --model
 * (the test hub on loopback), and its report goes to the working folder, never into the shared cache.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelRepoFiles } from '../helpers/hub-model-repos.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const REPO = join(import.meta.dirname, '..', '..');
let server: HubServer;
let work: string;

beforeAll(async () => {
  server = await startHubServer();
  server.addRepo({ id: 'org/m2v', files: modelRepoFiles('model2vec').files });
  work = mkdtempSync(join(tmpdir(), 'inspect-hub-'));
});
afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

describe('inspect --model by hub id', () => {
  it('downloads the model into the cache and writes inspect.json and inspect.html in the working folder', async () => {
    const cache = join(work, 'hf');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(REPO, 'bin', 'pipeline.js'), 'inspect', '--model', 'org/m2v', '--duplicates', '0', '--quiet'],
      {
        cwd: work,
        env: { ...process.env, HF_ENDPOINT: server.url, HF_HUB_CACHE: cache, HF_TOKEN: '' },
      },
    );
    expect(stdout.trim()).toBe('inspect.json');
    const report = JSON.parse(readFileSync(join(work, 'inspect.json'), 'utf8')) as { rows: number; dim: number };
    expect(report.rows).toBeGreaterThan(0);
    expect(existsSync(join(work, 'inspect.html'))).toBe(true);
    // the cache holds the model's files only
    const snapshots = join(cache, 'models--org--m2v', 'snapshots');
    const [commit] = readdirSync(snapshots);
    expect(readdirSync(join(snapshots, commit!)).filter((f) => f.startsWith('inspect'))).toEqual([]);
  });
});
