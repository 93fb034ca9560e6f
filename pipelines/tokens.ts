/**
 * `pipeline tokens`: how a model sees a text: token ids, pieces, whether each counts in the mean, and the
 * norm/mean/std of each token's vector. Works on saved models and on raw extracted matrices (`pipeline extract`
 * output: tensor "embedding" + tokenizer.json beside it), reading only the rows it needs from those.
 */
import { resolveModelArg } from '../src/hub/cache/resolve.ts';
import { statSync } from 'node:fs';
import { UserError } from '../src/util/errors.ts';
import { load, resolveModelFiles } from '../src/embed/node.ts';
import { SafetensorsFile } from '../src/safetensors/file.ts';
import { openSafetensorsMatrix } from '../src/matrix/row-matrix.ts';
import { loadTokenizerFile } from '../src/tokenize/node.ts';
import { createFastEncoder } from '../src/tokenize/fast-encode.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';
import { valuesJson } from '../src/util/json-safe.ts';

const FLAGS = defineFlags({
  model: { value: 'PATH', help: 'the model or extracted matrix (required)' },
  text: { value: 'T', help: 'the text (required)' },
  dim: { value: 'D', help: 'statistics over the first D values of each row' },
  json: { help: `print {"format", "cache", "tokens": [{"id", "piece", "counts", "norm", "mean", "std"}]} on\nstdout (else a tab-separated table on stdout)` },
});

const HELP = `pipeline tokens --model PATH --text "Hello world" [options]

Show the tokens of a text under a model's tokenizer (special tokens are not added, as when embedding): id,
piece, whether it counts in the mean (pad and UNK tokens do not; ids beyond the matrix do not), and the L2
norm, mean and standard deviation of its row — a look at the token vectors themselves.

PATH is a model the library's load() accepts or a hub id (see pipeline embed --help) or a raw matrix written by
\`pipeline extract\` (weights/<config>/<source>.safetensors, tensor "embedding", tokenizer.json beside it);
large raw matrices are read row by row, never whole.

Options:
${flagLines(FLAGS, 13)}

Example:
  pipeline tokens --model weights/l2_supercat/llama2.safetensors --text "Hello world"
`;

interface TokenRow {
  id: number;
  piece: string;
  counts: boolean;
  norm: number;
  mean: number;
  std: number;
}

function stats(v: Float32Array): { norm: number; mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
  }
  const mean = v.length ? s / v.length : 0;
  return { norm: Math.sqrt(s2), mean, std: v.length ? Math.sqrt(Math.max(0, s2 / v.length - mean * mean)) : 0 };
}

/** Whole-file loading is for saved models; raw LLM matrices (GBs) are read by rows. */
const LOAD_WHOLE_MAX = 1024 ** 3;

export const stage: Stage = {
  help: HELP,
  async run(argv) {
    const { values } = parseFlags('tokens', argv, FLAGS);
    if (!values.model) throw new UserError('tokens: --model PATH is required (see: pipeline tokens --help)');
    if (values.text === undefined) throw new UserError('tokens: --text T is required');
    const text = values.text;
    const dimFlag = intFlag('tokens', 'dim', values.dim);
    const modelPath = await resolveModelArg(values.model, dimFlag);
    const files = resolveModelFiles(modelPath, { dim: dimFlag });
    const header = await SafetensorsFile.open(files.safetensors);
    const names = header.tensorNames;
    await header.close();
    const small = statSync(files.safetensors).size <= LOAD_WHOLE_MAX;
    let rows: TokenRow[];
    let format: string;
    let cache: string;
    let dim: number;
    if (small && (names.includes('embedding.weight') || names.includes('embeddings'))) {
      const model = load(modelPath, { dim: dimFlag });
      format = model.info.format;
      cache = `${model.encoder.analysis.mode} (${model.encoder.analysis.reason})`;
      dim = model.dim;
      const ids = model.tokenizer.encode(text);
      const pieces = model.tokenizer.tokens(text);
      const { padTokenId, unkTokenId, maxLength } = model.info;
      let kept = 0;
      rows = ids.map((id, i) => {
        const inside = id >= 0 && id < model.info.vocabSize;
        const counts = inside && id !== padTokenId && id !== unkTokenId && (maxLength === 0 || kept < maxLength);
        if (counts) kept++;
        return { id, piece: pieces[i] ?? '', counts, ...(inside ? stats(model.tokenVector(id)) : { norm: NaN, mean: NaN, std: NaN }) };
      });
    } else {
      const tensor = names.includes('embedding') ? 'embedding' : names.includes('embedding.weight') ? 'embedding.weight' : undefined;
      const matrix = await openSafetensorsMatrix(files.safetensors, tensor);
      try {
        const tok = loadTokenizerFile(files.tokenizer);
        if (matrix.rows < tok.vocabSize - tok.specialIds.size) {
          throw new UserError(`${files.safetensors}: vocabulary mismatch: ${matrix.rows} rows but tokenizer.json has ${tok.vocabSize} tokens`);
        }
        if (dimFlag !== undefined && dimFlag > matrix.dim) throw new UserError(`tokens: --dim ${dimFlag} is above the matrix's ${matrix.dim}`);
        dim = dimFlag ?? matrix.dim;
        format = 'raw';
        const analysis = createFastEncoder(tok).analysis;
        cache = `${analysis.mode} (${analysis.reason})`;
        const ids = tok.encode(text);
        const pieces = tok.tokens(text);
        rows = [];
        for (let i = 0; i < ids.length; i++) {
          const id = ids[i]!;
          const inside = id < matrix.rows;
          const v = inside ? (await matrix.readRows(id, 1)).subarray(0, dim) : undefined;
          rows.push({ id, piece: pieces[i] ?? '', counts: inside && id !== tok.unkId, ...(v ? stats(v) : { norm: NaN, mean: NaN, std: NaN }) });
        }
      } finally {
        await matrix.close();
      }
    }
    if (values.json) {
      process.stdout.write(valuesJson({ model: files.safetensors, format, dim, cache, tokens: rows }, 'tokens --json') + '\n');
    } else {
      const lines = [`${files.safetensors} (${format}, dim ${dim}); tokenization cache: ${cache}`, 'id\tpiece\tcounts\tnorm\tmean\tstd'];
      for (const r of rows)
        lines.push(`${r.id}\t${JSON.stringify(r.piece)}\t${r.counts ? 'yes' : 'no'}\t${r.norm.toFixed(4)}\t${r.mean.toFixed(5)}\t${r.std.toFixed(5)}`);
      lines.push(`${rows.length} tokens, ${rows.filter((r) => r.counts).length} counted`);
      process.stdout.write(lines.join('\n') + '\n');
    }
    return 0;
  },
};
