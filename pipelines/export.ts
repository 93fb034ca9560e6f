/**
 * `pipeline export`: write a model in another library's layout (model2vec, sentence-transformers StaticEmbedding,
 * WordLlama) so Python users load it with their own tools.
 */
import { statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { load } from '../src/embed/node.ts';
import { exportModel, parseExportFormat } from '../src/export/index.ts';
import { parseExportDtype } from '../src/export/rows.ts';
import { readSampleTexts } from '../src/export/sample-texts.ts';
import { quantizationQuality } from '../src/export/vocab-quantize.ts';
import { UserError } from '../src/util/errors.ts';
import { claimOutputFolder } from '../src/layout/ownership.ts';
import { formatBytes, logLine } from '../src/util/progress.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';

const FLAGS = defineFlags({
  model: { value: 'PATH', help: 'model to export (required)' },
  format: { value: 'FORMAT', help: 'model2vec | sentence-transformers | wordllama (required)' },
  out: { value: 'DIR', help: 'output folder (required; created when missing, files replaced atomically)' },
  dtype: {
    value: 'f32|f16|int8',
    help: `storage type (default: f32 for model2vec and sentence-transformers, f16 for\nwordllama); int8 (model2vec only) scales the matrix so its largest magnitude is 127,\nas model2vec's quantization does: cosine scores survive, vector lengths do not`,
  },
  dim: { value: 'D', help: "Matryoshka width to export (default: the model's width)" },
  'vocab-quantize': {
    value: 'N',
    help: `model2vec only: k-means the (unit) token rows into N clusters and write model2vec's\nvocabulary-quantized layout: "embeddings" [N, dim] (in --dtype), "mapping" (int32,\ntoken -> cluster) and "weights" (float32, each token's row norm); config.json\nvocabulary_quantization = N. N must be below the vocabulary size. Reports the mean\ncosine between the original and the quantized model's embeddings of --texts\n(stderr, and in --json)`,
  },
  texts: {
    value: 'FILE',
    help: `texts for that report: an STS file (both sentence columns) or one text per line\n(default: a built-in sample of 40 everyday English sentences; real text of your\ndomain gives the more telling number)`,
  },
  name: { value: 'NAME', help: "file name prefix for wordllama (default: the model's config name, else DIR's name)" },
  force: {
    help: `write into a DIR holding files an export does not write (refused otherwise:\nan export never replaces someone else's README.md or other files)`,
  },
  quiet: { help: 'no progress lines' },
  json: { help: `print {format, dir, dim, files: [{path, bytes}], vocab_quantization?: {clusters,\nmean_cosine, min_cosine, texts, text_source}} on stdout` },
});

const help = `pipeline export --model PATH --format FORMAT --out DIR [options]

Write the model at PATH (anything load() accepts: a pipeline save folder, a WordLlama file, a model2vec or
sentence-transformers folder) in another library's layout. Each token's row is its effective row (a
vocabulary-quantized model's mapping and scale applied), truncated to --dim.

Formats:
  model2vec              DIR/model.safetensors ("embeddings" [n_vocab, dim]), config.json (model_type
                         "model2vec", hidden_dim, normalize...), tokenizer.json, modules.json:
                         StaticModel.from_pretrained(DIR) and SentenceTransformer(DIR) load it
  sentence-transformers  DIR/modules.json, config_sentence_transformers.json,
                         0_StaticEmbedding/{model.safetensors ("embedding.weight"), tokenizer.json}
                         (+ a Normalize module when the model normalises): SentenceTransformer(DIR)
  wordllama              DIR/<name>_<dim>.safetensors ("embedding.weight"), tokenizer.json

Options:
${flagLines(FLAGS, 21)}

Exit codes: 0 done, 2 bad input (one line naming the flag or file and the fix).`;

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseFlags('export', argv, FLAGS);
    for (const flag of ['model', 'format', 'out'] as const) {
      if (!values[flag]) throw new UserError(`export: --${flag} is required (see: pipeline export --help)`);
    }
    const format = parseExportFormat(values.format!);
    const dtype = values.dtype === undefined ? undefined : parseExportDtype(values.dtype, 'export: --dtype');
    const dim = intFlag('export', 'dim', values.dim);
    const clusters = intFlag('export', 'vocab-quantize', values['vocab-quantize']);
    const model = load(values.model!, { dim });
    const sample = clusters === undefined ? undefined : readSampleTexts(values.texts);
    const out = resolve(values.out!);
    const configName = model.info.config?.name;
    const name = values.name ?? (typeof configName === 'string' && configName !== '' ? configName : basename(out));
    const quiet = Boolean(values.quiet);
    claimOutputFolder(out, 'export', Boolean(values.force), '--out');
    const files = await exportModel(model, format, out, name, {
      dtype,
      vocabQuantize: clusters,
      vocabQuantizeOptions: { log: (line) => logLine(line, quiet) },
    });
    const written = files.map((f) => ({ path: join(out, f), bytes: statSync(join(out, f)).size }));
    for (const f of written) logLine(`wrote ${f.path} (${formatBytes(f.bytes)})`, quiet);
    let report: Record<string, unknown> | undefined;
    if (sample) {
      // Measured on what a user loads: the written folder, read back.
      const q = quantizationQuality(model, load(out), sample.texts);
      report = { clusters, mean_cosine: q.meanCosine, min_cosine: q.minCosine, texts: q.texts, text_source: sample.source };
      logLine(
        `vocabulary quantized to ${clusters} clusters: mean cosine to the original ${q.meanCosine.toFixed(4)} (min ${q.minCosine.toFixed(4)}) over ${q.texts} texts of ${sample.source}`,
        quiet,
      );
    }
    if (values.json) {
      process.stdout.write(
        JSON.stringify({ format, dir: out, dim: model.dim, files: written, ...(report ? { vocab_quantization: report } : {}) }, null, 2) + '\n',
      );
    }
    return 0;
  },
};
