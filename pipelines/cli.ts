/**
 * The `pipeline` bin: `pipeline <stage> [options]`. Dispatches to pipelines/<stage>.ts (imported lazily so
 * `embed` never loads TensorFlow.js), prints `--help`, turns user errors into one line and an exit code.
 */
import { errorMessage, isUserError } from '../src/util/errors.ts';
import type { Stage } from './stage.ts';

/** Stage name → module. Order is the order of `pipeline --help`. */
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
  report: { summary: 'write a self-contained report.html for a model', load: () => import('./report.ts') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(STAGES).map((s) => s.length));
  const lines = Object.entries(STAGES).map(([name, s]) => `  ${name.padEnd(width)}  ${s.summary}`);
  return [
    'usage: pipeline <stage> [options]     (pipeline <stage> --help for its options)',
    '',
    'stages:',
    ...lines,
    '',
    'Configs are config/<name>.toml (pass --config <name> or a path). Outputs go to weights/<name>/.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = STAGES[name];
  if (!entry) {
    process.stderr.write(`error: unknown stage "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const { stage } = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(stage.help.trimEnd() + '\n');
      return 0;
    }
    return await stage.run(rest);
  } catch (err) {
    if (isUserError(err)) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    if (process.env.PIPELINE_DEBUG) throw err;
    process.stderr.write(`error: ${errorMessage(err)}\n(internal error; set PIPELINE_DEBUG=1 for a stack trace)\n`);
    return 1;
  }
}
