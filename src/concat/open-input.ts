/**
 * The training/save input of a config as one RowMatrix: the single extracted source file, or for several
 * `[[sources]]` the concatenation described by `concat.json` (the materialized copy when there is a current one).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ModelConfig } from '../config/types.ts';
import { openSafetensorsMatrix, type RowMatrix } from '../matrix/row-matrix.ts';
import { UserError } from '../util/errors.ts';
import { ConcatMatrix } from './concat-matrix.ts';
import { readConcatDescriptor, type ConcatDescriptor } from './descriptor.ts';
import { EXTRACTED_TENSOR } from '../layout/tensor-names.ts';
import { sourcePath, trainingInput } from '../layout/weights-dir.ts';

/** Path of an extracted source file, with a message naming the stage to run when it is missing. */
export function sourceFile(config: ModelConfig, outDir: string, sourceName: string): string {
  const path = sourcePath(outDir, sourceName);
  if (!existsSync(path)) throw new UserError(`${path} not found; run: pipeline extract --config ${config.name}`);
  return path;
}

/** A RowMatrix over the first `rows` rows of `m` (extracted files may keep padded rows beyond n_vocab). */
function firstRows(m: RowMatrix, rows: number): RowMatrix {
  if (m.rows === rows) return m;
  return {
    rows,
    dim: m.dim,
    label: m.label,
    readRows: (start, count, out) => {
      if (start + count > rows) throw new UserError(`${m.label}: rows ${start}..${start + count} outside ${rows} rows`);
      return m.readRows(start, count, out);
    },
    close: () => m.close(),
  };
}

/** Refuse a descriptor whose source files changed since concat ran (re-extracted, edited). */
function checkDescriptorCurrent(d: ConcatDescriptor, dir: string, path: string): void {
  for (const s of d.sources) {
    const file = resolve(dir, s.file);
    if (!existsSync(file)) throw new UserError(`${path}: source ${file} is missing; run pipeline extract and concat again`);
    const st = statSync(file);
    if (st.size !== s.bytes || Math.abs(st.mtimeMs - s.mtime_ms) > 1) {
      throw new UserError(`${path}: ${file} changed after concat ran; run: pipeline concat --config ${d.config}`);
    }
  }
}

export async function openConcatMatrix(path: string): Promise<RowMatrix> {
  const d = readConcatDescriptor(path);
  const dir = resolve(path, '..');
  checkDescriptorCurrent(d, dir, path);
  if (d.materialized && existsSync(resolve(dir, d.materialized.file))) {
    const m = await openSafetensorsMatrix(resolve(dir, d.materialized.file), d.materialized.tensor);
    if (m.rows === d.rows && m.dim === d.dim) return m;
    await m.close();
  }
  const parts = [];
  try {
    for (const s of d.sources) {
      const m = await openSafetensorsMatrix(resolve(dir, s.file), s.tensor);
      parts.push({ matrix: m, scale: s.scale });
      if (m.dim !== s.dim) throw new UserError(`${path}: ${s.file} has ${m.dim} columns, the descriptor says ${s.dim}; run pipeline concat again`);
    }
  } catch (err) {
    for (const p of parts) await p.matrix.close();
    throw err;
  }
  return new ConcatMatrix(parts, d.rows, `${path} (${d.sources.length} sources, ${d.rows} × ${d.dim})`);
}

/** The input matrix of a config: [n_vocab, config.dim]. */
export async function openInputMatrix(config: ModelConfig, outDir: string): Promise<RowMatrix> {
  let m: RowMatrix;
  const input = trainingInput(config, outDir);
  if (input.kind === 'source') {
    m = await openSafetensorsMatrix(sourceFile(config, outDir, config.sources[0]!.name), EXTRACTED_TENSOR);
  } else {
    const path = input.descriptor;
    if (!existsSync(path))
      throw new UserError(`${path} not found; ${config.name} has ${config.sources.length} sources: run pipeline concat --config ${config.name}`);
    m = await openConcatMatrix(path);
  }
  if (m.rows < config.n_vocab) {
    await m.close();
    throw new UserError(`${m.label}: ${m.rows} rows, fewer than n_vocab ${config.n_vocab} in ${config.file}; run extract again`);
  }
  if (m.dim !== config.dim) {
    await m.close();
    throw new UserError(
      `${m.label}: ${m.dim} columns, but ${config.file} says dim ${config.dim}; run extract${config.sources.length > 1 ? ' and concat' : ''} again`,
    );
  }
  return firstRows(m, config.n_vocab);
}
