/**
 * Throughput and memory of the streaming stages (run with `nice npx tsx scripts/bench-concat-save.ts [ROWS]`):
 *   1. concat: three F16 sources at Gemma-2 2B/9B/27B widths (2304 + 3584 + 4608 = 10496 columns), ROWS rows
 *      (default 32000 = Llama-2's vocabulary): the mean-row-norm pass, a full read through ConcatMatrix, and
 *      --materialize;
 *   2. save: a Gemma-2 2B-shaped projection (2304 → 1024, dims 1024/256/64) of ROWS rows, TF.js (wasm) vs JS.
 * `--no-js` skips the plain-JS save run (about 20× slower). Reports seconds, MB/s or rows/s, and peak RSS (sampled) as JSON lines. Results: benchmarks/data.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConcat } from '../src/concat/concat.ts';
import { openInputMatrix } from '../src/concat/open-input.ts';
import { loadConfig } from '../src/config/load.ts';
import { SafetensorsWriter } from '../src/safetensors/writer.ts';
import { runSave } from '../src/save/save.ts';
import { checkpointDir, writeModelCheckpoint } from '../src/model/checkpoint.ts';

const ROWS = Number(process.argv[2] ?? 32000);
/** `--no-js` skips the (slow) plain-JS save projection. */
const BACKENDS = process.argv.includes('--no-js') ? ['auto'] : ['auto', 'js'];
const root = mkdtempSync(join(tmpdir(), 'bench-concat-save-'));
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const report = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, peak_rss_mb: Math.round(peak / 1e6) }));

function rnd(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

async function writeSource(path: string, rows: number, dim: number, seed: number) {
  const w = await SafetensorsWriter.create(path, [{ name: 'embedding', dtype: 'F16', shape: [rows, dim] }], { format: 'pt' });
  const r = rnd(seed);
  const block = new Float32Array(1024 * dim);
  for (let s = 0; s < rows; s += 1024) {
    const c = Math.min(1024, rows - s);
    for (let i = 0; i < c * dim; i++) block[i] = r() * 0.05;
    await w.writeF32(block.subarray(0, c * dim));
  }
  await w.commit();
}

try {
  const tokenizer = join(import.meta.dirname, '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');
  // 1. concat
  const out = join(root, 'weights', 'cat');
  mkdirSync(out, { recursive: true });
  const dims = [2304, 3584, 4608];
  for (const [i, d] of dims.entries()) await writeSource(join(out, `s${i}.safetensors`), ROWS, d, i + 1);
  writeFileSync(
    join(root, 'cat.toml'),
    `name = "cat"\n[model]\nn_vocab = ${ROWS}\npad_token = "<unk>"\n` +
      dims.map((d, i) => `[[sources]]\nname = "s${i}"\npath = "x${i}.safetensors"\ndim = ${d}\nscale_mode = "mean_norm"\n`).join(''),
  );
  const config = loadConfig(join(root, 'cat.toml'));
  const bytesIn = ROWS * 10496 * 2;
  let t = performance.now();
  await runConcat({ config, outDir: out, quiet: true });
  report({
    step: 'concat (norm pass + descriptor)',
    rows: ROWS,
    dim: 10496,
    seconds: (performance.now() - t) / 1000,
    mb_per_s: bytesIn / 1e6 / ((performance.now() - t) / 1000),
  });
  const m = await openInputMatrix(config, out);
  t = performance.now();
  const buf = new Float32Array(4096 * m.dim);
  for (let s = 0; s < m.rows; s += 4096) await m.readRows(s, Math.min(4096, m.rows - s), buf);
  await m.close();
  report({
    step: 'ConcatMatrix full read (F16 → f32, 4096-row blocks)',
    seconds: (performance.now() - t) / 1000,
    mb_per_s: bytesIn / 1e6 / ((performance.now() - t) / 1000),
  });
  t = performance.now();
  await runConcat({ config, outDir: out, quiet: true, materialize: true });
  report({ step: 'concat --materialize (F16)', seconds: (performance.now() - t) / 1000, mb_per_s: bytesIn / 1e6 / ((performance.now() - t) / 1000) });
  rmSync(out, { recursive: true, force: true });

  // 2. save at Gemma-2 2B's shape
  const sout = join(root, 'weights', 'g2');
  mkdirSync(sout, { recursive: true });
  await writeSource(join(sout, 'g2.safetensors'), ROWS, 2304, 9);
  copyFileSync(tokenizer, join(sout, 'tokenizer.json'));
  writeFileSync(join(root, 'g2.toml'), `name = "g2"\n[model]\npath = "x.safetensors"\ndim = 2304\nn_vocab = ${ROWS}\npad_token = "<unk>"\n`);
  const g2 = loadConfig(join(root, 'g2.toml'));
  const r = rnd(5);
  const params = {
    dimIn: 2304,
    dimOut: 1024,
    nVocab: ROWS,
    tokenWeights: new Float32Array(ROWS).map(() => 1 + r() * 0.3),
    kernel: new Float32Array(2304 * 1024).map(() => r() * 0.02),
    bias: new Float32Array(1024).map(() => r() * 0.01),
  };
  await writeModelCheckpoint(checkpointDir(sout, 'best'), params, {
    config: {},
    step: 1,
    matryoshka_dims: [1024, 256, 64],
    binarize: 'none',
    norm: false,
    token_weights: 'learned',
    eval: [],
  });
  for (const backend of BACKENDS) {
    t = performance.now();
    const res = await runSave({ config: g2, outDir: sout, dims: [1024, 256, 64], backend, quiet: true });
    const sec = (performance.now() - t) / 1000;
    report({
      step: `save 2304→1024, dims 1024/256/64 (${res.engine})`,
      rows: ROWS,
      seconds: sec,
      rows_per_s: ROWS / sec,
      gflops: (2 * ROWS * 2304 * 1024) / 1e9 / sec,
    });
  }
} finally {
  clearInterval(sampler);
  rmSync(root, { recursive: true, force: true });
}
