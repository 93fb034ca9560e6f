/**
 * Training checkpoints (the contract between train, save and --resume):
 *   <outDir>/checkpoints/{best,last}/model.safetensors   F32 `token_weights` [n_vocab] (absent when the config
 *       trains without token weights), `projection.kernel` [dim_in, dim_out] (x·W layout), `projection.bias`
 *       [dim_out], with `token_delta = true` F32 `token_delta` [n_vocab, dim_out], with `whiten` F32 `whiten.<d>`
 *       [d, d] per Matryoshka dim; `__metadata__` values are JSON strings: config, step, matryoshka_dims, binarize, norm, eval,
 *       token_weights ("learned" | "frozen" | "none").
 *   <outDir>/checkpoints/last/optimizer.safetensors     AdamW moments (`<param>.m`, `<param>.v`)
 *   <outDir>/checkpoints/last/state.json                step, RNG, data cursor, best score, for --resume
 * Every file is written to a temp name and renamed; state.json is written last and names the step, so a
 * checkpoint interrupted halfway is detected (step mismatch) instead of resumed from mixed files.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../safetensors/file.ts';
import { writeSafetensors } from '../safetensors/writer.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { readFile } from 'node:fs/promises';
import type { BinarizeMode, TokenWeightMode } from './modes.ts';
import type { EvalResult } from './sts-score.ts';
import type { ModelParams } from './params.ts';

/** What optimizer.safetensors holds per parameter: its AdamW moments, named after the parameter. */
export interface OptimizerMoments {
  name: string;
  m: Float32Array;
  v: Float32Array;
}

export interface CheckpointMeta {
  /** Provenance: config name/file and the resolved training settings. */
  config: Record<string, unknown>;
  step: number;
  matryoshka_dims: number[];
  binarize: BinarizeMode;
  norm: boolean;
  token_weights: TokenWeightMode;
  eval: EvalResult[];
}

export interface TrainState {
  version: 1;
  step: number;
  totalSteps: number;
  warmupSteps: number;
  stepsPerEpoch: number;
  seed: number;
  rng: number[];
  dataFingerprint: string;
  bestScore: number | null;
  bestStep: number | null;
  elapsedSeconds: number;
  pairsSeen: number;
}

export { checkpointDir } from '../layout/weights-dir.ts';

export async function writeModelCheckpoint(dir: string, params: ModelParams, meta: CheckpointMeta): Promise<void> {
  const tensors: { name: string; dtype: 'F32'; shape: number[]; data: Float32Array }[] = [];
  if (params.tokenWeights) tensors.push({ name: 'token_weights', dtype: 'F32', shape: [params.nVocab], data: params.tokenWeights });
  tensors.push({ name: 'projection.kernel', dtype: 'F32', shape: [params.dimIn, params.dimOut], data: params.kernel });
  tensors.push({ name: 'projection.bias', dtype: 'F32', shape: [params.dimOut], data: params.bias });
  if (params.tokenDelta)
    tensors.push({ name: 'token_delta', dtype: 'F32', shape: [params.tokenDelta.length / params.dimOut, params.dimOut], data: params.tokenDelta });
  for (const [d, T] of Object.entries(params.whiten ?? {})) tensors.push({ name: `whiten.${d}`, dtype: 'F32', shape: [Number(d), Number(d)], data: T });
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = JSON.stringify(v);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, metadata);
}

export interface LoadedCheckpoint {
  params: ModelParams;
  meta: CheckpointMeta;
}

