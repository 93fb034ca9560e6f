/**
 * `pipeline concat`: join the extracted matrices of a config's `[[sources]]` (same tokenizer) into one
 * input, described by weights/<config>/concat.json (optionally also one materialized safetensors).
 */
import { loadConfig, outputDirFor } from '../src/config/load.ts';
import { concatIsCurrent, runConcat } from '../src/concat/concat.ts';
import { parseFloatDType } from '../src/safetensors/dtype.ts';
import { UserError } from '../src/util/errors.ts';
import { lockFolder } from '../src/util/lock.ts';
import { claimOutputFolder } from '../src/layout/ownership.ts';
import { formatDuration } from '../src/util/progress.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';

const FLAGS = defineFlags({
  config: { value: 'NAME|PATH', help: 'model config (required): a name in config/ or a path to a .toml file' },
  'out-dir': { value: 'DIR', help: 'folder with the extracted sources and for the outputs (default: weights/NAME)' },
  materialize: {
    help: `also write weights/NAME/concat.safetensors (tensor "embedding" [n_vocab, dim]),\nstreamed block by block; training then reads that one file`,
  },
  dtype: { value: 'f16|f32|bf16', help: "dtype of the materialized file (default: the first source's dtype)" },
  'block-rows': { value: 'N', help: 'rows per streamed block (default: about 8M values per block, at most 4096 rows)' },
  force: { help: `run even when concat.json is current; also write into a folder holding files\nthe pipeline did not write (refused otherwise)` },
  quiet: { help: 'no progress lines' },
  json: { help: 'print the descriptor on stdout' },
});

const help = `pipeline concat --config NAME [options]

Join the extracted matrices of the [[sources]] of config/NAME.toml (e.g. gemma2_supercat: Gemma-2 2B + 9B + 27B,
256000 × (2304 + 3584 + 4608)) side by side. Reads weights/NAME/<source>.safetensors (from pipeline extract),
writes weights/NAME/concat.json:
  {rows, dim, sources: [{file, tensor, dim, scale, mean_row_norm, scale_mode, source_rows, bytes, mtime_ms}],
   tokenizer_fingerprint}
Training and save read the concatenation through this descriptor by row blocks (the sources are never copied
into one array, so results beyond 2^31 values work). Single-source configs need no concat: train reads the
one extracted file directly.

Checks:
  - the sources' tokenizers are identical (vocabulary, merges/pieces, added tokens, normalizer,
    pre-tokenizer); otherwise it stops and names the first differing token, merge or setting
  - every source has the dim the config says and at least n_vocab rows; rows beyond n_vocab (padded
    checkpoints) are dropped only when the source sets drop_extra_rows = true
Scaling (per [[sources]] entry, recorded in concat.json):
  scale = 0.5             multiply that source's rows by 0.5
  scale_mode = "mean_norm" scale that source so its mean row norm equals the average of all sources'
                          mean row norms (set it on every source for equal mean norms)
Mean row norms are measured for every source in one streaming pass and recorded.

Options:
${flagLines(FLAGS)}

Exit codes: 0 done, 2 bad config/input (one line naming the file and the fix).`;

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseFlags('concat', argv, FLAGS);
    if (!values.config) throw new UserError('concat: --config NAME is required (see: pipeline concat --help)');
    let dtype;
    if (values.dtype !== undefined) {
      dtype = parseFloatDType(values.dtype);
      if (!dtype) throw new UserError(`concat: --dtype expects f16, f32 or bf16, got "${values.dtype}"`);
    }
    const config = loadConfig(values.config);
    const outDir = outputDirFor(config, values['out-dir']);
    const quiet = Boolean(values.quiet);
    if (!values.force && !values.materialize && concatIsCurrent(config, outDir)) {
      if (!quiet) process.stderr.write(`concat: ${outDir}/concat.json is current (use --force to redo)\n`);
      if (values.json) {
        const { readConcatDescriptor } = await import('../src/concat/descriptor.ts');
        process.stdout.write(JSON.stringify(readConcatDescriptor(`${outDir}/concat.json`), null, 2) + '\n');
      }
      return 0;
    }
    // A single-source config has nothing to write: runConcat refuses it with its own message first.
    if (config.sources.length > 1) claimOutputFolder(outDir, 'weights', Boolean(values.force));
    const release = lockFolder(outDir, 'concat');
    const res = await runConcat({
      config,
      outDir,
      materialize: Boolean(values.materialize),
      dtype,
      blockRows: intFlag('concat', 'block-rows', values['block-rows']),
      quiet,
    }).finally(release);
    if (!quiet) {
      const d = res.descriptor;
      process.stderr.write(`concat: ${d.sources.length} sources → ${d.rows} × ${d.dim} in ${formatDuration(res.seconds)}\n`);
      for (const s of d.sources) {
        process.stderr.write(`  ${s.file}: dim ${s.dim}, mean row norm ${s.mean_row_norm.toFixed(4)}, scale ${s.scale.toFixed(4)} (${s.scale_mode})\n`);
      }
      process.stderr.write(`wrote ${res.path}${res.materialized ? ` and ${res.materialized}` : ''}\n`);
    }
    if (values.json) process.stdout.write(JSON.stringify(res.descriptor, null, 2) + '\n');
    return 0;
  },
};
