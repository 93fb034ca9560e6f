/**
 * Two runs on one weights folder: the second is refused while the first is alive, with one line naming the
 * holder's stage and pid; once the holder is killed (`kill -9`, so it never released its lock), the next run takes
 * the stale lock over and completes. The holder is the real bin in a child process, slowed by the hub server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { REPO } from '../helpers/embed-model.ts';
import { matrixBytes, startHubServer, tinyTokenizerJson, writeSparseSafetensors, type HubServer } from '../helpers/hub-server.ts';
import { LOCK_FILE } from '../../src/layout/file-names.ts';

const ROWS = 256;
const DIM = 256;
let tmp: string;
let server: HubServer;
let toml: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hostile-lock-'));
  server = await startHubServer({ redirect: true });
  const path = join(tmp, 'model.safetensors');
  writeSparseSafetensors(path, [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: matrixBytes(ROWS, DIM, 'BF16', 5) }]);
  server.addRepo({
    id: 'org/locked',
    files: { 'model.safetensors': { disk: path }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
  });
  toml = join(tmp, 'locked.toml');
  writeFileSync(toml, ['[model]', 'hf_model_id = "org/locked"', `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<eos>"'].join('\n') + '\n');
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('one stage at a time per weights folder', () => {
  it('a second extract is refused naming the live holder; after kill -9 of the holder the next extract recovers the lock', async () => {
    const out = join(tmp, 'out');
    const lock = join(out, LOCK_FILE);
    const prevEndpoint = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = server.url;
    server.delayMs = 400; // each range request waits: the holder stays mid-download
    const holder = spawn(
      process.execPath,
      [join(REPO, 'bin', 'pipeline.js'), 'extract', '--config', toml, '--out-dir', out, '--chunk-size', '4096', '--quiet'],
      {
        cwd: REPO,
        env: { ...process.env, HF_ENDPOINT: server.url },
        stdio: 'ignore',
      },
    );
    const exited = new Promise<void>((r) => holder.on('exit', () => r()));
    try {
      await until(() => existsSync(lock) && server.requests.some((q) => q.range !== undefined), 60_000);
      expect(JSON.parse(readFileSync(lock, 'utf8'))).toMatchObject({ pid: holder.pid, stage: 'extract' });

      const second = await runCli(['extract', '--config', toml, '--out-dir', out, '--quiet']);
      expect(second.err).toMatch(
        new RegExp(
          `^error: ${out} is in use by pipeline extract \\(pid ${holder.pid}, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); wait for it to finish or stop it, then run again\\n$`,
        ),
      );
      expect(second.code).toBe(1);

      holder.kill('SIGKILL');
      await exited;
      expect(existsSync(lock)).toBe(true); // killed holders never release: the lock is stale now
      server.delayMs = 0;
      const third = await runCli(['extract', '--config', toml, '--out-dir', out, '--quiet']);
      expect(third.err).toBe('');
      expect(third.code).toBe(0);
      expect(existsSync(join(out, 'locked.safetensors'))).toBe(true);
      expect(existsSync(lock)).toBe(false); // released at the end of the stage
    } finally {
      holder.kill('SIGKILL');
      if (prevEndpoint === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = prevEndpoint;
    }
  });
});
