/** The key lists of `--help` texts, rendered from the table declarations so they cannot go stale. */
import { renderKeys, type TableSpec } from './schema.ts';
import { TEACHER_KEYS } from './teacher-table.ts';
import { MATRYOSHKA_KEYS, TRAINING_KEYS } from './training-table.ts';
import { DATASET_KEYS } from '../data/spec.ts';

const aliasesOf = (spec: TableSpec) =>
  Object.entries(spec)
    .filter(([, f]) => f.aliasOf !== undefined)
    .map(([key, f]) => `${key} (= ${f.aliasOf})`);

const ignoredOf = (spec: TableSpec) =>
  Object.entries(spec)
    .filter(([, f]) => f.ignored)
    .map(([key]) => key);

/** `[training]` and its sub-tables, then `[matryoshka]`: one `key  type  doc (default)` line per key. */
export function trainingKeysHelp(): string {
  return [
    '[training] keys (all optional):',
    renderKeys(TRAINING_KEYS),
    `  WordLlama's names are accepted: ${aliasesOf(TRAINING_KEYS).join(', ')}; ignored: ${ignoredOf(TRAINING_KEYS).join(', ')}.`,
    '[training.teacher] (distillation from the USE-lite encoder):',
    renderKeys(TEACHER_KEYS),
    '[[training.datasets]] (one table per data set):',
    renderKeys(DATASET_KEYS),
    '[matryoshka]:',
    renderKeys(MATRYOSHKA_KEYS),
  ].join('\n');
}
