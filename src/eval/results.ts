/**
 * The results file `eval.json` (written next to the model, read by `pipeline report`) and the terminal
 * table. Format:
 *   { "version": 1, "model": path, "created": ISO time, "seconds": wall time,
 *     "tasks":  [{ "name", "kind", "files": [...] }],
 *     "models": [{ "name", "path", "dim", "dims": [...], "seconds" }],   // evaluated model first, baselines after
 *     "results": [{ "model", "task", "kind", "file", "dim", "binary", "metric", "score", "main" }] }
 * Scores are fractions; NaN (undefined metric, e.g. constant similarities) is written as null.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../util/errors.ts';
import type { EvalResult } from './run-task.ts';
import type { TaskKind, TaskSpec } from './tasks/types.ts';

export interface EvaluatedModel {
  name: string;
  path: string;
  dim: number;
  dims: number[];
  seconds: number;
}

export interface EvalFile {
  version: 1;
  model: string;
  created: string;
  seconds: number;
  tasks: TaskSpec[];
  models: EvaluatedModel[];
  results: (Omit<EvalResult, 'score'> & { score: number | null })[];
}

export function toEvalFile(model: string, tasks: TaskSpec[], models: EvaluatedModel[], results: EvalResult[], seconds: number): EvalFile {
  return {
    version: 1,
    model,
    created: new Date().toISOString(),
    seconds: Math.round(seconds * 1000) / 1000,
    tasks,
    models,
    results: results.map((r) => ({ ...r, score: Number.isFinite(r.score) ? r.score : null })),
  };
}

/** Read and sanity-check an eval.json (for the report). */
export function readEvalFile(path: string): EvalFile | undefined {
  if (!existsSync(path)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message}); re-run pipeline eval`);
  }
  const f = v as Partial<EvalFile>;
  if (!f || typeof f !== 'object' || !Array.isArray(f.results)) throw new UserError(`${path}: no "results" list; is this an eval.json from pipeline eval?`);
  f.results.forEach((r, i) => {
    if (
      typeof r?.model !== 'string' ||
      typeof r.task !== 'string' ||
      typeof r.metric !== 'string' ||
      !Number.isInteger(r.dim) ||
      typeof r.binary !== 'boolean'
    ) {
      throw new UserError(`${path}: results[${i}] lacks model/task/metric/dim/binary; re-run pipeline eval`);
    }
  });
  return { version: 1, model: '', created: '', seconds: 0, tasks: [], models: [], ...f } as EvalFile;
}

/** One score as the table shows it: 4 decimals, "n/a" for undefined. */
export function fmtScore(score: number | null | undefined): string {
  return score === null || score === undefined || !Number.isFinite(score) ? 'n/a' : score.toFixed(4);
}

/**
 * Text table: one block per task, rows = (metric, model, dim), columns dense | binary.
 * The evaluated model comes first, then baselines in the order given.
 */
export function formatTable(results: readonly (Omit<EvalResult, 'score'> & { score: number | null })[]): string {
  const out: string[] = [];
  const tasks = [...new Map(results.map((r) => [`${r.task}\u0000${r.kind}\u0000${r.file}`, r])).values()];
  for (const t of tasks) {
    const rs = results.filter((r) => r.task === t.task && r.kind === t.kind && r.file === t.file);
    out.push(`${t.kind} ${t.task} (${t.file})`);
    const rows: string[][] = [['metric', 'model', 'dim', 'dense', 'binary']];
    const metrics = [...new Set(rs.filter((r) => r.main).map((r) => r.metric)), ...new Set(rs.filter((r) => !r.main).map((r) => r.metric))];
    for (const metric of [...new Set(metrics)]) {
      const keys = [...new Map(rs.filter((r) => r.metric === metric).map((r) => [`${r.model}\u0000${r.dim}`, r])).values()];
      for (const k of keys) {
        const cell = (binary: boolean) => {
          const hit = rs.find((r) => r.metric === metric && r.model === k.model && r.dim === k.dim && r.binary === binary);
          return hit ? fmtScore(hit.score) : '-';
        };
        rows.push([metric, k.model, String(k.dim), cell(false), cell(true)]);
      }
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) out.push('  ' + r.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  '));
    out.push('');
  }
  return out.join('\n');
}

export const MAIN_METRIC: Record<TaskKind, string> = {
  sts: 'spearman',
  pair: 'ap',
  clf: 'accuracy',
  cluster: 'v_measure',
  retrieval: 'ndcg@10',
  rerank: 'map',
};

/**
 * `--merge`: fold a new run into an earlier eval.json. Every (model, task kind, file) pair evaluated now
 * replaces its old rows; rows of other models or tasks are kept, so baselines or tasks evaluated in separate
 * runs end up side by side in one file (and one report).
 */
export function mergeEvalFiles(old: EvalFile, fresh: EvalFile): EvalFile {
  const key = (r: { model: string; kind: string; file: string }) => `${r.model}\u0000${r.kind}\u0000${r.file}`;
  const replaced = new Set(fresh.results.map(key));
  const freshModels = new Set(fresh.models.map((m) => m.name));
  const taskKey = (t: TaskSpec) => `${t.kind}\u0000${t.files.join(',')}`;
  const freshTasks = new Set(fresh.tasks.map(taskKey));
  return {
    ...fresh,
    tasks: [...old.tasks.filter((t) => !freshTasks.has(taskKey(t))), ...fresh.tasks],
    models: [...old.models.filter((m) => !freshModels.has(m.name)), ...fresh.models],
    results: [...old.results.filter((r) => !replaced.has(key(r))), ...fresh.results],
  };
}
