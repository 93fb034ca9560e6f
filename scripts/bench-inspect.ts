/**
 * Time and peak RSS of `pipeline inspect`'s spectrum on a synthetic F16 matrix (run with
 * `nice npx tsx scripts/bench-inspect.ts [ROWS] [DIM]`, default 256000 × 2304, Gemma-2 2B's shape): writes the
 * matrix in blocks, then times the streamed Gram pass (the WebAssembly kernel; `--js` for the plain-JS loop) and
 * the eigensolver separately, wall and CPU seconds (CPU is what to compare across machine loads), RSS sampled
 * every 50 ms. Results: benchmarks/inspect.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { disableKernels } from '../src/embed/kernels/index.ts';
import { streamGram } from '../src/inspect/gram.ts';
import { spectrumOfGram } from '../src/inspect/spectrum.ts';
import { openSafetensorsMatrix } from '../src/matrix/row-matrix.ts';
import { SafetensorsWriter } from '../src/safetensors/writer.ts';

const args = process.argv.slice(2).filter((a) => a !== '--js');
const JS = process.argv.includes('--js');
disableKernels(JS);
const ROWS = Number(args[0] ?? 256000);
const DIM = Number(args[1] ?? 2304);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const root = mkdtempSync(join(tmpdir(), 'bench-inspect-'));
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);

let s = 12345;
const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;

try {
  const path = join(root, 'm.safetensors');
  const w = await SafetensorsWriter.create(path, [{ name: 'embedding', dtype: 'F16', shape: [ROWS, DIM] }]);
  const block = 1000;
  const buf = new Float32Array(block * DIM);
  for (let r = 0; r < ROWS; r += block) {
    const n = Math.min(block, ROWS - r);
    // a decaying spectrum: column j scaled by 1/(1 + j/32)
    for (let i = 0; i < n * DIM; i++) buf[i] = rnd() / (1 + (i % DIM) / 32);
    await w.writeF32(buf.subarray(0, n * DIM));
  }
  await w.commit();
  const m = await openSafetensorsMatrix(path, 'embedding');
  const loadBefore = load();
  let t = performance.now();
  let cpu = process.cpuUsage();
  const g = await streamGram(m);
  const gramSeconds = (performance.now() - t) / 1000;
  const gramCpu = process.cpuUsage(cpu).user / 1e6;
  t = performance.now();
  cpu = process.cpuUsage();
  const sp = spectrumOfGram(
    g,
    [DIM, 1024, 256, 64].filter((k) => k <= DIM),
  );
  const eigenSeconds = (performance.now() - t) / 1000;
  const eigenCpu = process.cpuUsage(cpu).user / 1e6;
  await m.close();
  clearInterval(sampler);
  console.log(
    JSON.stringify({
      rows: ROWS,
      dim: DIM,
      gram: JS ? 'js' : 'wasm',
      gram_seconds: +gramSeconds.toFixed(1),
      gram_cpu_seconds: +gramCpu.toFixed(1),
      gram_rows_per_s: Math.round(ROWS / gramSeconds),
      eigen_seconds_both: +eigenSeconds.toFixed(1),
      eigen_cpu_seconds_both: +eigenCpu.toFixed(1),
      sigma_1: sp.uncentred.singular_values[0],
      peak_rss_mb: Math.round(peak / 1e6),
      load_before: loadBefore,
      load_after: load(),
    }),
  );
} finally {
  clearInterval(sampler);
  rmSync(root, { recursive: true, force: true });
}
