/**
 * `pipeline save`: turn the trained checkpoint into the compact model: the whole vocabulary projected, one F16 (or F32)
 * `<config>_<dim>.safetensors` per Matryoshka dim, with tokenizer.json, config.json and README.md beside.
 */
import { resolve } from 'node:path';
import { loadConfig, outputDirFor } from '../src/config/load.ts';
import { runSave } from '../src/save/save.ts';
import type { SavedDtype } from '../src/layout/saved-config.ts';
import { UserError } from '../src/util/errors.ts';
import { lockFolder } from '../src/util/lock.ts';
import { claimOutputFolder } from '../src/layout/ownership.ts';
import { parseDimList } from '../src/util/dims.ts';
import { formatBytes, formatDuration, logLine } from '../src/util/progress.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';

/** save's flags; run passes `dims` on. */
export const SAVE_FLAGS = defineFlags({
  config: { value: 'NAME|PATH', help: 'model config (required): a name in config/ or a path to a .toml file' },
  dims: {
    value: '256,128,64',
    help: `dims to write (default: [save] dims in the config, else the trained Matryoshka dims);\neach must be ≤ the projection width`,
  },
  checkpoint: { value: 'best|last|PATH', help: 'which checkpoint (default best; PATH = a checkpoint folder or model.safetensors)' },
  'out-dir': { value: 'DIR', help: 'weights folder with checkpoints/ and the extracted inputs (default: weights/NAME)' },
  'save-dir': { value: 'DIR', help: 'write the model files here instead of the weights folder' },
  dtype: {
    value: 'f16|f32|int8',
    help: `storage type of the rows (default f16; f32 is exact and twice the size; int8 is half\nof f16: each file's codes share one step (largest |value| / 127, model2vec's rule),\nkept in config.json's "scales" {dim: step} and multiplied back by load(), so\nembeddings keep their lengths; it projects the vocabulary twice (ranges, then codes);\nWordLlama's own loader reads float rows only)`,
  },
  'block-rows': { value: 'N', help: 'vocabulary rows projected per block (default: about 4M values per block)' },
  force: {
    help: `write into a folder (--out-dir, --save-dir) holding files the pipeline did not\nwrite (refused otherwise: config.json and README.md of someone else are never replaced)`,
  },
  backend: {
    value: 'B',
    help: `projection engine: auto (default: TF.js tfjs-node, else wasm SIMD; the plain JS\nloop when only the cpu backend loads) | node | wasm | cpu | js (plain JS loop,\nfloat64 accumulation)`,
  },
  quiet: { help: 'no progress lines' },
  json: { help: 'print a JSON summary (files, sizes, step) on stdout' },
});

const help = `pipeline save --config NAME [options]

Project the whole vocabulary through the trained model and write, per dim, into weights/NAME/:
  NAME_<dim>.safetensors   tensor "embedding.weight" F16 (or F32 / I8, --dtype) [n_vocab, dim] (WordLlama's layout):
                           row_t = gelu(w_t)·E_t·W + b truncated to <dim>, so the mean of a sentence's rows
                           is the trained model's pooled vector (before L2 normalisation)
  tokenizer.json           the tokenizer (copied when saving elsewhere than the weights folder)
  config.json              {model_type: "wordllama-ts", name, dims, dim (when one), files, n_vocab, pad_token,
                           pad_token_id, binarized, normalize: true, dtype, scales (int8), max_length, source: {provenance,
                           checkpoint, step, training settings}, eval: [{file, dim, binary, spearman}]}
  README.md                a model card (files, usage, provenance, scores)
Load with the library (load('weights/NAME', { dim: 128 })) or pipeline embed/similarity/eval --model weights/NAME.
An existing config.json of the source model (left by extract) is kept as source_config.json.
Reads: weights/NAME/checkpoints/best/model.safetensors (pipeline train), the input matrix (the extracted source,
or concat.json for several sources) and tokenizer.json. The vocabulary is read and projected in row blocks
(never the whole matrix in memory); all dims are written in one pass; files appear only when complete.

Options:
${flagLines(SAVE_FLAGS, 20)}

Exit codes: 0 done, 2 bad config/input (one line naming the file and the fix).`;

/** `--dims` of save (and of run, which passes it on to save). */
export function parseDims(value: string | undefined): number[] | undefined {
  return value === undefined ? undefined : parseDimList(value, 'save: --dims');
}

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseFlags('save', argv, SAVE_FLAGS);
    if (!values.config) throw new UserError('save: --config NAME is required (see: pipeline save --help)');
    if (values.dtype !== undefined && !['f16', 'f32', 'int8'].includes(values.dtype)) {
      throw new UserError(`save: --dtype "${values.dtype}" is not one of f16, f32, int8`);
    }
    const config = loadConfig(values.config);
    const outDir = outputDirFor(config, values['out-dir']);
    if (values['save-dir'] !== undefined) claimOutputFolder(resolve(values['save-dir']), 'weights', Boolean(values.force), '--save-dir');
    else claimOutputFolder(outDir, 'weights', Boolean(values.force));
    const release = lockFolder(outDir, 'save');
    const res = await runSave({
      config,
      outDir,
      saveDir: values['save-dir'],
      dims: parseDims(values.dims),
      checkpoint: values.checkpoint,
      blockRows: intFlag('save', 'block-rows', values['block-rows']),
      dtype: values.dtype as SavedDtype | undefined,
      backend: values.backend,
      quiet: Boolean(values.quiet),
      log: (m) => logLine(m, Boolean(values.quiet)),
    }).finally(release);
    if (!values.quiet) {
      for (const f of res.files) process.stderr.write(`wrote ${f.path} (${formatBytes(f.bytes)})\n`);
      process.stderr.write(`wrote ${res.configPath} and ${res.readmePath} (step ${res.step}, ${formatDuration(res.seconds)})\n`);
      if (res.overflows > 0) process.stderr.write(`warning: ${res.overflows} values overflowed F16 and were saved as ±Inf\n`);
    }
    if (values.json) {
      process.stdout.write(
        JSON.stringify({ dir: res.saveDir, files: res.files, config: res.configPath, readme: res.readmePath, step: res.step, seconds: res.seconds }, null, 2) +
          '\n',
      );
    }
    return 0;
  },
};
