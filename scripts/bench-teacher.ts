/**
 * The distillation teacher's cost and quality (run with `nice npx tsx scripts/bench-teacher.ts [STS_TSV] [BATCH]`):
 * encode every sentence of an STS file (default ../shared/data/eval/stsb/dev.tsv) with the full USE-lite
 * encoder on the trainer's TF.js backend, without the cache, and report sentences/s and the Spearman of cosine
 * similarities against the gold scores. Also times a fully cached second pass. Results: benchmarks/data.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selectBackend } from '../src/tfjs/backend.ts';
import { readStsFile, rowCosines } from '../src/train/eval/sts-evaluator.ts';
import { spearman } from '../src/eval/metrics/correlation.ts';
import { loadUseLiteTeacher, teacherVectors } from '../src/train/distill/teacher.ts';

const file = resolve(process.argv[2] ?? join(import.meta.dirname, '..', '..', 'shared', 'data', 'eval', 'stsb', 'dev.tsv'));
const batchSize = Number(process.argv[3] ?? 64);
const sts = readStsFile(file);
const backend = await selectBackend('auto');
const t0 = performance.now();
const encoder = await loadUseLiteTeacher(backend.tf);
const loadSeconds = (performance.now() - t0) / 1000;
const cacheDir = mkdtempSync(join(tmpdir(), 'bench-teacher-'));
try {
  const texts = [...sts.s1, ...sts.s2];
  const first = await teacherVectors(texts, { cacheDir, tf: backend.tf, encoder, batchSize, log: (m) => process.stderr.write(`${m}\n`) });
  const n = sts.s1.length;
  const cos = rowCosines({ a: first.data.subarray(0, n * 512), b: first.data.subarray(n * 512), rows: n, width: 512, dim: 512 });
  const rho = spearman(cos, sts.scores);
  const second = await teacherVectors(texts, { cacheDir, tf: backend.tf, encoder, batchSize, quiet: true });
  const result = {
    file,
    backend: backend.reason,
    batch_size: batchSize,
    texts: texts.length,
    unique_texts: first.encoded,
    load_s: Number(loadSeconds.toFixed(2)),
    encode_s: Number(first.seconds.toFixed(1)),
    sentences_per_s: Number(first.sentencesPerSecond.toFixed(1)),
    cached_pass_s: Number(second.seconds.toFixed(3)),
    spearman: Number(rho.toFixed(4)),
  };
  console.log(JSON.stringify(result));
} finally {
  encoder.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
}
