/**
 * Training-step speed at real shapes (how close a JS step gets to PyTorch's), run with `nice npx tsx scripts/bench-train.ts`:
 * ms per optimizer step (gather rows → JS pooling → TF.js projection + Matryoshka MNRL forward/backward →
 * token-weight gradient → clip → AdamW) at Gemma-2 2B's shape (256000 × 2304 → 1024, dims 1024…64) and
 * USE-lite's (8002 × 256 → 256), batch 512 pairs, per backend, with peak RSS.
 *
 * The input matrix is a random f16 safetensors file on disk (written once to the temp dir and reused; 1.18 GB
 * for Gemma-2 2B, 5.4 GB for the supercat shape 256000x10496x1024), read through the same row gatherer as
 * training, which holds it as the trainer would (`--modes`).
 * Batches mimic speed_ref.py: sentence lengths drawn from STS-B's tokenized lengths
 * (../shared/reference/stsb_token_lengths.json) rescaled to mean 24, clipped to 1..128, token ids uniform
 * over the vocabulary (a worst case for gathering: real text repeats tokens far more).
 *
 *   --sizes 256000x2304x1024,8002x256x256   shapes VOCABxINxOUT
 *   --backends wasm[,cpu,tensorflow]          backends to time (default: every one that loads, except cpu
 *                                             at the big shape: minutes per step)
 *   --batch 512 --mean-len 24 --steps 10 --warmup 2
 *   --pytorch                                 also run ../shared/reference/speed_ref.py (WordLlama's recipe in
 *                                             PyTorch) on the same shapes, side by side
 *   --torch-variants LIST                     speed_ref.py's variants (default all: token,packed,pooled,packed_pooled;
 *                                             packed_pooled is PyTorch's best form, the one to compare with)
 *   --modes LIST                              our configurations per round: default (the trainer's: f16 bytes held
 *                                             when they fit and pooled in place, no gather; else rows read from the
 *                                             file with the next batch prefetched), no-prefetch, disk (rows read from the file, prefetched),
 *                                             disk-no-prefetch, f32 (matrix held as f32)
 *   --repeat N                                run ours and PyTorch back to back N times (medians over the repeats
 *                                             are printed at the end)
 *   --install-torch                           apt-get install python3-torch python3-numpy first when missing
 *   --async-gather                            gather through the async RowMatrix instead of sync reads
 *   --threads 1|2                             [training] threads: 2 (default) runs half of the matMuls in a
 *                                             worker_thread with its own TF.js wasm instance (wasm only)
 *   --memory-mb N                             [training] memory_cache_mb: hold the input in memory as f32 when it
 *                                             fits (PyTorch's reference keeps its matrix in memory); default 1024
 *   --raw-mb N                                hold the f16 file's bytes in memory when they fit N MB (default: the
 *                                             trainer's budget, row-gatherer.ts defaultRawBudgetBytes; 0 = read
 *                                             rows from the file every step)
 *   --no-prefetch                             gather each batch on the main thread instead of prefetching the next
 *                                             batch's rows on a worker thread during the step (the trainer's default)
 *   --delete-matrix                           remove the temp matrix files afterwards (kept by default for the next
 *                                             run; the supercat shape 256000x10496x1024 writes 5.4 GB)
 *   --recipe wordllama|ours                   ours adds learned token offsets (token_delta, sparse row AdamW)
 *                                             and duplicate masking, as config/use_lite.toml trains
 *   --json FILE                               write all results
 * Each (size, backend) runs in a child process so peak RSS is its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openSafetensorsMatrix } from '../src/matrix/row-matrix.ts';
import { SafetensorsWriter } from '../src/safetensors/writer.ts';
import { f32ToF16Bits } from '../src/safetensors/dtype.ts';
import { selectBackend } from '../src/tfjs/backend.ts';
import { parseTrainConfig } from '../src/train/config.ts';
import { parseConfig } from '../src/config/load.ts';
import { createRowGatherer } from '../src/train/data/row-gatherer.ts';
import { initParams } from '../src/train/start/init-params.ts';
import { Rng } from '../src/util/random.ts';
import { createOptimizer, trainStep, type StepReport } from '../src/train/step/train-step.ts';
import { MatmulHelper } from '../src/train/parallel.ts';
import type { TokenizedRecord } from '../src/data/types.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED_REF = resolve(ROOT, '..', 'shared', 'reference');

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256000x2304x1024,8002x256x256' },
    backends: { type: 'string' },
    batch: { type: 'string', default: '512' },
    'mean-len': { type: 'string', default: '24' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    pytorch: { type: 'boolean' },
    'install-torch': { type: 'boolean' },
    'torch-variants': { type: 'string' },
    repeat: { type: 'string', default: '1' },
    modes: { type: 'string', default: 'default' },
    json: { type: 'string' },
    'async-gather': { type: 'boolean' },
    recipe: { type: 'string', default: 'wordllama' },
    'memory-mb': { type: 'string' },
    'raw-mb': { type: 'string' },
    'no-prefetch': { type: 'boolean' },
    'delete-matrix': { type: 'boolean' },
    threads: { type: 'string', default: '2' },
    child: { type: 'string' },
  },
});

const DIMS = [1024, 512, 256, 128, 64];

const matrixPath = (V: number, D: number): string => join(tmpdir(), `bench-train-${V}x${D}-f16.safetensors`);

async function matrixFile(V: number, D: number): Promise<string> {
  const path = matrixPath(V, D);
  if (existsSync(path)) return path;
  process.stderr.write(`writing random f16 matrix ${V} x ${D} to ${path} ...\n`);
  // Values ~N(0, 0.02²) as f16 bits: 65536 draws encoded once, then picked per element by a 16-bit index from a
  // xorshift32 stream (the 5.4 GB supercat matrix in seconds rather than minutes of per-element encoding).
  const rng = new Rng(1);
  const table = new Uint16Array(65536);
  for (let i = 0; i < table.length; i++) table[i] = f32ToF16Bits((rng.next() + rng.next() + rng.next() - 1.5) * 0.04);
  let x = 0x9e3779b9;
  const w = await SafetensorsWriter.create(path, [{ name: 'embedding', dtype: 'F16', shape: [V, D] }]);
  const block = 4096;
  const bits = new Uint16Array(block * D);
  for (let r = 0; r < V; r += block) {
    const n = Math.min(block, V - r) * D;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bits[i] = table[x & 0xffff]!;
    }
    await w.write(new Uint8Array(bits.buffer, 0, n * 2));
  }
  await w.commit();
  return path;
}

/** Bytes read by this process so far (all threads), from /proc/self/io; 0 where there is none. */
function readChars(): number {
  try {
    return Number(/rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function makeBatches(V: number, batch: number, meanLen: number, n: number, seed: number): TokenizedRecord[][] {
  const lensPath = join(SHARED_REF, 'stsb_token_lengths.json');
  const lens: number[] = existsSync(lensPath) ? JSON.parse(readFileSync(lensPath, 'utf8')) : [10];
  const mean = lens.reduce((a, b) => a + b, 0) / lens.length;
  const scale = meanLen / mean;
  const rng = new Rng(seed);
  const seq = () => {
    const L = Math.min(128, Math.max(1, Math.round(lens[rng.int(lens.length)]! * scale)));
    return Int32Array.from({ length: L }, () => rng.int(V));
  };
  return Array.from({ length: n }, () => Array.from({ length: batch }, () => ({ anchor: seq(), positive: seq() })));
}

/** Our configurations to time in each round (`--modes`): extra flags for the child. */
const MODES: Record<string, string[]> = {
  default: [],
  'no-prefetch': ['--no-prefetch'],
  disk: ['--raw-mb', '0'],
  'disk-no-prefetch': ['--raw-mb', '0', '--no-prefetch'],
  f32: ['--memory-mb', '4096'],
};

interface Round {
  load_before: number;
  load_after?: number;
  ours: (Row & { mode: string })[];
  pytorch?: { rows?: Record<string, number | string>[] };
}

interface Row {
  vocab: number;
  in_dim: number;
  out_dim: number;
  backend: string;
  backend_reason: string;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  breakdown_median_ms: { gather: number; grads: number; update: number };
  /** How the gatherer held the matrix (f32, raw = the f16 bytes in memory, disk) and whether it prefetched. */
  holding: string;
  prefetch: boolean;
  /** Bytes this process read (read/pread syscalls, /proc/self/io rchar) per timed step, page cache included. */
  read_mb_per_step: number;
  mean_tokens: number;
  mean_unique_tokens: number;
  peak_rss_mb: number;
  steps_timed: number;
}

async function child(spec: string): Promise<void> {
  const [size, backendName] = spec.split('@') as [string, string];
  const [V, D, O] = size.split('x').map(Number) as [number, number, number];
  const batch = Number(args.batch);
  const steps = Number(args.steps);
  const warm = Number(args.warmup);
  const dims = DIMS.filter((d) => d <= O);
  const backend = await selectBackend(backendName);
  const path = await matrixFile(V, D);
  const matrix = await openSafetensorsMatrix(path, 'embedding');
  const ours = args.recipe === 'ours';
  if (!ours && args.recipe !== 'wordllama') throw new Error(`--recipe: expected wordllama or ours, got ${args.recipe}`);
  const training = {
    batch_size: batch,
    lr: 3e-4,
    ...(ours ? { token_delta: true, token_delta_lr_scale: 0.3, mask_duplicates: true } : {}),
    ...(args['memory-mb'] !== undefined ? { memory_cache_mb: Number(args['memory-mb']) } : {}),
  };
  const config = parseConfig({ model: { path, dim: D, n_vocab: V, pad_token: 'x' }, matryoshka: { dims }, training }, join(ROOT, 'bench.toml'));
  const cfg = parseTrainConfig(config);
  const gatherer = await createRowGatherer(matrix, {
    memoryCacheMb: cfg.memoryCacheMb,
    syncFile: args['async-gather'] ? undefined : { path, tensor: 'embedding' },
    rawBudgetBytes: args['raw-mb'] !== undefined ? Number(args['raw-mb']) * 1e6 : undefined,
    prefetch: !args['no-prefetch'],
  });
  const params = initParams({
    nVocab: V,
    dimIn: D,
    dimOut: O,
    rng: new Rng(0),
    tokenWeights: true,
    stopwordIds: Array.from({ length: 190 }, (_, i) => 10 + i),
    tokenDelta: ours,
  });
  const opt = createOptimizer(params, true);
  const helper = backend.name === 'wasm' && args.threads === '2' ? await MatmulHelper.start((why) => process.stderr.write(`one thread: ${why}\n`)) : undefined;
  const batches = makeBatches(V, batch, Number(args['mean-len']), warm + steps, 0);
  const reps: StepReport[] = [];
  const times: number[] = [];
  let rchar0 = 0;
  for (let k = 0; k < batches.length; k++) {
    if (k === warm) rchar0 = readChars();
    const t0 = performance.now();
    const next = batches[k + 1];
    const r = await trainStep(backend.tf, { params, opt, gatherer, cfg, records: batches[k]!, step: k, totalSteps: 1000, warmupSteps: 0, helper, next });
    const dt = performance.now() - t0;
    if (k >= warm) {
      times.push(dt);
      reps.push(r);
    }
  }
  const readMb = (readChars() - rchar0) / 1e6 / steps;
  await gatherer.close();
  await matrix.close();
  await helper?.close();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const row: Row = {
    vocab: V,
    in_dim: D,
    out_dim: O,
    backend: helper ? `${backend.name} ×2 threads` : backend.name,
    backend_reason: backend.reason,
    median_ms: med(times),
    min_ms: Math.min(...times),
    max_ms: Math.max(...times),
    breakdown_median_ms: { gather: med(reps.map((r) => r.ms.gather)), grads: med(reps.map((r) => r.ms.grads)), update: med(reps.map((r) => r.ms.update)) },
    holding: gatherer.holding,
    prefetch: !args['no-prefetch'] && gatherer.holding === 'disk',
    read_mb_per_step: readMb,
    mean_tokens: reps.reduce((a, r) => a + r.tokens, 0) / reps.length,
    mean_unique_tokens: reps.reduce((a, r) => a + r.uniqueTokens, 0) / reps.length,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    steps_timed: times.length,
  };
  process.stdout.write(JSON.stringify(row) + '\n');
}

function pytorch(sizes: string): Round['pytorch'] {
  const script = join(SHARED_REF, 'speed_ref.py');
  if (!existsSync(script)) {
    process.stderr.write(`skipping PyTorch reference: ${script} not found\n`);
    return undefined;
  }
  const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy, scipy'], { stdio: 'ignore' }).status === 0;
  if (!hasTorch) {
    if (!args['install-torch']) {
      process.stderr.write(
        'skipping PyTorch reference: python3-torch missing (rerun with --install-torch, or apt-get install -y python3-torch python3-numpy python3-scipy)\n',
      );
      return undefined;
    }
    process.stderr.write('installing python3-torch python3-numpy python3-scipy with apt-get ...\n');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'python3-torch', 'python3-numpy', 'python3-scipy'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  const out = join(tmpdir(), `speed_ref-${process.pid}.json`);
  const res = spawnSync(
    '/usr/bin/python3',
    [
      script,
      '--sizes',
      sizes,
      '--batch',
      String(args.batch),
      '--mean-len',
      String(args['mean-len']),
      '--steps',
      String(args.steps),
      '--threads',
      '2',
      ...(args['torch-variants'] ? ['--variants', args['torch-variants']] : []),
      '--json',
      out,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  process.stderr.write(res.stdout);
  if (res.status === 0 && existsSync(out)) return JSON.parse(readFileSync(out, 'utf8')) as Round['pytorch'];
  // speed_ref.py's closing table needs the `token` variant (its ratios): without it the script exits 1 after
  // timing, so the rows come from its per-variant lines, e.g. "packed_pooled median 4676.5 ms/step  (min 3919.2, max 7045.8, 8 steps)".
  process.stderr.write(`speed_ref.py exited ${res.status}; reading its per-variant lines\n`);
  const rows: Record<string, number | string>[] = [];
  let shape: Record<string, number> = {};
  for (const line of res.stdout.split('\n')) {
    const size = /^## size vocab=(\d+) in=(\d+) out=(\d+)/.exec(line);
    if (size) shape = { vocab: Number(size[1]), in_dim: Number(size[2]), out_dim: Number(size[3]) };
    const m = /^(\w+)\s+median\s+([\d.]+) ms\/step\s+\(min ([\d.]+), max ([\d.]+)/.exec(line);
    if (m) rows.push({ ...shape, variant: m[1]!, median_ms: Number(m[2]), min_ms: Number(m[3]), max_ms: Number(m[4]) });
  }
  return rows.length > 0 ? { rows } : undefined;
}

async function main(): Promise<void> {
  if (args.child) {
    try {
      return await child(args.child);
    } catch (err) {
      process.stderr.write(`${args.child}: ${(err as Error).message}\n`);
      process.exit(3);
    }
  }
  const sizes = args.sizes!.split(',');
  const modes = args.modes!.split(',');
  for (const m of modes) if (!(m in MODES)) throw new Error(`--modes: unknown mode ${m}; expected ${Object.keys(MODES).join(', ')}`);
  const rounds: Round[] = [];
  const label = (r: Row & { mode: string }) => `ours, TF.js ${r.backend}, ${r.mode} (${r.holding}${r.prefetch ? ', prefetch' : ''})`;
  for (let k = 0; k < Number(args.repeat); k++) {
    const round: Round = { load_before: loadavg()[0]!, ours: [] };
    for (const size of sizes) {
      const big = Number(size.split('x')[0]) * Number(size.split('x')[1]) > 1e8;
      const backends = args.backends ? args.backends.split(',') : ['tensorflow', 'wasm', ...(big ? [] : ['cpu'])];
      for (const b of backends) {
        for (const mode of modes) {
          const res = spawnSync(
            process.execPath,
            [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), ...MODES[mode]!, '--child', `${size}@${b}`],
            { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 24 },
          );
          if (res.status !== 0) {
            process.stderr.write(`${size} @ ${b} ${mode}: not available (exit ${res.status})\n`);
            continue;
          }
          const row = { ...(JSON.parse(res.stdout.trim().split('\n').pop()!) as Row), mode };
          round.ours.push(row);
          process.stderr.write(
            `${size} @ ${label(row)}: median ${row.median_ms.toFixed(0)} ms/step (min ${row.min_ms.toFixed(0)}, max ${row.max_ms.toFixed(0)}; gather ${row.breakdown_median_ms.gather.toFixed(0)}, grads ${row.breakdown_median_ms.grads.toFixed(0)}, update ${row.breakdown_median_ms.update.toFixed(0)}), peak RSS ${row.peak_rss_mb.toFixed(0)} MB, read ${row.read_mb_per_step.toFixed(0)} MB/step, ${row.mean_tokens.toFixed(0)} tokens / ${row.mean_unique_tokens.toFixed(0)} unique per step, load ${loadavg()[0]!.toFixed(1)}\n`,
          );
        }
      }
    }
    round.pytorch = args.pytorch ? pytorch(sizes.join(',')) : undefined;
    round.load_after = loadavg()[0]!;
    rounds.push(round);
  }
  if (args['delete-matrix']) for (const size of sizes) rmSync(matrixPath(...(size.split('x').map(Number) as [number, number])), { force: true });

  // One line per implementation: the median over rounds of each round's median ms/step, and every round's value.
  const series = new Map<string, { values: number[]; rss?: number }>();
  const add = (key: string, v: number, rss?: number) => {
    const e = series.get(key) ?? { values: [] };
    e.values.push(v);
    if (rss !== undefined) e.rss = Math.max(e.rss ?? 0, rss);
    series.set(key, e);
  };
  for (const round of rounds) {
    for (const r of round.ours) add(`| ${r.vocab} x ${r.in_dim} -> ${r.out_dim} | ${label(r)}`, r.median_ms, r.peak_rss_mb);
    for (const r of round.pytorch?.rows ?? []) add(`| ${r.vocab} x ${r.in_dim} -> ${r.out_dim} | PyTorch ${r.variant}`, Number(r.median_ms));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nload average (1 min) per round: ${rounds.map((r) => `${r.load_before.toFixed(1)}→${r.load_after!.toFixed(1)}`).join(', ')}`);
  console.log('\n| vocab x in -> out | implementation | median of rounds, ms/step | each round | peak RSS MB |');
  console.log('|---|---|---:|---|---:|');
  for (const [key, e] of series)
    console.log(`${key} | ${median(e.values).toFixed(0)} | ${e.values.map((v) => v.toFixed(0)).join(', ')} | ${e.rss?.toFixed(0) ?? ''} |`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, args, rounds }, null, 2) + '\n');
}

await main();
