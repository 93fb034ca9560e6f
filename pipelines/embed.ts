/**
 * `pipeline embed`: embed texts with any model `load` accepts; `--input` streams a file line by line in batches;
 * output is a .npy (float32 [n, dim], or uint8 [n, ceil(dim/8)] packed sign bits with --binary) written
 * atomically, or JSON on stdout.
 */
import { resolveModelArg } from '../src/hub/cache/resolve.ts';
import { createReadStream, fstatSync } from 'node:fs';
import { open, rename, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../src/util/errors.ts';
import { tempPathFor } from '../src/util/atomic.ts';
import { createProgress } from '../src/util/progress.ts';
import { binarize, embedParallel, load, MIN_PARALLEL_TEXTS, packedBytes, type StaticModel } from '../src/embed/node.ts';
import { availableParallelism } from 'node:os';
import type { BinaryCodes, Embeddings } from '../src/embed/types.ts';
import { npyHeader } from '../src/embed/npy.ts';
import { valuesRowJson } from '../src/util/json-safe.ts';
import { NonFiniteRows } from '../src/util/non-finite.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';

const INPUT_FLAGS = defineFlags({
  text: { value: 'T', multiple: true, help: 'a text to embed; repeat for several' },
  input: {
    value: 'FILE',
    help: 'one text per line (UTF-8; a trailing \\r is dropped; empty lines give zero vectors),\nread as a stream and embedded --batch-size lines at a time; "-" reads standard input',
  },
});

const OPTION_FLAGS = defineFlags({
  model: { value: 'PATH', help: 'the model (required)' },
  dim: {
    value: 'D',
    help: "keep the first D values of each embedding (≤ the model's dim). With a folder holding\nseveral <name>_<dim>.safetensors files, the file of that dim is used",
  },
  norm: { help: "L2-normalise (default: the model's config, e.g. normalize: true for pipeline save output)" },
  'no-norm': { help: 'do not normalise' },
  binary: { help: 'sign bits instead of floats (packed 8 per byte, NumPy packbits order)' },
  output: {
    value: 'OUT.npy',
    help: 'write a NumPy .npy: float32 [n, dim], or uint8 [n, ceil(dim/8)] with --binary; written to a\ntemporary file and renamed when complete',
  },
  json: {
    help: 'print {"dim": D, "embeddings": [[...], ...]} on stdout (with --binary: {"dim", "bits",\n"embeddings": [[byte, ...], ...]}). This is the default when --output is not given',
  },
  'max-length': {
    value: 'N',
    help: `count at most the first N tokens of each text (default: the model's max_length; 0: all).\nWith a limit only the start of a long text is tokenized, so a 50 MB line costs what a\nshort one does; without one (WordLlama, sentence-transformers and raw matrices have none)\nevery token counts and the whole text is tokenized`,
  },
  'batch-size': { value: 'N', help: 'lines per batch with --input (default 1024; 8192 with several threads)' },
  threads: {
    value: 'N',
    help: `threads, this one included (default: the cores); batches of at least ${MIN_PARALLEL_TEXTS}\ntexts are split across worker threads, with the same output as one thread`,
  },
  quiet: { help: 'no progress lines on stderr' },
});

/** Help column shared by the two tables. */
const WIDTH = 16;

const HELP = `pipeline embed --model PATH (--text T ... | --input FILE) [options]

Embed texts with a static model: the mean of the rows of each text's tokens (no special tokens are added; pad
and UNK tokens never count; at most the config's max_length tokens, 512 for model2vec models, which also cut
the text to 512 × median token length characters as model2vec does), optionally truncated to the first --dim
values (Matryoshka) and L2-normalised. A text without tokens gives a zero vector.

PATH is anything the library's load() accepts: a folder or file written by \`pipeline save\`
(<name>_<dim>.safetensors + tokenizer.json + config.json), a WordLlama .safetensors with tokenizer.json beside
it, a model2vec folder (model.safetensors, f32/f16/i8 or vocabulary-quantized) or a sentence-transformers
StaticEmbedding folder; or a hub id (org/name, org/name@revision, hf:org/name; an existing local path wins)
whose needed files are downloaded into the huggingface_hub cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
~/.cache/huggingface/hub) shared with Python's huggingface_hub. HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE=1 are
honoured; a model already in the cache is loaded without any request.

Input (one of):
${flagLines(INPUT_FLAGS, WIDTH)}
  (neither)         texts piped on standard input, one per line: cat texts.txt | pipeline embed --model M

Options:
${flagLines(OPTION_FLAGS, WIDTH)}

Examples:
  pipeline embed --model weights/l2_supercat --text "Hello world" --text "Good morning"
  pipeline embed --model weights/l2_supercat --dim 64 --input sentences.txt --output emb.npy
  grep -v '^#' notes.txt | pipeline embed --model weights/l2_supercat --json | head -c 200
`;

interface Sink {
  write(model: StaticModel, texts: string[]): Promise<void>;
  finish(): Promise<number>;
  abort(): Promise<void>;
}

/**
 * Whether standard input is a pipe, socket or file, so texts given neither by --text nor --input are read from it. A
 * terminal (or /dev/null) is not: reading it would wait silently, so that case stays a usage error.
 */
function stdinIsPiped(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isFile() || st.isSocket();
  } catch {
    return false;
  }
}

