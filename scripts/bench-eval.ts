/**
 * Benchmark of `pipeline eval`: the use_lite model (trained on ../shared/data/train) vs the raw USE-lite rows
 * vs the USE-lite transformer, on STS-B dev and on task files built here from labelled ../shared data:
 *   - pair + rerank: SNLI test triplets (premise, entailment hypothesis, contradiction hypothesis: human labels)
 *   - cluster: Flickr8k test captions grouped by image (first 100 images, 5 captions each)
 *   - retrieval: Flickr8k test, first caption of each of 500 images as the query, its other captions relevant,
 *     the pool = all other captions of those images
 * The task files go to a temp folder (never into the repo). Prints a markdown table of main metrics and the
 * time each model's evaluation took.
 *
 *   npx tsx scripts/bench-eval.ts --model weights/use_lite --raw weights/use_lite [--use-lite] [--out DIR]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../pipelines/cli.ts';

const SHARED = resolve(import.meta.dirname, '..', '..', 'shared', 'data');

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' },
    raw: { type: 'string' },
    'use-lite': { type: 'boolean' },
    out: { type: 'string' },
    tasks: { type: 'string' },
  },
});
if (!v.model) throw new Error('usage: npx tsx scripts/bench-eval.ts --model DIR [--raw DIR] [--use-lite] [--out DIR] [--tasks sts,pair,...]');
const out = v.out ?? join(tmpdir(), `bench-eval-${process.pid}`);
mkdirSync(out, { recursive: true });

type Rec = { anchor: string; positive: string; negative?: string; group?: string };
const jsonl = (file: string): Rec[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);
const clean = (s: string) => s.replace(/\s+/g, ' ').trim();

function buildTasks(): Record<string, string> {
  const files: Record<string, string> = { sts: join(SHARED, 'eval', 'stsb', 'dev.tsv') };
  const triplets = jsonl(join(SHARED, 'train', 'snli_devtest_test-triplets.jsonl')).filter((r) => r.negative);
  files.pair = join(out, 'snli_test_pairs.tsv');
  writeFileSync(
    files.pair,
    'sentence1\tsentence2\tlabel\n' +
      triplets.flatMap((r) => [`${clean(r.anchor)}\t${clean(r.positive)}\t1`, `${clean(r.anchor)}\t${clean(r.negative!)}\t0`]).join('\n') +
      '\n',
  );
  files.rerank = join(SHARED, 'train', 'snli_devtest_test-triplets.jsonl');
  const groups = new Map<string, Set<string>>();
  for (const r of jsonl(join(SHARED, 'train', 'flickr8k_test-pairs.jsonl'))) {
    const g = groups.get(r.group!) ?? new Set<string>();
    g.add(clean(r.anchor));
    g.add(clean(r.positive));
    groups.set(r.group!, g);
  }
  const full = [...groups.entries()].filter(([, caps]) => caps.size >= 5);
  files.cluster = join(out, 'flickr8k_test_cluster.tsv');
  writeFileSync(
    files.cluster,
    'text\tlabel\n' +
      full
        .slice(0, 100)
        .flatMap(([g, caps]) => [...caps].slice(0, 5).map((c) => `${c}\t${g}`))
        .join('\n') +
      '\n',
  );
  files.retrieval = join(out, 'flickr8k_test_retrieval.jsonl');
  writeFileSync(
    files.retrieval,
    full
      .slice(0, 500)
      .map(([, caps]) => {
        const [q, ...rest] = [...caps];
        return JSON.stringify({ query: q, positive: rest });
      })
      .join('\n') + '\n',
  );
  return files;
}

const files = buildTasks();
const kinds = v.tasks ? v.tasks.split(',') : Object.keys(files);
const args = ['eval', '--model', v.model, '--json', '--out', join(out, 'eval.json')];
for (const k of kinds) args.push('--task', `${k}=${files[k]}`);
if (v.raw) args.push('--raw', v.raw);
if (v['use-lite']) args.push('--use-lite');
// eval's own JSON also lands in eval.json: silence it so stdout holds only this script's table.
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write;
const t0 = performance.now();
const code = await main(args);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write = write;
if (code !== 0) process.exit(code);

const ev = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as {
  models: { name: string; seconds: number; dims: number[] }[];
  results: { model: string; task: string; kind: string; dim: number; binary: boolean; metric: string; score: number | null; main: boolean }[];
};
const main_ = ev.results.filter((r) => r.main);
const taskCols = [...new Map(main_.map((r) => [`${r.kind}:${r.task}`, r])).values()];
const rows = [...new Map(main_.map((r) => [`${r.model}\u0000${r.dim}\u0000${r.binary}`, r])).values()];
const fmt = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(4));
console.log(`| model | dim | mode | ${taskCols.map((t) => `${t.kind} ${t.task} (${t.metric})`).join(' | ')} |`);
console.log(`|---|---:|---|${taskCols.map(() => '---:').join('|')}|`);
for (const r of rows) {
  const cells = taskCols.map((t) =>
    fmt(main_.find((x) => x.model === r.model && x.dim === r.dim && x.binary === r.binary && x.kind === t.kind && x.task === t.task)?.score),
  );
  console.log(`| ${r.model} | ${r.dim} | ${r.binary ? 'binary' : 'dense'} | ${cells.join(' | ')} |`);
}
console.log('');
for (const m of ev.models) console.log(`- ${m.name}: ${m.seconds.toFixed(1)} s (dims ${m.dims.join(', ')})`);
console.log(`- total pipeline eval: ${seconds.toFixed(1)} s; task files and eval.json in ${out}`);
