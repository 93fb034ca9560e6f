/**
 * `pipeline inspect`: look inside a token-embedding matrix (a config's extracted/concatenated input, or any
 * model `load` reads, or a raw extracted matrix): spectrum, zero and unreachable rows, near-duplicate pairs,
 * nearest tokens. Writes inspect.json; a short summary goes to stderr.
 */
import { loadConfig } from '../src/config/load.ts';
import { hubClientFromEnv } from '../src/hub/client.ts';
import { anatomyLines, configAnatomy } from '../src/inspect/anatomy.ts';
import { openConfigTarget, openModelTarget, openSourceOfModel, type OpenedTarget } from '../src/inspect/open-target.ts';
import { inspectMatrix, summaryLines, type InspectOptions, type InspectReport } from '../src/inspect/inspect.ts';
import { renderInspect } from '../src/inspect/html.ts';
import { inspectHtmlPath } from '../src/layout/weights-dir.ts';
import { INSPECT_FILE } from '../src/layout/file-names.ts';
import { resolveModelArg } from '../src/hub/cache/resolve.ts';
import { loadTask, parseTaskSpec } from '../src/eval/tasks/load.ts';
import { writeFileAtomic, writeJsonAtomic } from '../src/util/atomic.ts';
import { errorMessage, UserError } from '../src/util/errors.ts';
import { createProgress, logLine, type Progress } from '../src/util/progress.ts';
import { dirname } from 'node:path';
import { defineFlags, flagLines, intFlag, numberFlag, parseFlags, type Stage } from './stage.ts';
import { measurementsJson } from '../src/util/json-safe.ts';

const FLAGS = defineFlags({
  config: {
    value: 'NAME',
    help: `the extracted (or concatenated) input matrix of config/<NAME>.toml; for hub sources\nthe report adds the checkpoint's anatomy (embedding vs whole-checkpoint parameters\nand bytes, tied or untied output head, dtype, each source's share of the width),\nread from the shard index and safetensors headers only (HTTP range requests)`,
  },
  anatomy: {
    help: `with --config: only the anatomy, before anything is extracted (nothing downloaded\nbut headers); prints it, JSON on stdout with --json, writes no file`,
  },
  'out-dir': { value: 'DIR', help: "the config's weights folder (default weights/<NAME>)" },
  model: {
    value: 'PATH',
    help: `a saved model folder or .safetensors, or a raw matrix written by pipeline extract\n(tokenizer.json beside it); a pipeline save folder (weights/NAME) is shown beside\nthe source matrix it was trained from (NAME's extracted input in the same folder):\ninspect.html puts both side by side, inspect.json holds it as "compared_with"; or a hub id
(org/name[@rev], downloaded into the huggingface_hub cache as for pipeline embed; the
report then goes to ./inspect.json unless --out says where)`,
  },
  neighbours: {
    value: 'Q ...',
    multiple: true,
    help: 'a token (its own row) or a text (the mean of its token rows); repeat the flag or\nlist several values',
  },
  task: {
    value: 'KIND=FILE',
    multiple: true,
    help: `repeatable; the task files of pipeline eval (see pipeline eval --help): scores the\nmean-pooled raw rows, the PCA-projected rows and a seeded random projection at each\nMatryoshka dim, and with --model weights/NAME the trained model too, in one table`,
  },
  k: { value: 'N', help: 'neighbours per query (default 10)' },
  duplicates: { value: 'T', help: 'near-duplicate threshold on 1 − cos (default 0.001; 0 skips the pass)' },
  out: { value: 'FILE', help: 'where to write the JSON (default: see above); inspect.html goes in the same folder' },
  json: { help: 'print the whole report as JSON on stdout instead of the path' },
  quiet: { help: 'no progress or summary on stderr' },
});

const HELP = `pipeline inspect (--config NAME | --model PATH) [options]

Look inside a token-embedding matrix before (or after) training, streaming it by row blocks:
  spectrum         singular values of the matrix, plain and column-centred (eigenvalues of the dim × dim
                   Gram matrix), effective rank, and the variance the first k principal components hold for
                   each Matryoshka dim
  rows             row-norm range, all-zero rows, rows the tokenizer never reaches (ids beyond its
                   vocabulary, special tokens)
  near-duplicates  exact count of row pairs with 1 − cos ≤ T, closest pairs as examples (compares every
                   pair: O(rows² · dim); skip it on large vocabularies with --duplicates 0)
  neighbours       with --neighbours, the nearest rows (cosine, exact over the whole vocabulary)
  map              a 2-D PCA scatter of a sample of tokens coloured by kind (letters, digits, punctuation,
                   whitespace, byte tokens, special tokens, CJK, other scripts), and row norms by kind
  baselines        PCA truncation vs a seeded random projection per Matryoshka dim (reconstruction error)

Writes inspect.json and inspect.html (a self-contained page: inline SVG charts, no scripts or network; linked
from report.html) atomically into weights/<config>/ (--config) or beside the model file (--model), or to
--out and beside it; prints a short summary on stderr and the path of inspect.json on stdout.

Options:
${flagLines(FLAGS, 19)}

Example:
  pipeline inspect --config use_lite --neighbours king "good morning"
`;

type InspectFlagValues = ReturnType<typeof parseInspectFlags>['values'];

function parseInspectFlags(argv: string[]) {
  return parseFlags('inspect', argv, FLAGS, true);
}