function makeArgs(argv: string[]) {
  const { values } = parseFlags('embed', argv, { ...INPUT_FLAGS, ...OPTION_FLAGS });
  if (!values.model) throw new UserError('embed: --model PATH is required (see: pipeline embed --help)');
  const texts = values.text ?? [];
  const input = values.input ?? (texts.length === 0 && stdinIsPiped() ? '-' : undefined);
  if (texts.length === 0 && !input) throw new UserError('embed: give --text T (repeatable), --input FILE, or pipe texts on stdin');
  if (texts.length > 0 && values.input) throw new UserError('embed: give either --text or --input, not both');
  if (values.output && values.json) throw new UserError('embed: give either --output or --json, not both');
  if (values.norm && values['no-norm']) throw new UserError('embed: --norm and --no-norm contradict each other');
  if (values.output && !values.output.endsWith('.npy')) throw new UserError(`embed: --output must end in .npy, got "${values.output}"`);
  const threads = intFlag('embed', 'threads', values.threads) ?? availableParallelism();
  return {
    model: values.model,
    texts,
    input,
    output: values.output,
    dim: intFlag('embed', 'dim', values.dim),
    norm: values.norm ? true : values['no-norm'] ? false : undefined,
    binary: Boolean(values.binary),
    maxLength: intFlag('embed', 'max-length', values['max-length'], 0),
    threads,
    batchSize: intFlag('embed', 'batch-size', values['batch-size']) ?? (threads > 1 ? 8192 : 1024),
    quiet: Boolean(values.quiet),
  };
}

type Args = ReturnType<typeof makeArgs>;

/** A batch's float embeddings over --threads threads (embedParallel: bit for bit what model.embed gives). */
function embedDense(args: Args, model: StaticModel, texts: string[]): Promise<Embeddings> {
  return embedParallel(model, texts, { dim: args.dim, norm: args.norm, maxLength: args.maxLength, threads: args.threads });
}

/** A batch's sign bits: those of the unnormalised means, as model.embedBinary computes them. */
async function embedBits(args: Args, model: StaticModel, texts: string[]): Promise<BinaryCodes> {
  return binarize(await embedParallel(model, texts, { dim: args.dim, norm: false, maxLength: args.maxLength, threads: args.threads }));
}

/** JSON on stdout, written row by row as batches arrive (memory stays flat for long --input files). */
function jsonSink(args: Args, dim: number): Sink {
  let rows = 0;
  const head = args.binary ? `{"dim":${dim},"bits":${dim},"embeddings":[` : `{"dim":${dim},"embeddings":[`;
  // A batch is serialized whole before it is written, so a row JSON cannot hold (NaN) stops the output at a
  // batch boundary rather than mid-row.
  const batchJson = (values: Float32Array | Uint8Array, per: number, n: number) => {
    let s = '';
    for (let r = 0; r < n; r++, rows++)
      s += (rows === 0 ? head : ',') + valuesRowJson(values.subarray(r * per, (r + 1) * per), 'embed --json', `embeddings[${rows}]`);
    return s;
  };
  return {
    async write(model, texts) {
      if (args.binary) {
        const codes = await embedBits(args, model, texts);
        process.stdout.write(batchJson(packedBytes(codes), Math.ceil(codes.bits / 8), codes.rows));
      } else {
        const e = await embedDense(args, model, texts);
        process.stdout.write(batchJson(e.data, e.dim, e.rows));
      }
    },
    async finish() {
      process.stdout.write((rows === 0 ? head : '') + ']}\n');
      return rows;
    },
    async abort() {},
  };
}