/** Read `<dir>/model.safetensors` (or a path to the file itself). */
export async function readModelCheckpoint(dirOrFile: string): Promise<LoadedCheckpoint> {
  const path = dirOrFile.endsWith('.safetensors') ? dirOrFile : join(dirOrFile, 'model.safetensors');
  if (!existsSync(path)) throw new UserError(`${path}: checkpoint not found (run pipeline train first)`);
  const f = await SafetensorsFile.open(path);
  try {
    const names = f.tensorNames;
    for (const need of ['projection.kernel', 'projection.bias']) {
      if (!names.includes(need)) throw new UserError(`${path}: not a training checkpoint (no tensor "${need}")`);
    }
    const kInfo = f.tensor('projection.kernel');
    const [dimIn, dimOut] = kInfo.shape as [number, number];
    const kernel = await f.readRowsF32('projection.kernel', 0, dimIn);
    const bias = await f.readRowsF32('projection.bias', 0, dimOut);
    let tokenWeights: Float32Array | undefined;
    let nVocab = 0;
    if (names.includes('token_weights')) {
      nVocab = f.tensor('token_weights').shape[0]!;
      tokenWeights = await f.readRowsF32('token_weights', 0, nVocab);
    }
    let tokenDelta: Float32Array | undefined;
    if (names.includes('token_delta')) {
      const [rows, width] = f.tensor('token_delta').shape as [number, number];
      if (width !== dimOut) throw new UserError(`${path}: token_delta is ${rows} × ${width}, the projection is ${dimOut} wide`);
      tokenDelta = await f.readRowsF32('token_delta', 0, rows);
      nVocab ||= rows;
    }
    let whiten: Record<number, Float32Array> | undefined;
    for (const name of names) {
      const m = /^whiten\.(\d+)$/.exec(name);
      if (!m) continue;
      const d = Number(m[1]);
      const shape = f.tensor(name).shape;
      if (d > dimOut) throw new UserError(`${path}: ${name} whitens dim ${d}, wider than the projection (${dimOut})`);
      if (shape[0] !== d || shape[1] !== d) throw new UserError(`${path}: ${name} has shape [${shape.join(', ')}], expected [${d}, ${d}]`);
      (whiten ??= {})[d] = await f.readRowsF32(name, 0, d);
    }
    const raw = f.header.metadata;
    const parse = (k: string, fallback: unknown) => {
      if (raw[k] === undefined) return fallback;
      try {
        return JSON.parse(raw[k]!);
      } catch {
        throw new UserError(`${path}: metadata "${k}" is not JSON`);
      }
    };
    const meta: CheckpointMeta = {
      config: parse('config', {}) as Record<string, unknown>,
      step: Number(parse('step', 0)),
      matryoshka_dims: parse('matryoshka_dims', [dimOut]) as number[],
      binarize: parse('binarize', 'none') as BinarizeMode,
      norm: Boolean(parse('norm', true)),
      token_weights: parse('token_weights', tokenWeights ? 'learned' : 'none') as TokenWeightMode,
      eval: parse('eval', []) as EvalResult[],
    };
    if (!nVocab) nVocab = Number((meta.config as { n_vocab?: number }).n_vocab ?? 0);
    return { params: { dimIn, dimOut, nVocab, tokenWeights, kernel, bias, tokenDelta, whiten }, meta };
  } finally {
    await f.close();
  }
}

export async function writeOptimizerState(dir: string, slots: readonly OptimizerMoments[], step: number): Promise<void> {
  const tensors = slots.flatMap((s) => [
    { name: `${s.name}.m`, dtype: 'F32' as const, shape: [s.m.length], data: s.m },
    { name: `${s.name}.v`, dtype: 'F32' as const, shape: [s.v.length], data: s.v },
  ]);
  await writeSafetensors(join(dir, 'optimizer.safetensors'), tensors, { step: String(step) });
}

/** Fill the slots' moments from `<dir>/optimizer.safetensors`; returns the step it was written at. */
export async function readOptimizerState(dir: string, slots: readonly OptimizerMoments[]): Promise<number> {
  const path = join(dir, 'optimizer.safetensors');
  if (!existsSync(path)) throw new UserError(`${path}: missing, cannot --resume (start without --resume)`);
  const f = await SafetensorsFile.open(path);
  try {
    for (const s of slots) {
      for (const which of ['m', 'v'] as const) {
        const name = `${s.name}.${which}`;
        if (!f.tensorNames.includes(name)) throw new UserError(`${path}: no tensor "${name}"; the checkpoint is from a different configuration`);
        const n = f.tensor(name).shape[0]!;
        if (n !== s[which].length)
          throw new UserError(`${path}: "${name}" has ${n} values, expected ${s[which].length}; the checkpoint is from a different configuration`);
        await f.readRowsF32(name, 0, n, s[which]);
      }
    }
    return Number(f.header.metadata.step ?? -1);
  } finally {
    await f.close();
  }
}

export async function writeTrainState(dir: string, state: TrainState): Promise<void> {
  await writeJsonAtomic(join(dir, 'state.json'), state);
}

export async function readTrainState(dir: string): Promise<TrainState> {
  const path = join(dir, 'state.json');
  if (!existsSync(path)) throw new UserError(`${path}: no saved training state to --resume from (run without --resume)`);
  let s: TrainState;
  try {
    s = JSON.parse(await readFile(path, 'utf8')) as TrainState;
  } catch {
    throw new UserError(`${path}: not valid JSON; delete ${dir} and train without --resume`);
  }
  if (s.version !== 1 || !Number.isInteger(s.step)) throw new UserError(`${path}: unknown state format`);
  return s;
}