/** --anatomy: the config's checkpoint anatomy from the hub's headers alone, printed (JSON with --json); no file. */
async function printAnatomy(values: InspectFlagValues, quiet: boolean): Promise<void> {
  if (!values.config) throw new UserError('inspect: --anatomy needs --config NAME (a config with hub sources)');
  const config = loadConfig(values.config);
  const anatomy = await configAnatomy(config, hubClientFromEnv());
  if (!anatomy) throw new UserError(`inspect: config ${config.name} has no hub source (hf_model_id); --anatomy reads hub checkpoints`);
  logLine(anatomyLines(anatomy).join('\n'), quiet);
  if (values.json) process.stdout.write(JSON.stringify({ anatomy }) + '\n');
}

type EvalOptions = Pick<InspectOptions, 'tasks' | 'trainedModel'>;

/** The inspection options of one matrix (`label` prefixes its progress bars: '' or 'source '). */
type OptionsFor = (t: OpenedTarget, label: string, evalOpts?: EvalOptions) => InspectOptions;

function inspectOptions(values: InspectFlagValues, queries: string[], quiet: boolean): OptionsFor {
  const k = intFlag('inspect', 'k', values.k) ?? 10;
  const threshold = numberFlag('inspect', 'duplicates', values.duplicates) ?? 1e-3;
  if (threshold < 0 || threshold >= 2) throw new UserError(`inspect: --duplicates expects a threshold in [0, 2), got "${values.duplicates}"`);
  const bars = new Map<string, Progress>();
  return (t, label, evalOpts = {}) => ({
    ...evalOpts,
    dims: t.dims,
    neighbours: queries,
    k,
    duplicateThreshold: threshold > 0 ? threshold : undefined,
    onStep: (step, done, total) => {
      const key = `${label}${step}`;
      let bar = bars.get(key);
      if (!bar) bars.set(key, (bar = createProgress(`inspect ${label}${step}`, { unit: step === 'spectrum' ? 'rows' : 'blocks', total, quiet })));
      bar.update(done);
      if (done === total) bar.finish();
    },
  });
}

/** A config's report adds its checkpoint anatomy; a hub that cannot be reached only costs that table. */
async function addAnatomy(report: InspectReport, configName: string, quiet: boolean): Promise<void> {
  const config = loadConfig(configName);
  try {
    report.anatomy = await configAnatomy(config, hubClientFromEnv());
  } catch (err) {
    logLine(`inspect: anatomy skipped (${errorMessage(err)})`, quiet);
  }
}

/**
 * A trained model is shown beside the matrix it was trained from, when that is in its folder: inspect the source
 * (with the baselines table, which belongs to the page of the model asked for) and add its page.
 */
async function compareWithSource(
  report: InspectReport,
  source: OpenedTarget | string | undefined,
  p: { optionsFor: OptionsFor; tasks: EvalOptions['tasks']; modelPath: string; quiet: boolean },
) {
  if (typeof source === 'string' || !source) {
    logLine(`inspect: no source matrix to compare with (${source})`, p.quiet);
    return undefined;
  }
  try {
    report.compared_with = await inspectMatrix(source, p.optionsFor(source, 'source ', { tasks: p.tasks, trainedModel: p.modelPath }));
    report.eval = report.compared_with.eval;
    delete report.compared_with.eval;
    return { name: 'source matrix', report: report.compared_with };
  } finally {
    await source.matrix.close();
  }
}

export const stage: Stage = {
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseInspectFlags(argv);
    if (!values.config === !values.model) throw new UserError('inspect: pass exactly one of --config NAME or --model PATH (see: pipeline inspect --help)');
    // Values after --neighbours that are not flags are more queries: `--neighbours king queen`.
    const queries = [...(values.neighbours ?? []), ...positionals];
    if (positionals.length > 0 && !values.neighbours) throw new UserError(`inspect: unexpected argument "${positionals[0]}" (see: pipeline inspect --help)`);
    const quiet = Boolean(values.quiet);
    const optionsFor = inspectOptions(values, queries, quiet);
    if (values.anatomy) {
      await printAnatomy(values, quiet);
      return 0;
    }
    // A hub id is downloaded into the huggingface_hub cache like every --model; its report then goes to the
    // working folder (the cache is shared with Python tools and is no place for our files).
    const modelPath = values.model === undefined ? undefined : await resolveModelArg(values.model);
    const fromHub = modelPath !== undefined && modelPath !== values.model;
    const target = values.config ? await openConfigTarget(values.config, values['out-dir']) : await openModelTarget(modelPath!);
    // Task files are parsed before any matrix work, so a bad file fails fast (pipeline eval's own parser).
    const tasks = (values.task ?? []).map((t) => {
      const spec = parseTaskSpec(t);
      return { spec, data: loadTask(spec) };
    });
    try {
      // With --task, the baselines run on the raw matrix: the target itself, or a trained model's source (below).
      const source = values.model ? await openSourceOfModel(modelPath!) : undefined;
      const own = values.model && typeof source !== 'string' ? {} : { tasks };
      const report = await inspectMatrix(target, optionsFor(target, '', own));
      if (values.config) await addAnatomy(report, values.config, quiet);
      const pages = [{ name: values.model ? 'trained model' : report.matrix, report }];
      if (values.model) {
        const sourcePage = await compareWithSource(report, source, { optionsFor, tasks, modelPath: modelPath!, quiet });
        if (sourcePage) pages.push(sourcePage);
      }
      const out = values.out ?? (fromHub ? INSPECT_FILE : target.defaultOut);
      await writeJsonAtomic(out, report);
      await writeFileAtomic(inspectHtmlPath(dirname(out)), renderInspect(pages));
      logLine(summaryLines(report).join('\n'), quiet);
      if (report.compared_with) logLine(['source matrix:', ...summaryLines(report.compared_with)].join('\n'), quiet);
      process.stdout.write(values.json ? measurementsJson(report) + '\n' : `${out}\n`);
    } finally {
      await target.matrix.close();
    }
    return 0;
  },
};
