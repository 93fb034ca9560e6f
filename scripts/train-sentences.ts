/**
 * The benchmarks' real unseen text: the distinct sentences of ../shared/data/train (every string field of every
 * .jsonl line, without line breaks), in a seeded shuffle so that any prefix mixes the datasets. The same
 * selection and order as scripts/bench-embed-threads.ts uses, so their numbers are over the same sentences.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { mulberry32 } from '../src/util/random.ts';

export const SHARED = resolve(import.meta.dirname, '..', '..', 'shared');

/** All distinct training sentences, shuffled (seed 11); throws when fewer than `atLeast` or ../shared is absent. */
export function trainSentences(atLeast = 0): string[] {
  const dir = join(SHARED, 'data', 'train');
  if (!existsSync(dir)) throw new Error(`${dir} is absent: this benchmark needs ../shared (training sentences)`);
  const seen = new Set<string>();
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      for (const v of Object.values(JSON.parse(line) as Record<string, unknown>)) {
        if (typeof v === 'string' && v.length > 0 && !/[\r\n]/.test(v)) seen.add(v);
      }
    }
  }
  const all = [...seen];
  const r = mulberry32(11);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  if (all.length < atLeast) throw new Error(`only ${all.length} distinct sentences in ${dir}`);
  return all;
}
