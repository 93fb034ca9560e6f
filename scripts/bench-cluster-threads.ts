/**
 * cluster 10k on one and two threads (`clusterThreads`: embedParallel, then kmeansThreads; k = 20, 10 inits,
 * the defaults), and where its time goes: embedding 10k unseen sentences with a fresh model, k-means++ seeding
 * of 10 inits. 10,000 distinct sentences of ../shared/data/train (seeded shuffle), the Llama-2 tokenizer, a
 * seeded 32000 × 256 f16 model. Wall and CPU seconds (process.cpuUsage, all threads) and the load average.
 *
 *   nice npx tsx scripts/bench-cluster-threads.ts
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { clusterThreads, load } from '../src/embed/node.ts';
import { kmeansPlusPlus } from '../src/embed/kmeans.ts';
import { encodeFromF32 } from '../src/safetensors/dtype.ts';
import { writeSafetensors } from '../src/safetensors/writer.ts';
import { mulberry32 } from '../src/util/random.ts';

const SHARED = resolve(import.meta.dirname, '..', '..', 'shared');
const trainDir = join(SHARED, 'data', 'train');
const seen = new Set<string>();
for (const f of readdirSync(trainDir)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()) {
  for (const line of readFileSync(join(trainDir, f), 'utf8').split('\n')) {
    if (!line) continue;
    for (const v of Object.values(JSON.parse(line) as Record<string, unknown>)) if (typeof v === 'string' && v.length > 0 && !/[\r\n]/.test(v)) seen.add(v);
  }
}
const all = [...seen];
const shuffle = mulberry32(11);
for (let i = all.length - 1; i > 0; i--) {
  const j = Math.floor(shuffle() * (i + 1));
  [all[i], all[j]] = [all[j]!, all[i]!];
}
const docs = all.slice(50_000, 60_000);

const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
const r = mulberry32(42);
const values = new Float32Array(32000 * 256);
for (let i = 0; i < values.length; i++) values[i] = r() - 0.5;
const file = join(dir, 'bench_256.safetensors');
await writeSafetensors(file, [{ name: 'embedding.weight', dtype: 'F16', shape: [32000, 256], data: encodeFromF32(values, 'F16').bytes }]);
copyFileSync(join(SHARED, 'fixtures', 'tokenizer-llama2', 'tokenizer.json'), join(dir, 'tokenizer.json'));
writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'wordllama', normalize: true }));

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
async function timed(what: string, work: () => unknown): Promise<void> {
  const c0 = cpu();
  const t0 = performance.now();
  const v = await work();
  const tail = typeof v === 'number' ? `, inertia ${v}` : '';
  console.log(`${what}: ${((performance.now() - t0) / 1000).toFixed(2)} s wall, ${(cpu() - c0).toFixed(2)} s CPU${tail}; load ${loadavg()[0]!.toFixed(2)}`);
}
for (const threads of [1, 2]) {
  const model = load(file);
  await timed(`cluster 10k, ${threads} thread(s)`, async () => (await clusterThreads(model, docs, 20, { threads })).inertia);
}
const x = load(file).embed(docs, { norm: true });
await timed('embed 10k, fresh model, 1 thread', () => void load(file).embed(docs, { norm: true }));
await timed('k-means++ seeding, 10 inits', () => {
  const rand = mulberry32(0);
  for (let i = 0; i < 10; i++) kmeansPlusPlus(x.data, x.rows, 256, 20, rand, new Float32Array(20 * 256));
});
rmSync(dir, { recursive: true, force: true });