async function npySink(args: Args, dim: number): Promise<Sink> {
  const path = args.output!;
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'w');
  const cols = args.binary ? Math.ceil(dim / 8) : dim;
  const dtype = args.binary ? '|u1' : '<f4';
  let header = npyHeader(dtype, 0, cols);
  await fh.write(header, 0, header.length, 0);
  let pos = header.length;
  let rows = 0;
  // A batch's rows are written while the next batch is embedded: `put` waits for the previous write only, so
  // the file I/O (a libuv thread) overlaps the tokenizing instead of adding to it. Each batch's bytes are a
  // fresh array, kept alive by the pending write; a failed write surfaces at the next put or at finish.
  let writing: Promise<void> = Promise.resolve();
  const writeAt = async (bytes: Uint8Array, at: number) => {
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, off, bytes.length - off, at + off);
      off += bytesWritten;
    }
  };
  const put = async (bytes: Uint8Array) => {
    await writing;
    writing = writeAt(bytes, pos);
    // Marked handled now (else Node would end the process on a failure before the next put awaits it).
    writing.catch(() => {});
    pos += bytes.length;
  };
  return {
    async write(model, texts) {
      if (args.binary) await put(packedBytes(await embedBits(args, model, texts)));
      else {
        const e = await embedDense(args, model, texts);
        // NumPy would carry NaN silently into every later computation: refuse, and abort() leaves no file.
        const bad = new NonFiniteRows(e.dim);
        bad.addF32(e.data, rows);
        if (bad.count > 0) throw new UserError(`embed --output ${path}: row ${bad.first} holds NaN or ±Inf; no file written`);
        await put(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      }
      rows += texts.length;
    },
    async finish() {
      await writing;
      header = npyHeader(dtype, rows, cols);
      await fh.write(header, 0, header.length, 0);
      await fh.sync();
      await fh.close();
      await rename(tmp, path);
      return rows;
    },
    async abort() {
      await writing.catch(() => {});
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
    },
  };
}

/** The lines of `path` (`-`: standard input) in batches of `size`. */
async function* lineBatches(path: string, size: number): AsyncGenerator<string[]> {
  let stream: NodeJS.ReadableStream;
  if (path === '-') {
    process.stdin.setEncoding('utf8');
    stream = process.stdin;
  } else {
    const file = createReadStream(path, { encoding: 'utf8' });
    await new Promise<void>((resolve, reject) => {
      file.once('open', () => resolve());
      file.once('error', (err: NodeJS.ErrnoException) => reject(new UserError(`embed: cannot read --input ${path} (${err.code ?? err.message})`)));
    });
    stream = file;
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let batch: string[] = [];
  for await (const line of rl) {
    batch.push(line.endsWith('\r') ? line.slice(0, -1) : line);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export const stage: Stage = {
  help: HELP,
  async run(argv) {
    const args = makeArgs(argv);
    const model = load(await resolveModelArg(args.model, args.dim), { dim: args.dim });
    const dim = args.dim ?? model.dim;
    const sink = args.output ? await npySink(args, dim) : jsonSink(args, dim);
    const progress = createProgress('embed', { unit: 'texts', quiet: args.quiet || !args.input });
    let n = 0;
    try {
      if (args.input) {
        for await (const batch of lineBatches(args.input, args.batchSize)) {
          await sink.write(model, batch);
          n += batch.length;
          progress.update(n);
        }
      } else {
        await sink.write(model, args.texts);
        n = args.texts.length;
      }
      const rows = await sink.finish();
      if (args.input) progress.finish();
      if (args.output && !args.quiet)
        process.stderr.write(`wrote ${args.output}: ${rows} × ${args.binary ? `${Math.ceil(dim / 8)} bytes` : `${dim} float32`}\n`);
    } catch (err) {
      await sink.abort();
      throw err;
    }
    return 0;
  },
};
