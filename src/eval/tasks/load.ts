/** `--task KIND=FILE[,FILE]` specs and reading their files from disk (Node side of task parsing). */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { parseCluster, parseLabelled, parsePair, parseRanking, parseSts } from './parse.ts';
import { TASK_KINDS, type TaskData, type TaskKind, type TaskSpec } from './types.ts';

/** Parse one `KIND=FILE[,FILE]` (clf takes TRAIN,TEST; every other kind one file). */
export function parseTaskSpec(spec: string): TaskSpec {
  const eq = spec.indexOf('=');
  const kind = (eq < 0 ? spec : spec.slice(0, eq)).trim() as TaskKind;
  if (eq < 0 || !TASK_KINDS.includes(kind)) {
    throw new UserError(`eval: --task "${spec}" must be KIND=FILE with KIND one of ${TASK_KINDS.join(', ')} (e.g. sts=dev.tsv, clf=train.tsv,test.tsv)`);
  }
  const files = spec
    .slice(eq + 1)
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  const want = kind === 'clf' ? 2 : 1;
  if (files.length !== want) {
    throw new UserError(`eval: --task ${kind}= takes ${kind === 'clf' ? 'TRAIN,TEST (two files)' : 'one file'}, got ${files.length} in "${spec}"`);
  }
  const main = files[files.length - 1]!;
  return { name: basename(main, extname(main)), kind, files };
}

function readTaskFile(file: string): string {
  if (!existsSync(file)) throw new UserError(`${file}: task file not found`);
  if (!statSync(file).isFile()) throw new UserError(`${file}: is not a file`);
  return readFileSync(file, 'utf8');
}

export function loadTask(spec: TaskSpec): TaskData {
  const [first, second] = spec.files as [string, string | undefined];
  switch (spec.kind) {
    case 'sts':
      return parseSts(first, readTaskFile(first));
    case 'pair':
      return parsePair(first, readTaskFile(first));
    case 'cluster':
      return parseCluster(first, readTaskFile(first));
    case 'retrieval':
    case 'rerank':
      return parseRanking(first, readTaskFile(first), spec.kind);
    case 'clf': {
      const train = parseLabelled(first, readTaskFile(first));
      const test = parseLabelled(second!, readTaskFile(second!));
      if (new Set(train.label).size < 2) throw new UserError(`${first}: classification training data needs at least 2 distinct labels`);
      return { kind: 'clf', train, test };
    }
  }
}
