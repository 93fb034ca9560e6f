/**
 * Where `split` of 1 MB of real text spends its time, and the split on one thread and on two (splitParallel).
 * The text is bench-embed-threads.ts's (distinct sentences of ../shared/data/train in a seeded shuffle, from
 * sentence 60,000 on, a blank line after every sixth), the model its seeded 32000 × 256 f16 rows with the real
 * Llama-2 tokenizer. Each round loads a fresh model (empty word cache) and warms it on the text's first 50 kB,
 * as bench-embed-threads.ts does, then times:
 *  - the phases of `model.split` on one thread: planSplit (lines, sentences, coalescing: the pieces), embedding
 *    the pieces (`model.embed(pieces, { norm: true })`, a first pass over unseen text), chunksOf (windowed
 *    similarity, Savitzky–Golay minima, quantile, coalescing into chunks);
 *  - `model.split(text)` whole, on a second fresh model;
 *  - `splitParallel(model, text, { threads: 2 })` on a third (its worker warmed on the same 50 kB).
 * Then the JS around the embedding alone (pieces and cut points, the embedder returning random unit rows) on
 * the same 1 MB shaped five ways: paragraphs, one line, one line without sentence ends, no whitespace, a word per line.
 * CPU seconds of the process (process.cpuUsage: all threads) beside wall seconds, and the load average, because
 * the machine is shared. Chunks of the three ways are compared (they must be equal).
 *
 *   nice npx tsx scripts/bench-split.ts [--rounds 3] [--js-only] [--reference path/to/split.ts] [--json out.json]
 *
 * --reference times another split module's `semanticSplit(text, pieces => model.embed(pieces, { norm: true }))`
 * on a fresh model in each round too, e.g. the previous version (`git show <commit>:src/embed/split.ts >
 * src/embed/split-reference.tmp.ts`, so its imports resolve), and checks its chunks are the same.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { embedParallel, load, semanticSplit, splitParallel, type Embeddings, type StaticModel } from '../src/embed/node.ts';
import { chunksOf, planSplit } from '../src/embed/split.ts';
import { mulberry32 } from '../src/util/random.ts';
import { trainSentences } from './train-sentences.ts';
import { writeBenchModel, timed, median, loadAverage as la } from './bench-model.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const rounds = Number(flag('--rounds') ?? 3);
const skipRounds = args.includes('--js-only');
const jsonOut = flag('--json');
const referencePath = flag('--reference');

const same = (a: string[], b: string[]) => a.length === b.length && a.every((c, i) => c === b[i]);

const all = trainSentences(0);
let text = '';
for (let i = 60_000; text.length < 1_000_000; i++) text += all[i % all.length] + (i % 6 === 5 ? '\n\n' : ' ');
text = text.slice(0, 1_000_000);
const warmText = text.slice(0, 50_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-split-'));
const file = await writeBenchModel(dir);
const reference = referencePath
  ? ((await import(resolve(referencePath))) as { semanticSplit: (t: string, e: (p: string[]) => Embeddings) => string[] }).semanticSplit
  : undefined;
const fresh = (): StaticModel => {
  const m = load(file);
  m.split(warmText);
  return m;
};

const rows: Record<string, { wall: number[]; cpu: number[] }> = {};
const record = (name: string, t: { wall: number; cpu: number }) => {
  (rows[name] ??= { wall: [], cpu: [] }).wall.push(t.wall);
  rows[name]!.cpu.push(t.cpu);
};
let chunks: string[] = [];
let pieces = 0;
let identical = true;
console.log(`split of 1 MB (${all.length} distinct sentences available), Llama-2 tokenizer, 32000 × 256 f16; load ${la()}`);
// The workers start (and JIT) outside the timed spans; each round's fresh model is new to them.
await embedParallel(load(file), all.slice(0, 4096), { threads: 2, minTexts: 0 });
for (let r = 0; r < (skipRounds ? 0 : rounds); r++) {
  {
    const m = fresh();
    const plan = await timed(() => planSplit(text));
    const embed = await timed(() => m.embed(plan.value.strings, { norm: true }));
    const cut = await timed(() => chunksOf(plan.value, embed.value));
    record('phase: planSplit (pieces)', plan);
    record('phase: embed pieces', embed);
    record('phase: chunksOf (similarity, minima, chunks)', cut);
    chunks = cut.value;
    pieces = plan.value.pieces.length;
  }
  {
    const m = fresh();
    const t = await timed(() => m.split(text));
    record('model.split, 1 thread', t);
    identical &&= same(t.value, chunks);
  }
  {
    const m = load(file);
    await splitParallel(m, warmText, { threads: 2, minTexts: 0 });
    const t = await timed(() => splitParallel(m, text, { threads: 2 }));
    record('splitParallel, 2 threads', t);
    identical &&= same(t.value, chunks);
  }
  if (reference) {
    const m = fresh();
    const t = await timed(() => reference(text, (p) => m.embed(p, { norm: true })));
    record(`reference ${referencePath}, 1 thread`, t);
    identical &&= same(t.value, chunks);
  }
  console.log(
    `  round ${r + 1}: ` +
      Object.entries(rows)
        .map(([k, v]) => `${k} ${v.wall.at(-1)!.toFixed(3)} s wall / ${v.cpu.at(-1)!.toFixed(3)} s CPU`)
        .join('; ') +
      `; load ${la()}`,
  );
}
// The JS around the embedding alone, on 1 MB shaped five ways (the embedder returns seeded random unit rows, so
// only the splitting is timed): best of five runs, CPU seconds.
const shapes: Record<string, string> = {
  paragraphs: text,
  'one line': text.replace(/\n/g, ' '),
  'one line, no sentence ends': text.replace(/\n/g, ' ').replace(/[.!?]/g, ','),
  'no whitespace': text.replace(/\s/g, '_'),
  'a word per line': text.replace(/ /g, '\n'),
};
const randomRows = (pieces: string[]): Embeddings => {
  const r = mulberry32(pieces.length);
  const dim = 64;
  const data = new Float32Array(pieces.length * dim);
  for (let i = 0; i < pieces.length; i++) {
    let n = 0;
    for (let d = 0; d < dim; d++) n += (data[i * dim + d] = r() - 0.5) ** 2;
    for (let d = 0; d < dim; d++) data[i * dim + d]! /= Math.sqrt(n);
  }
  return { data, rows: pieces.length, dim };
};
const jsOnly: Record<string, Record<string, number>> = {};
for (const [name, t] of Object.entries(shapes)) {
  const ways: Record<string, (t: string) => string[]> = { split: (t) => semanticSplit(t, randomRows) };
  if (reference) ways.reference = (t) => reference(t, randomRows);
  const out: Record<string, string[]> = {};
  for (const [way, run] of Object.entries(ways)) {
    let best = Infinity;
    for (let k = 0; k < 5; k++) {
      const x = await timed(() => run(t));
      best = Math.min(best, x.cpu);
      out[way] = x.value;
    }
    (jsOnly[name] ??= {})[`${way}_cpu_s`] = +best.toFixed(3);
  }
  if (out.reference) identical &&= same(out.split!, out.reference);
  console.log(
    `  JS only, ${name}: ${out.split!.length} chunks, ${Object.entries(jsOnly[name]!)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; load ${la()}`,
  );
}

const results = {
  node: process.version,
  date: new Date().toISOString(),
  chars: text.length,
  pieces,
  chunks: chunks.length,
  identical,
  load_avg_end: +la(),
  js_only_best_of_5: jsOnly,
  median: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, { wall_s: +median(v.wall).toFixed(3), cpu_s: +median(v.cpu).toFixed(3) }])),
};
if (!skipRounds) console.log(`${pieces} pieces → ${chunks.length} chunks`);
console.log(`all ways give the same chunks: ${identical}`);
for (const [k, v] of Object.entries(results.median)) console.log(`  median ${k}: ${v.wall_s} s wall, ${v.cpu_s} s CPU`);
rmSync(dir, { recursive: true, force: true });
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
process.exit(identical ? 0 : 1);
