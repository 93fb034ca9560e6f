/**
 * `pipeline report`: write a self-contained report.html (inline CSS + SVG, no network) into the model folder
 * from what earlier stages left there: eval.json, metrics.jsonl, extract.json, config.json.
 */
import { collectReportData } from '../src/eval/report/collect.ts';
import { renderReport } from '../src/eval/report/html.ts';
import { writeFileAtomic } from '../src/util/atomic.ts';
import { errorMessage, UserError } from '../src/util/errors.ts';
import { logLine } from '../src/util/progress.ts';
import { defineFlags, flagLines, parseFlags, type Stage } from './stage.ts';
import { reportPath } from '../src/layout/weights-dir.ts';
import { measurementsJson } from '../src/util/json-safe.ts';

const FLAGS = defineFlags({
  model: { value: 'PATH', help: `saved model folder (or its config name) or one of its .safetensors files (anything\npipeline eval accepts)` },
  out: { value: 'FILE', help: 'where to write (default <model folder>/report.html)' },
  json: { help: 'print {"report": path, "sections": [...]} on stdout' },
  quiet: { help: 'no message on stderr' },
});

const HELP = `usage: pipeline report --model PATH [--out FILE] [--json] [--quiet]

Write report.html into the model folder: a self-contained page (inline SVG and CSS; no scripts, fonts or
network) with whatever data exists — sections without data are left out:
  - scores: side-by-side table of the model at each width (dense, binary) and the baselines, and score vs
    dimension charts                                   (from eval.json, written by pipeline eval)
  - training curves: loss and dev Spearman per dimension over steps
                                                       (metrics.jsonl in the model folder or up to two levels up)
  - model size at each width: vocabulary × dim × 2 bytes (f16), sentence vector bytes and binary code bits
  - extraction facts: bytes downloaded vs shard bytes per source   (extract.json, same places as metrics.jsonl)
  - a link to inspect.html (pipeline inspect's page)                (same places as metrics.jsonl)

${flagLines(FLAGS, 13)}

example:
  pipeline eval --model weights/use_lite --task sts=stsb/dev.tsv --raw use_lite
  pipeline report --model weights/use_lite      # → weights/use_lite/report.html
`;

export const stage: Stage = {
  help: HELP,
  async run(argv) {
    const { values: v } = parseFlags('report', argv, FLAGS);
    if (!v.model) throw new UserError('report: --model PATH is required (see: pipeline report --help)');
    const data = await collectReportData(v.model);
    const out = v.out ?? reportPath(data.dir);
    try {
      await writeFileAtomic(out, renderReport(data));
    } catch (err) {
      throw new UserError(`report: cannot write ${out} (${errorMessage(err)}); pass --out FILE somewhere writable`);
    }
    const sections = [
      ...(data.eval && data.eval.results.length ? ['scores'] : []),
      ...(data.train.length || data.dev.length ? ['training'] : []),
      'size',
      ...(data.extract?.length ? ['extraction'] : []),
      ...(data.inspectHtml ? ['inspect'] : []),
    ];
    if (v.json) process.stdout.write(measurementsJson({ report: out, sections }) + '\n');
    logLine(`report: ${out} (${sections.join(', ')})`, Boolean(v.quiet));
    return 0;
  },
};
