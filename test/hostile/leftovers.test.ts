/**
 * Leftovers of killed runs: every output is written to `<target>.<pid>-<random>.tmp` and renamed into place, so a
 * `kill -9` leaves that temp behind (≈ 1 GB for a real save). The next write of the same target removes the temps
 * of processes that no longer exist and keeps those of live ones (another run may still be writing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeModel, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';

let work: string;
let g: GeneratedModel;

/** The pid of a process that has exited (spawned and waited for), so `kill(pid, 0)` answers ESRCH. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'hostile-leftovers-'));
  g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 8, name: 'left' });
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(g.dir, { recursive: true, force: true });
});

describe('stale temporaries of dead processes', () => {
  it("embed --output removes the dead runs' temps beside its target, keeps live ones and unrelated files", async () => {
    const out = join(work, 'vectors.npy');
    const dead = [deadPid(), deadPid()];
    const staleA = `${out}.${dead[0]}-0a1b2c3d.tmp`;
    const staleB = `${out}.${dead[1]}-deadbeef.tmp`;
    const live = `${out}.${process.pid}-01234567.tmp`; // this process is alive: a concurrent writer's temp
    const otherTarget = join(work, `other.npy.${dead[0]}-0a1b2c3d.tmp`); // another target's temp: not ours to judge
    const userFile = join(work, 'notes.tmp');
    for (const f of [staleA, staleB, live, otherTarget, userFile]) writeFileSync(f, 'x');

    const r = await runCli(['embed', '--model', g.dir, '--text', 'Hello world', '--output', out, '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(staleA)).toBe(false);
    expect(existsSync(staleB)).toBe(false);
    expect(readdirSync(work).sort()).toEqual(
      ['notes.tmp', `other.npy.${dead[0]}-0a1b2c3d.tmp`, 'vectors.npy', `vectors.npy.${process.pid}-01234567.tmp`].sort(),
    );
  });
});
