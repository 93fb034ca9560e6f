/**
 * Corpus-scale top-k (src/embed/topk.ts), one thread:
 *  1. exact top-10 of 100 queries over 1,000,000 × 256 seeded random f32 documents (goal ≤ 5 s with bounded
 *     memory: the documents' 1 GB plus O(queries × block) — peak RSS printed), and the binary first pass
 *     (`searchRows` with `candidates`, codes built once beforehand) at the same shape;
 *  2. recall@10 of the binary first pass against exact, on real text: the unique sentences of the caption and
 *     paraphrase sets in ../shared/data/train embedded by a seeded 32000 × 256 f16 model with the real Llama-2
 *     tokenizer (a bag-of-tokens embedding: its neighbours are texts sharing tokens), 100 queries that are the
 *     paired sentences of 100 documents.
 * Wall and CPU seconds are both printed because the machine is shared; the load average goes with each line.
 *
 *   nice npx tsx scripts/bench-topk.ts [--docs N] [--queries N]
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { binarize } from '../src/embed/binary.ts';
import { loadModelFromBuffers } from '../src/embed/load.ts';
import { searchRows, topkRows, type TopK } from '../src/embed/topk.ts';
import type { Embeddings } from '../src/embed/types.ts';
import { encodeFromF32 } from '../src/safetensors/dtype.ts';
import { encodeHeader } from '../src/safetensors/header.ts';
import { mulberry32 } from '../src/util/random.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const DOCS = flag('--docs', 1_000_000);
const QUERIES = flag('--queries', 100);
const DIM = 256;
const K = 10;
const REPO = resolve(import.meta.dirname, '..');
const SHARED = resolve(REPO, '..', 'shared');

const load = () => loadavg()[0]!.toFixed(2);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const peakRss = () => process.resourceUsage().maxRSS * 1024;

function timed<T>(work: () => T): { value: T; wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = work();
  const c = process.cpuUsage(c0);
  return { value, wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

function randomRows(rows: number, seed: number): Embeddings {
  const next = mulberry32(seed);
  const data = new Float32Array(rows * DIM);
  for (let i = 0; i < data.length; i++) data[i] = next() * 2 - 1;
  return { data, rows, dim: DIM };
}

function recall(exact: TopK, approx: TopK): number {
  let hit = 0;
  for (let q = 0; q < exact.rows; q++) {
    const want = new Set(exact.indices.subarray(q * exact.k, (q + 1) * exact.k));
    for (const i of approx.indices.subarray(q * approx.k, (q + 1) * approx.k)) if (want.has(i)) hit++;
  }
  return hit / (exact.rows * exact.k);
}

// 1. Throughput at 1M × 256.
{
  const rssStart = process.memoryUsage().rss;
  const docs = randomRows(DOCS, 1);
  const queries = randomRows(QUERIES, 2);
  const rssInputs = process.memoryUsage().rss;
  console.log(`${QUERIES} queries × ${DOCS} docs × ${DIM} f32 (${mb(docs.data.byteLength)} of documents), top-${K}, 1 thread`);
  const exact = timed(() => topkRows(queries, docs, K));
  const goal = exact.wall <= 5 ? 'met' : 'not met';
  console.log(`exact top-${K} (topkRows): ${exact.wall.toFixed(2)} s wall, ${exact.cpu.toFixed(2)} s CPU (goal 5 s: ${goal}) load ${load()}`);
  const pairs = QUERIES * DOCS;
  console.log(`  ${(pairs / exact.cpu / 1e6).toFixed(1)} M pairs/s per CPU second`);
  const codes = timed(() => binarize(docs));
  console.log(`sign-bit codes of the documents (binarize, once): ${codes.wall.toFixed(2)} s wall, ${mb(codes.value.data.byteLength)} load ${load()}`);
  for (const candidates of [100, 1000]) {
    const approx = timed(() => searchRows(queries, docs, K, { candidates, codes: codes.value }));
    console.log(
      `binary first pass + dense re-rank, candidates ${candidates}: ${approx.wall.toFixed(2)} s wall, ${approx.cpu.toFixed(2)} s CPU, ` +
        `recall@${K} ${recall(exact.value, approx.value).toFixed(3)} (random rows: the hardest case) load ${load()}`,
    );
  }
  console.log(
    `RSS: ${mb(rssStart)} at start, ${mb(rssInputs)} with the inputs, peak ${mb(peakRss())} ` +
      `(so the search itself adds ${mb(peakRss() - rssInputs)} over the inputs, whatever the corpus size)`,
  );
}

// 2. Recall on real text.
{
  const dir = join(SHARED, 'data', 'train');
  const tokenizer = join(SHARED, 'fixtures', 'tokenizer-llama2', 'tokenizer.json');
  if (!existsSync(dir) || !existsSync(tokenizer)) {
    console.log(`recall on real text skipped: ${dir} or ${tokenizer} is absent (needs ../shared)`);
  } else {
    const seen = new Map<string, number>();
    const pairs: [number, string][] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('-pairs.jsonl'))) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (!line) continue;
        const { anchor, positive } = JSON.parse(line) as { anchor?: string; positive?: string };
        if (typeof anchor !== 'string' || typeof positive !== 'string') continue;
        if (!seen.has(anchor)) seen.set(anchor, seen.size);
        pairs.push([seen.get(anchor)!, positive]);
      }
    }
    const texts = [...seen.keys()];
    const next = mulberry32(3);
    const picked = Array.from({ length: QUERIES }, () => pairs[Math.floor(next() * pairs.length)]!);
    const r = mulberry32(42);
    const v = new Float32Array(32000 * DIM);
    for (let i = 0; i < v.length; i++) v[i] = r() - 0.5;
    const data = encodeFromF32(v, 'F16').bytes;
    const { bytes: header } = encodeHeader([{ name: 'embedding.weight', dtype: 'F16', shape: [32000, DIM] }]);
    const safetensors = new Uint8Array(header.length + data.length);
    safetensors.set(header);
    safetensors.set(data, header.length);
    const config = { model_type: 'wordllama-ts', name: 'bench', dims: [DIM], pad_token: '</s>', normalize: true };
    const model = loadModelFromBuffers({ safetensors, tokenizerJson: readFileSync(tokenizer, 'utf8'), configJson: config });
    const docs = model.embed(texts, { norm: true });
    const queries = model.embed(
      picked.map(([, positive]) => positive),
      { norm: true },
    );
    const exact = topkRows(queries, docs, K);
    const codes = binarize(docs);
    let paired = 0;
    for (let q = 0; q < QUERIES; q++) if (exact.indices.subarray(q * K, (q + 1) * K).includes(picked[q]![0])) paired++;
    console.log(`real text: ${texts.length} unique sentences (${dir}), ${QUERIES} paired queries; exact top-${K} holds the pair for ${paired}`);
    for (const candidates of [10, 50, 100, 200, 500, 1000]) {
      const approx = timed(() => searchRows(queries, docs, K, { candidates, codes }));
      console.log(
        `  candidates ${candidates}: recall@${K} ${recall(exact, approx.value).toFixed(3)}, ${(approx.wall * 1000).toFixed(0)} ms wall load ${load()}`,
      );
    }
  }
}
