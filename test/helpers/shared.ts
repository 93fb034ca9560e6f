/**
 * `../shared` (training data, STS-B, real fixtures) sits beside the repo on developer and CI machines only.
 * Tests that need it use `describeShared`, which skips with a message naming the missing path.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe } from 'vitest';

export const SHARED_DIR = resolve(import.meta.dirname, '..', '..', '..', 'shared');

export function sharedPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}

export function hasShared(...parts: string[]): boolean {
  return existsSync(sharedPath(...parts));
}

/** `describe` that skips (with a visible reason) when `../shared/<parts>` is absent. */
export function describeShared(name: string, parts: string[], fn: () => void): void {
  if (hasShared(...parts)) {
    describe(name, fn);
  } else {
    describe.skip(`${name} [skipped: ${sharedPath(...parts)} is absent; these tests need ../shared beside the repo]`, fn);
  }
}
