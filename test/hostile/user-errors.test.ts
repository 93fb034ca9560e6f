/**
 * Errors the user causes and fixes are one line naming the path or URL and the fix (exit 2), never
 * "(internal error …)": an output folder that cannot be created (a regular file in the way, a read-only place) and a
 * hub that redirects a download to a `file:` URL. The stages run in-process through the real CLI entry (`main`).
 *
 * Tests run as root, for whom permission bits never refuse a write, so "read-only" is a folder under /sys: sysfs
 * refuses to create entries even for root (EPERM), as a read-only bind mount or a foreign-owned folder would refuse an
 * ordinary user (EPERM/EACCES).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { matrixBytes, startHubServer, tinyTokenizerJson, writeSparseSafetensors, type HubServer } from '../helpers/hub-server.ts';

const ROWS = 64;
const DIM = 8;
const COMMIT = 'c0ffee'.padEnd(40, '0');
let tmp: string;
let server: HubServer;
let localToml: string;
const prevEndpoint = process.env.HF_ENDPOINT;

function hubToml(repo: string): string {
  const path = join(tmp, `${repo.replace('/', '_')}.toml`);
  writeFileSync(path, ['[model]', `hf_model_id = "${repo}"`, `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<eos>"'].join('\n') + '\n');
  return path;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hostile-user-errors-'));
  const model = join(tmp, 'model.safetensors');
  writeSparseSafetensors(model, [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [ROWS, DIM], data: matrixBytes(ROWS, DIM, 'F32', 3) }]);
  writeFileSync(join(tmp, 'tokenizer.json'), tinyTokenizerJson(ROWS));
  localToml = join(tmp, 'local.toml');
  writeFileSync(localToml, ['[model]', 'path = "model.safetensors"', `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<eos>"'].join('\n') + '\n');
});
afterAll(async () => {
  await server?.close();
  if (prevEndpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = prevEndpoint;
  rmSync(tmp, { recursive: true, force: true });
});

describe('output paths the file system refuses', () => {
  it('an --out-dir below a regular file (ENOTDIR) is one line naming the path', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'not a folder\n');
    const out = join(file, 'weights');
    const r = await runCli(['extract', '--config', localToml, '--out-dir', out, '--quiet']);
    expect(r.err).toBe(
      `error: cannot create folder ${out}: a part of the path is a file, not a folder (ENOTDIR); choose another path (--out-dir) or move that file away\n`,
    );
    expect(r.code).toBe(2);
  });

  it('an --out-dir that is a regular file (EEXIST) is one line naming the path', async () => {
    const file = join(tmp, 'b-file');
    writeFileSync(file, 'not a folder\n');
    const r = await runCli(['train', '--config', localToml, '--out-dir', file, '--quiet']);
    expect(r.err).toBe(
      `error: cannot create folder ${file}: a file is in the way where a folder is needed (EEXIST); choose another path (--out-dir) or move that file away\n`,
    );
    expect(r.code).toBe(2);
  });

  it('an --out-dir in a read-only place (EPERM, even for root) is one line naming the path', async () => {
    const out = '/sys/wordllama-ts-hostile-test';
    const r = await runCli(['save', '--config', localToml, '--out-dir', out, '--quiet']);
    expect(r.err).toMatch(
      new RegExp(
        `^error: cannot create folder ${out}: (operation not permitted \\(EPERM\\)|permission denied \\(EACCES\\)); choose a folder you can write \\(--out-dir\\) or fix the folder's permissions\\n$`,
      ),
    );
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});

describe('a hub that redirects to a file: URL', () => {
  beforeAll(async () => {
    server = await startHubServer();
    process.env.HF_ENDPOINT = server.url;
    const model = { data: new Uint8Array(readFileSync(join(tmp, 'model.safetensors'))) };
    // The weights themselves (read by the raw range client) redirect to a local file.
    server.addRepo({ id: 'org/evil-weights', commit: COMMIT, files: { 'model.safetensors': { data: model.data, redirect: 'file:///etc/passwd' } } });
    // A small file (read through fetch) redirects to a local file.
    server.addRepo({
      id: 'org/evil-tokenizer',
      commit: COMMIT,
      files: {
        'model.safetensors': { data: model.data },
        'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)), redirect: 'file:///etc/shadow' },
      },
    });
  });

  it('the range client names the URL and refuses; nothing is written', async () => {
    const out = join(tmp, 'out-weights');
    const r = await runCli(['extract', '--config', hubToml('org/evil-weights'), '--out-dir', out, '--quiet']);
    expect(r.err).toBe(
      `error: ${server.url}/org/evil-weights/resolve/${COMMIT}/model.safetensors redirected to file:///etc/passwd, which is not an http(s) URL; refusing to follow it (check HF_ENDPOINT)\n`,
    );
    expect(r.code).toBe(2);
    expect(existsSync(join(out, 'evil-weights.safetensors'))).toBe(false);
  });

  it('the small-file client names the URL and refuses, without retrying', async () => {
    server.resetStats();
    const r = await runCli(['extract', '--config', hubToml('org/evil-tokenizer'), '--out-dir', join(tmp, 'out-tokenizer'), '--quiet']);
    expect(r.err).toBe(
      `error: ${server.url}/org/evil-tokenizer/resolve/${COMMIT}/tokenizer.json redirected to file:///etc/shadow, which is not an http(s) URL; refusing to follow it (check HF_ENDPOINT)\n`,
    );
    expect(r.code).toBe(2);
    expect(server.requests.filter((q) => q.path.endsWith('/tokenizer.json')).length).toBe(1);
  });
});
