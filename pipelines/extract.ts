/**
 * `pipeline extract`: download (or copy) just the token-embedding matrix of each source of a config into
 * weights/<config>/<source>.safetensors, with the tokenizer files and extract.json beside it.
 */
import { loadConfig, outputDirFor } from '../src/config/load.ts';
import { lockFolder } from '../src/util/lock.ts';
import { claimOutputFolder } from '../src/layout/ownership.ts';
import { parseFloatDType } from '../src/safetensors/dtype.ts';
import { DEFAULT_CONCURRENCY, extract } from '../src/sources/extract.ts';
import { UserError } from '../src/util/errors.ts';
import { formatBytes } from '../src/util/progress.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';

const FLAGS = defineFlags({
  config: { value: 'NAME|PATH', help: 'model config (required): a name in config/ or a path to a .toml file' },
  from: {
    value: 'PATH',
    help: `extract from a local .safetensors file, a folder (with or without\nmodel.safetensors.index.json) or a GGUF file (recognised by its content)\ninstead of the source's hub repo / path (single-source configs only)`,
  },
  'out-dir': { value: 'DIR', help: 'output folder (default: weights/NAME under the working directory)' },
  dtype: {
    value: 'f16|f32|bf16',
    help: `output dtype (default f16, like WordLlama; f32 is exact for BF16/F16 sources;\nf16 overflows are counted and reported)`,
  },
  concurrency: { value: 'N', help: `parallel range requests per file (default ${DEFAULT_CONCURRENCY})` },
  'chunk-size': { value: 'BYTES', help: 'bytes per range request, e.g. 8388608 or 8M (default 8M; min 4k)' },
  force: {
    help: `extract again even when the output already matches the source and dtype; also\nwrite into an output folder holding files the pipeline did not write (refused\notherwise: outputs never replace someone else's README.md or config.json)`,
  },
  verify: {
    help: `hub sources: after the download, stream the whole shard once more and check its\nsha256 against the hub's (the LFS oid); the tensor's bytes are compared with that\npass and rewritten where they differ; a hash mismatch stops with both hashes and no\noutput. Costs the whole shard again. Without it a range is checked by the HTTP\ncontract (206, Content-Range, length, ETag) only, not by a hash`,
  },
  fsync: {
    help: `flush a downloaded matrix to disk before renaming it into place (durable across\npower loss; slower where the disk is slower than the network)`,
  },
  quiet: { help: 'no progress or log lines (errors still print)' },
  json: { help: 'print a JSON summary (outputs and facts) on stdout' },
});

const help = `pipeline extract --config NAME [options]

Download only the token-embedding tensor of each source in config/NAME.toml (or a path to a .toml) and write:
  weights/NAME/<source>.safetensors   tensor "embedding" [n_vocab, dim], provenance in __metadata__
  weights/NAME/tokenizer.json         (+ tokenizer_config.json, and the source's config.json as
                                      source_config.json, when the source has them)
  weights/NAME/extract.json           bytes downloaded, shard and tensor sizes, seconds, per source

Hub sources read the shard index and the shard's header with HTTP Range requests, then fetch only the
tensor's bytes in parallel chunks (validated: 206, exact Content-Range and length; retried with backoff,
honouring Retry-After). An interrupted run resumes: verified chunks are written into <file>.partial and
recorded in <file>.partial.json with a fingerprint that is re-checked on resume; they are not fetched again.
Output files appear only when complete. Local sources (--from, path = ...) and TF.js sources
(tfjs_model = ...) are copied by row blocks with the same dtype conversion.

GGUF sources (llama.cpp, Ollama, LM Studio files): gguf = "model.gguf" for a local file, or
hf_model_id + gguf_file = "model-Q4_K_M.gguf" for a file in a hub repo, whose header is read by Range and
of which only token_embd.weight's bytes are downloaded (resumable, as above). Rows are dequantized block by
block (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K-Q6_K, Q8_K) to --dtype. The tokenizer.json comes
from tokenizer_repo = "org/original-model" when set, else from beside the file or the repo, else it is rebuilt
from the file's tokenizer.ggml.* metadata. When every source is GGUF, [model] pad_token may be left out: it
defaults to the file's padding token (tokenizer.ggml.padding_token_id), else its EOS token, checked against
the tokenizer and recorded in extract.json (pad_token_default) for train and save. --verify works on GGUF
hub files too (it streams the whole .gguf file once more).

Options:
${flagLines(FLAGS)}

Environment:
  HF_ENDPOINT           hub base URL (default https://huggingface.co; mirrors and tests use others)
  HF_TOKEN              access token for gated repos (Gemma, Llama): accept the licence on the model
                        page with the token's account first

Exit codes: 0 done, 2 bad config/input/access (one-line message), 1 download failed after retries.`;

/** "8M", "512k", "1G" or a plain byte count. */
export function parseByteSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([kKmMgG]i?[bB]?)?$/.exec(value.trim());
  if (!m) throw new UserError(`extract: --chunk-size expects bytes like 8388608 or 8M, got "${value}"`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const n = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (n < 4096) throw new UserError(`extract: --chunk-size must be at least 4096 bytes, got "${value}"`);
  return n;
}

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseFlags('extract', argv, FLAGS);
    if (!values.config) throw new UserError('extract: --config NAME is required (see: pipeline extract --help)');
    let dtype;
    if (values.dtype !== undefined) {
      dtype = parseFloatDType(values.dtype);
      if (!dtype) throw new UserError(`extract: --dtype expects f16, f32 or bf16, got "${values.dtype}"`);
    }
    const config = loadConfig(values.config);
    const outDir = outputDirFor(config, values['out-dir']);
    claimOutputFolder(outDir, 'weights', Boolean(values.force));
    const release = lockFolder(outDir, 'extract');
    const summary = await extract({
      config,
      from: values.from,
      outDir: values['out-dir'],
      dtype,
      concurrency: intFlag('extract', 'concurrency', values.concurrency),
      chunkSize: parseByteSize(values['chunk-size']),
      force: values.force,
      fsync: values.fsync,
      verify: values.verify,
      quiet: values.quiet,
    }).finally(release);
    const quiet = values.quiet || values.json;
    if (!quiet) {
      for (const s of summary.sources) {
        const dequantized = s.dequantized ? ' dequantized' : '';
        const what = s.skipped
          ? 'already current'
          : s.kind === 'hub'
            ? `${s.source_dtype} →${dequantized} ${s.dtype}, ${formatBytes(s.bytes_downloaded)} downloaded of a ${formatBytes(s.shard_bytes)} shard in ${s.seconds.toFixed(1)} s`
            : `${s.source_dtype} →${dequantized} ${s.dtype}, ${formatBytes(s.tensor_bytes)} read from local files in ${s.seconds.toFixed(1)} s`;
        process.stderr.write(`${s.name}: [${s.rows}, ${s.dim}] from ${s.repo} (${what})\n`);
        if (s.overflows > 0) process.stderr.write(`warning: ${s.name}: ${s.overflows} values overflowed to ±Inf in f16; use --dtype bf16 or f32\n`);
      }
    }
    for (const n of summary.notes) process.stderr.write(`note: ${n}\n`);
    if (values.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    } else {
      for (const f of summary.files) process.stdout.write(`${f}\n`);
    }
    return 0;
  },
};
