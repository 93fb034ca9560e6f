/**
 * The first pass over unseen text on one thread and on two (embedParallel), and the rest of issue 15's
 * library goals on real sentences: 50,000 distinct sentences from ../shared/data/train, the real Llama-2
 * tokenizer, a seeded 32000 × 256 f16 model loaded by `load` (its bytes in a SharedArrayBuffer).
 *  1. embed first pass, texts/s: every round loads a fresh model (empty word cache; on two threads the worker
 *     also builds its tokenizer inside the timed span), batches of 8192, one and two threads interleaved;
 *  2. the size where two threads start to pay (workers already hold the model; fresh slices each time);
 *  3. the whole process, 50k lines → .npy: `pipeline embed --input --output` under /usr/bin/time, --threads 1 and 2;
 *  4. cluster 10k (k = 20, 10 inits), one k-means iteration (assignment + update), split of 1 MB of text.
 * Wall seconds beside CPU seconds of the process (process.cpuUsage, all threads; the child's user + sys for the
 * CLI) and the load average, because the machine is shared.
 *
 *   nice npx tsx scripts/bench-embed-threads.ts [--rounds 3] [--skip-cli] [--json out.json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { embedParallel, load } from '../src/embed/node.ts';
import { kmeans } from '../src/embed/kmeans.ts';
import { trainSentences } from './train-sentences.ts';
import { writeBenchModel, timed, median, loadAverage as la } from './bench-model.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const rounds = Number(flag('--rounds') ?? 3);
const jsonOut = flag('--json');
const REPO = resolve(import.meta.dirname, '..');
const N = 50_000;

const all = trainSentences(N);
const texts = all.slice(0, N);
const dir = mkdtempSync(join(tmpdir(), 'bench-embed-threads-'));
const file = await writeBenchModel(dir);
const results: Record<string, unknown> = { node: process.version, texts: N, distinct_available: all.length, date: new Date().toISOString() };
console.log(`${N} distinct sentences of ../shared/data/train (${all.length} available), Llama-2 tokenizer, 32000 × 256 f16; load ${la()}`);

// 1. First pass, one vs two threads, interleaved rounds, a fresh model each time.
{
  const warmup = load(file);
  await embedParallel(warmup, all.slice(N, N + 4096), { threads: 2, minTexts: 0 }); // JIT of both code paths, workers started
  const rows: Record<string, { wall: number[]; cpu: number[] }> = { '1': { wall: [], cpu: [] }, '2': { wall: [], cpu: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const threads of [1, 2]) {
      const model = load(file);
      const t = await timed(async () => {
        for (let i = 0; i < N; i += 8192) await embedParallel(model, texts.slice(i, i + 8192), { threads });
      });
      rows[threads]!.wall.push(t.wall);
      rows[threads]!.cpu.push(t.cpu);
      console.log(
        `  first pass, ${threads} thread(s): ${t.wall.toFixed(2)} s wall = ${Math.round(N / t.wall)} texts/s; ${t.cpu.toFixed(2)} s CPU = ${Math.round(N / t.cpu)} texts per CPU s; load ${la()}`,
      );
    }
  }
  results.first_pass = Object.fromEntries(
    Object.entries(rows).map(([t, x]) => [
      `threads_${t}`,
      { wall_s: x.wall.map((s) => +s.toFixed(3)), cpu_s: x.cpu.map((s) => +s.toFixed(3)), median_texts_per_s: Math.round(N / median(x.wall)) },
    ]),
  );
}

// 2. Where two threads pay: the workers hold the model; each size gets fresh sentences for both sides.
{
  const model = load(file);
  await embedParallel(model, all.slice(N, N + 2048), { threads: 2, minTexts: 0 });
  let at = N + 2048;
  const out: Record<string, unknown>[] = [];
  for (const n of [128, 256, 512, 1024, 2048, 4096]) {
    const one = await timed(() => model.embed(all.slice(at, (at += n))));
    const two = await timed(() => embedParallel(model, all.slice(at, (at += n)), { threads: 2, minTexts: 0 }));
    out.push({ texts: n, one_ms: +(one.wall * 1000).toFixed(1), two_ms: +(two.wall * 1000).toFixed(1) });
    console.log(`  crossover ${n} texts: 1 thread ${(one.wall * 1000).toFixed(1)} ms, 2 threads ${(two.wall * 1000).toFixed(1)} ms; load ${la()}`);
  }
  results.crossover = out;
}

// 3. The whole process: 50k lines → .npy through the CLI.
if (!args.includes('--skip-cli')) {
  const input = join(dir, 'in.txt');
  writeFileSync(input, texts.join('\n') + '\n');
  const bin = join(REPO, 'bin', 'pipeline.js');
  const runs: Record<string, unknown>[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const threads of ['1', '2']) {
      const out = join(dir, `out${threads}.npy`);
      const p = spawnSync(
        '/usr/bin/time',
        ['-f', '%e %U %S %M', process.execPath, bin, 'embed', '--model', file, '--input', input, '--output', out, '--threads', threads, '--quiet'],
        {
          encoding: 'utf8',
        },
      );
      if (p.status !== 0) throw new Error(`pipeline embed failed: ${p.stderr}`);
      const [wall, user, sys, rssKb] = p.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number, number];
      runs.push({ threads: Number(threads), wall_s: wall, cpu_s: +(user + sys).toFixed(2), peak_rss_mb: Math.round(rssKb / 1024), load: Number(la()) });
      console.log(
        `  CLI 50k lines → .npy, --threads ${threads}: ${wall} s wall, ${(user + sys).toFixed(2)} s CPU, peak RSS ${Math.round(rssKb / 1024)} MB; load ${la()}`,
      );
    }
  }
  const same = readFileSync(join(dir, 'out1.npy')).equals(readFileSync(join(dir, 'out2.npy')));
  console.log(`  .npy of --threads 1 and 2 identical: ${same}`);
  results.cli = { runs, identical: same, note: 'bin/pipeline.js (TypeScript through tsx: ~0.4 s of start-up included)' };
}

// 4. cluster 10k, one k-means iteration, split 1 MB.
{
  const model = load(file);
  const docs = all.slice(N, N + 10_000);
  const c = await timed(() => model.cluster(docs, 20));
  console.log(`  cluster 10k (k 20, 10 inits, embedding included): ${c.wall.toFixed(2)} s wall, ${c.cpu.toFixed(2)} s CPU; load ${la()}`);
  const x = model.embed(docs, { norm: true });
  // Iterations without early stop (tolerance < 0): the difference of 21 and 1 iterations over 20 is one
  // assignment + update, without the k-means++ seeding.
  const it = (n: number) => timed(() => kmeans(x, 20, { nInit: 1, maxIterations: n, minIterations: n, tolerance: -1 }));
  await it(3);
  const t1 = await it(1);
  const t21 = await it(21);
  const iterMs = ((t21.wall - t1.wall) / 20) * 1000;
  const iterCpuMs = ((t21.cpu - t1.cpu) / 20) * 1000;
  console.log(`  k-means iteration 10000 × 256, k 20: ${iterMs.toFixed(1)} ms wall, ${iterCpuMs.toFixed(1)} ms CPU; load ${la()}`);
  let text = '';
  for (let i = N + 10_000; text.length < 1_000_000; i++) text += all[i % all.length] + (i % 6 === 5 ? '\n\n' : ' ');
  text = text.slice(0, 1_000_000);
  model.split(text.slice(0, 50_000));
  const s = await timed(() => model.split(text));
  console.log(`  split 1 MB (${s.value.length} chunks): ${s.wall.toFixed(2)} s wall, ${s.cpu.toFixed(2)} s CPU; load ${la()}`);
  results.cluster_10k = { wall_s: +c.wall.toFixed(2), cpu_s: +c.cpu.toFixed(2) };
  results.kmeans_iteration_ms = { wall: +iterMs.toFixed(1), cpu: +iterCpuMs.toFixed(1) };
  results.split_1mb = { wall_s: +s.wall.toFixed(2), cpu_s: +s.cpu.toFixed(2), chunks: s.value.length };
}

rmSync(dir, { recursive: true, force: true });
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results));
