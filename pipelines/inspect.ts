/**
 * `pipeline inspect`: look inside a token-embedding matrix (a config's extracted/concatenated input, or any
 * model `load` reads, or a raw extracted matrix): spectrum, zero and unreachable rows, near-duplicate pairs,
 * nearest tokens. Writes inspect.json; a short summary goes to stderr.
 */
import { openConfigTarget, openModelTarget } from '../src/inspect/open-target.ts';
import { inspectMatrix, summaryLines } from '../src/inspect/inspect.ts';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { UserError } from '../src/util/errors.ts';
import { createProgress, logLine, type Progress } from '../src/util/progress.ts';
import { defineFlags, flagLines, intFlag, numberFlag, parseFlags, type Stage } from './stage.ts';
import { measurementsJson } from '../src/util/json-safe.ts';

const FLAGS = defineFlags({
  config: { value: 'NAME', help: 'the extracted (or concatenated) input matrix of config/<NAME>.toml' },
  'out-dir': { value: 'DIR', help: "the config's weights folder (default weights/<NAME>)" },
  model: { value: 'PATH', help: `a saved model folder or .safetensors, or a raw matrix written by pipeline extract\n(tokenizer.json beside it)` },
  neighbours: {
    value: 'Q ...',
    multiple: true,
    help: 'a token (its own row) or a text (the mean of its token rows); repeat the flag or\nlist several values',
  },
  k: { value: 'N', help: 'neighbours per query (default 10)' },
  duplicates: { value: 'T', help: 'near-duplicate threshold on 1 − cos (default 0.001; 0 skips the pass)' },
  out: { value: 'FILE', help: 'where to write the JSON (default: see above)' },
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

Writes inspect.json (atomically) into weights/<config>/ (--config) or beside the model file (--model), or
to --out; prints a short summary on stderr and the path of inspect.json on stdout.

Options:
${flagLines(FLAGS, 19)}

Example:
  pipeline inspect --config use_lite --neighbours king "good morning"
`;

export const stage: Stage = {
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseFlags('inspect', argv, FLAGS, true);
    if (!values.config === !values.model) throw new UserError('inspect: pass exactly one of --config NAME or --model PATH (see: pipeline inspect --help)');
    // Values after --neighbours that are not flags are more queries: `--neighbours king queen`.
    const queries = [...(values.neighbours ?? []), ...positionals];
    if (positionals.length > 0 && !values.neighbours) throw new UserError(`inspect: unexpected argument "${positionals[0]}" (see: pipeline inspect --help)`);
    const k = intFlag('inspect', 'k', values.k) ?? 10;
    const threshold = numberFlag('inspect', 'duplicates', values.duplicates) ?? 1e-3;
    if (threshold < 0 || threshold >= 2) throw new UserError(`inspect: --duplicates expects a threshold in [0, 2), got "${values.duplicates}"`);
    const quiet = Boolean(values.quiet);
    const target = values.config ? await openConfigTarget(values.config, values['out-dir']) : await openModelTarget(values.model!);
    try {
      const bars = new Map<string, Progress>();
      const report = await inspectMatrix(target, {
        dims: target.dims,
        neighbours: queries,
        k,
        duplicateThreshold: threshold > 0 ? threshold : undefined,
        onStep: (step, done, total) => {
          let bar = bars.get(step);
          if (!bar) bars.set(step, (bar = createProgress(`inspect ${step}`, { unit: step === 'spectrum' ? 'rows' : 'blocks', total, quiet })));
          bar.update(done);
          if (done === total) bar.finish();
        },
      });
      const out = values.out ?? target.defaultOut;
      await writeJsonAtomic(out, report);
      logLine(summaryLines(report).join('\n'), quiet);
      process.stdout.write(values.json ? measurementsJson(report) + '\n' : `${out}\n`);
    } finally {
      await target.matrix.close();
    }
    return 0;
  },
};
