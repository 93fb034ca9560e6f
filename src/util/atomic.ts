import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { measurementsJson } from './json-safe.ts';

/**
 * Outputs appear atomically: everything is written to `<path>.<pid>-<random>.tmp` beside the target and renamed
 * into place only when complete, so an interrupted run never leaves a file that looks finished. The pid in the
 * name tells whose temp it is: a killed run's temps (up to a whole matrix each) are removed by the next writer of
 * the same target, while those of a live process are left alone.
 */
export function tempPathFor(path: string): string {
  removeStaleTemps(path);
  return `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Remove `<path>.<pid>-<hex>.tmp` files beside `path` whose process is gone; anything else is kept. */
function removeStaleTemps(path: string): void {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return; // no folder yet: nothing stale in it
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processIsAlive(pid)) rmSync(join(dirname(path), name), { force: true });
  }
}

/** Write a whole file atomically (small files: JSON, tokenizer, README). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** JSON with a trailing newline, written atomically; NaN/±Inf become null (json-safe.ts: results files hold measurements). */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, measurementsJson(value, 2) + '\n');
}
