/** Seeded randomness for data sampling: the same seed gives the same records in the same order. */
import { mulberry32 } from '../util/random.ts';

/** The shared mulberry32 PRNG (src/util/random.ts); returns floats in [0, 1). */
export const seededRandom = mulberry32;

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}

/** A stable 32-bit seed from a string (FNV-1a), so each dataset gets its own stream from one run seed. */
export function seedFrom(text: string, seed = 0): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
