/**
 * Time and peak RSS of `pipeline inspect`'s spectrum on a synthetic F16 matrix (run with
 * `nice npx tsx scripts/bench-inspect.ts [ROWS] [DIM]`, default 256000 × 2304, Gemma-2 2B's shape): writes the
 * matrix in blocks, then times the streamed Gram pass and the eigensolver separately (RSS sampled every 50 ms).
 * Results: benchmarks/inspect.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamGram } from '../src/inspect/gram.ts';
import { spectrumOfGram } from '../src/inspect/spectrum.ts';
import { openSafetensorsMatrix } from '../src/matrix/row-matrix.ts';
import { SafetensorsWriter } from '../src/safetensors/writer.ts';

const ROWS = Number(process.argv[2] ?? 256000);
const DIM = Number(process.argv[3] ?? 2304);
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
  let t = performance.now();
  const g = await streamGram(m);
  const gramSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const sp = spectrumOfGram(
    g,
    [DIM, 1024, 256, 64].filter((k) => k <= DIM),
  );
  const eigenSeconds = (performance.now() - t) / 1000;
  await m.close();
  clearInterval(sampler);
  console.log(
    JSON.stringify({
      rows: ROWS,
      dim: DIM,
      gram_seconds: +gramSeconds.toFixed(1),
      gram_rows_per_s: Math.round(ROWS / gramSeconds),
      eigen_seconds_both: +eigenSeconds.toFixed(1),
      sigma_1: sp.uncentred.singular_values[0],
      peak_rss_mb: Math.round(peak / 1e6),
    }),
  );
} finally {
  clearInterval(sampler);
  rmSync(root, { recursive: true, force: true });
}
