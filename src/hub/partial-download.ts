/**
 * The on-disk half of a resumable range download: `<final>.partial` (the output being filled) and its sidecar
 * `<final>.partial.json` (which chunks are verified, with a fingerprint each, and the identity that decides the bytes).
 * Opening either resumes a partial whose identity and size still match — after re-hashing every recorded chunk — or
 * starts a fresh one; the sidecar is rewritten, throttled, as chunks land.
 */
import { existsSync } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tempPathFor } from '../util/atomic.ts';
import { chunkFingerprint } from './chunk-fingerprint.ts';

export interface ChunkRecord {
  /** f16 overflows in this chunk. */
  o: number;
  /** Fingerprint of the chunk's output bytes as written (chunkFingerprint). */
  h: string;
}

export interface PartialState {
  version: 2;
  identity: Record<string, unknown>;
  done: Record<string, ChunkRecord>;
}

export interface PartialPaths {
  data: string;
  state: string;
}

export const partialPaths = (finalPath: string): PartialPaths => ({ data: `${finalPath}.partial`, state: `${finalPath}.partial.json` });

/**
 * Temp file + rename, without fsync: an fsync here would (on ext4) also force out the partial's dirty data
 * every time. The per-chunk checksums make a stale or lost record harmless.
 */
async function writeStateFile(path: string, state: PartialState): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, JSON.stringify(state));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** JSON with object keys sorted, so two identities compare equal whatever order their keys were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

async function loadState(paths: PartialPaths, identity: Record<string, unknown>, size: number): Promise<PartialState | undefined> {
  if (!existsSync(paths.state) || !existsSync(paths.data)) return undefined;
  try {
    const state = JSON.parse(await readFile(paths.state, 'utf8')) as PartialState;
    if (state.version !== 2 || canonical(state.identity) !== canonical(identity)) return undefined;
    if ((await stat(paths.data)).size !== size) return undefined;
    return state;
  } catch {
    return undefined; // unreadable sidecar: start over rather than trust it
  }
}

/** Where chunk i's output bytes sit in the partial file. */
export interface ChunkPlacement {
  nChunks: number;
  outPos(i: number): number;
  outLen(i: number): number;
}

export interface OpenPartialParams {
  paths: PartialPaths;
  identity: Record<string, unknown>;
  /** Header plus data bytes: the size a resumable partial must have. */
  outSize: number;
  outHeader: Uint8Array;
  placement: ChunkPlacement;
  /** Names the file in the resume message. */
  file: string | undefined;
  onLog?: (message: string) => void;
}

/**
 * Trust nothing unverified: re-hash every recorded chunk from disk and drop those that do not match (a power loss
 * may have dropped unflushed pages). Returns how many were dropped.
 */
async function dropUnverifiedChunks(fh: FileHandle, state: PartialState, placement: ChunkPlacement): Promise<number> {
  let bad = 0;
  const buf = new Uint8Array(placement.outLen(0));
  for (const k of Object.keys(state.done)) {
    const i = Number(k);
    const view = buf.subarray(0, placement.outLen(i));
    const { bytesRead } = await fh.read(view, 0, view.byteLength, placement.outPos(i));
    if (bytesRead !== view.byteLength || chunkFingerprint(view) !== state.done[k]!.h) {
      delete state.done[k];
      bad++;
    }
  }
  return bad;
}

/** The partial file open for writing and its state: resumed when the identity and size match, otherwise fresh. */
export async function openPartial(p: OpenPartialParams): Promise<{ fh: FileHandle; state: PartialState }> {
  const resumed = await loadState(p.paths, p.identity, p.outSize);
  if (resumed) {
    const fh = await open(p.paths.data, 'r+');
    const recorded = Object.keys(resumed.done).length;
    const bad = await dropUnverifiedChunks(fh, resumed, p.placement);
    p.onLog?.(
      `resuming ${p.file}: ${recorded - bad}/${p.placement.nChunks} chunks already verified` +
        (bad > 0 ? ` (${bad} recorded chunks did not match their checksum and will be fetched again)` : ''),
    );
    return { fh, state: resumed };
  }
  await rm(p.paths.state, { force: true });
  await rm(p.paths.data, { force: true });
  const state: PartialState = { version: 2, identity: p.identity, done: {} };
  const fh = await open(p.paths.data, 'w+');
  await fh.write(p.outHeader, 0, p.outHeader.byteLength, 0);
  await fh.truncate(p.outSize);
  await writeStateFile(p.paths.state, state);
  return { fh, state };
}

/**
 * A writer of the sidecar from the live `done` records: calls are serialised and, unless forced, at most one per
 * `everyMs` (the checksums, not fsync, make a record safe to trust, so a lost one costs only a re-download).
 */
export function throttledStateWriter(
  path: string,
  identity: Record<string, unknown>,
  done: PartialState['done'],
  everyMs: number,
): (force: boolean) => Promise<void> {
  let flushing: Promise<void> = Promise.resolve();
  let lastFlush = 0;
  return (force) => {
    const now = Date.now();
    if (!force && now - lastFlush < everyMs) return flushing;
    lastFlush = now;
    const snapshot: PartialState = { version: 2, identity, done: { ...done } };
    flushing = flushing.then(() => writeStateFile(path, snapshot));
    return flushing;
  };
}
