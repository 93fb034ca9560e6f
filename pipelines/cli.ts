/**
 * The CLI: `<bin> <stage> [options]`. Dispatches to pipelines/<stage>.ts (imported lazily so `embed` never loads
 * TensorFlow.js), prints help and the version, and turns user errors into one line and an exit code.
 * Conventions for every stage: results on stdout, progress and diagnostics on stderr; `--help` on stdout with
 * exit 0; usage errors on stderr with exit 2; `--` ends options; a closed stdout (`| head`) ends quietly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, filesystemUserError, isUserError } from '../src/util/errors.ts';
import { packageRoot } from '../src/util/package-root.ts';
import type { Stage } from './stage.ts';

/** Stage name → module. Order is the order of `--help`. */
const STAGES: Record<string, { summary: string; load: () => Promise<{ stage: Stage }> }> = {
  extract: { summary: 'download/copy just the token-embedding matrix of each source', load: () => import('./extract.ts') },
  concat: { summary: 'join the matrices of sources that share a tokenizer', load: () => import('./concat.ts') },
  train: { summary: 'train token weights + projection (MNRL, Matryoshka, binarized)', load: () => import('./train.ts') },
  save: { summary: 'project the whole vocabulary and write <name>_<dim>.safetensors', load: () => import('./save.ts') },
  run: { summary: 'extract → concat → train → save, skipping stages that are current', load: () => import('./run.ts') },
  embed: { summary: 'embed texts with a saved model (.npy or JSON out)', load: () => import('./embed.ts') },
  similarity: { summary: 'similarity of two texts under a model', load: () => import('./similarity.ts') },
  tokens: { summary: 'token ids, pieces and per-token vector stats', load: () => import('./tokens.ts') },
  eval: { summary: 'evaluate a model on STS / pair / classification / clustering / retrieval files', load: () => import('./eval.ts') },
  export: { summary: 'write a model as model2vec, sentence-transformers or WordLlama files', load: () => import('./export.ts') },
  push: { summary: 'upload the release files of a saved model to a hub repo', load: () => import('./push.ts') },
  report: { summary: 'write a self-contained report.html for a model', load: () => import('./report.ts') },
  inspect: { summary: 'spectrum, near-duplicate and zero rows, nearest tokens of a matrix', load: () => import('./inspect.ts') },
};

/** The version of the package this code ships in (the repo's own package.json when run from source). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export function usage(bin = 'pipeline'): string {
  const width = Math.max(...Object.keys(STAGES).map((s) => s.length));
  const lines = Object.entries(STAGES).map(([name, s]) => `  ${name.padEnd(width)}  ${s.summary}`);
  return [
    `usage: ${bin} <stage> [options]     (${bin} <stage> --help for its options)`,
    `       ${bin} --help | --version`,
    '',
    'stages:',
    ...lines,
    '',
    'Configs are config/<name>.toml (pass --config <name> or a path). Outputs go to weights/<name>/.',
  ].join('\n');
}

/**
 * Help texts and messages name commands as `pipeline <stage>`, the repository's bin; the published bin has its
 * own name, so they are shown with it.
 */
function forBin(text: string, bin: string): string {
  if (bin === 'pipeline') return text;
  const stage = new RegExp(`\\bpipeline (?=(?:${Object.keys(STAGES).join('|')})\\b)`, 'g');
  return text.replace(stage, `${bin} `);
}

/** Whether `flag` appears among the options, i.e. before a `--` that ends them. */
function hasOption(argv: string[], ...flags: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => flags.includes(a));
}

export async function main(argv: string[], bin = 'pipeline'): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${usage(bin)}\n`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage(bin)}\n`);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const entry = STAGES[name];
  if (!entry) {
    process.stderr.write(`error: unknown ${name.startsWith('-') ? 'option' : 'stage'} "${name}"\n\n${usage(bin)}\n`);
    return 2;
  }
  try {
    const { stage } = await entry.load();
    if (hasOption(rest, '--help', '-h')) {
      process.stdout.write(forBin(stage.help.trimEnd(), bin) + '\n');
      return 0;
    }
    return await stage.run(rest);
  } catch (err) {
    const userError = isUserError(err) ? err : filesystemUserError(err);
    if (userError) {
      process.stderr.write(`error: ${forBin(userError.message, bin)}\n`);
      return userError.exitCode;
    }
    if (process.env.PIPELINE_DEBUG) throw err;
    process.stderr.write(`error: ${errorMessage(err)}\n(internal error; set PIPELINE_DEBUG=1 for a stack trace)\n`);
    return 1;
  }
}

/** Errors of a stream whose reader has gone (the write after the first one reports the stream destroyed). */
const READER_GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

/**
 * The bins' entry: run `main` on the process's arguments and exit with its code. A reader that closes stdout
 * early (`| head`) is not an error: nobody wants the rest of the results, so the process ends quietly with status
 * 0 instead of an EPIPE stack trace. A closed stderr (`2>&1 | head`, a log reader that quit) only loses progress
 * and diagnostics: the stage carries on, so its files and exit status are what they would have been.
 */
export async function runAsProcess(bin: string): Promise<void> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (READER_GONE.has(err.code ?? '')) process.exit(0);
    throw err;
  });
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (!READER_GONE.has(err.code ?? '')) throw err;
  });
  process.exitCode = await main(process.argv.slice(2), bin);
}
