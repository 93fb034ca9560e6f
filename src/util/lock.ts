/**
 * One stage at a time per weights folder. Two runs writing one folder interleave their outputs (metrics from one,
 * checkpoints from the other) or race on the same renames, so each writing stage holds `<folder>/.pipeline.lock`
 * for as long as it runs. The lock records the holder's pid and its process start time; a lock whose holder is gone
 * (killed, crashed, or its pid reused by an unrelated process) is taken over instead of blocking forever.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE } from '../layout/file-names.ts';
import { tempPathFor } from './atomic.ts';
import { UserError } from './errors.ts';

interface LockRecord {
  pid: number;
  stage: string;
  /** Start time of the holder in clock ticks since boot (/proc), to tell a live holder from a reused pid. */
  start_ticks?: number;
  started_at: string;
}

/** A process's start time in clock ticks since boot, where /proc has it (Linux). */
function startTicks(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

function holderIsAlive(rec: LockRecord): boolean {
  if (rec.pid === process.pid) return true;
  try {
    process.kill(rec.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const now = startTicks(rec.pid);
  return rec.start_ticks === undefined || now === undefined || now === rec.start_ticks;
}

function readRecord(path: string): LockRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockRecord;
  } catch {
    return undefined; // vanished, or not ours: treated as absent / stale below
  }
}

/**
 * Take the lock of `dir` for `stage`, or fail with one line naming the holder. Returns the release function
 * (idempotent; also run at process exit, so a normal exit never leaves the lock behind).
 */
export function lockFolder(dir: string, stage: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine: LockRecord = { pid: process.pid, stage, start_ticks: startTicks('self'), started_at: new Date().toISOString() };
  const tmp = tempPathFor(path);
  writeFileSync(tmp, JSON.stringify(mine) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path); // atomic: fails with EEXIST while anyone holds the lock
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
      }
      const held = readRecord(path);
      if (held && held.pid !== process.pid && holderIsAlive(held)) {
        throw new UserError(
          `${dir} is in use by pipeline ${held.stage} (pid ${held.pid}, since ${held.started_at}); wait for it to finish or stop it, then run again`,
          1,
        );
      }
      if (held?.pid === process.pid) return () => {}; // this process holds it already (a stage inside a stage)
      // Stale: move it aside under a name of our own, so two processes recovering at once cannot both win.
      const aside = `${path}.${process.pid}.stale`;
      try {
        renameSync(path, aside);
        const moved = readRecord(aside);
        // Another process took it over between our read and our rename: give its live lock back.
        if (moved && (moved.pid !== held?.pid || moved.start_ticks !== held?.start_ticks)) linkSync(aside, path);
        rmSync(aside, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (readRecord(path)?.pid === process.pid) {
      try {
        unlinkSync(path);
      } catch {
        // already gone: nothing to release
      }
    }
  };
  process.on('exit', release);
  return release;
}
