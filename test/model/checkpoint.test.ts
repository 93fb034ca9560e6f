/**
 * Training checkpoints are the contract between train, save and --resume: what is written is read back bit for bit,
 * and a file that is not a checkpoint, or is from another configuration, is one line naming it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  readModelCheckpoint,
  readOptimizerState,
  readTrainState,
  writeModelCheckpoint,
  writeOptimizerState,
  writeTrainState,
  type CheckpointMeta,
  type TrainState,
} from '../../src/model/checkpoint.ts';
import { firstNonFinite, type ModelParams } from '../../src/model/params.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Values that are not round in binary, so any lossy step would show. */
const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 0.731) / 3);

const params: ModelParams = {
  dimIn: 6,
  dimOut: 4,
  nVocab: 5,
  tokenWeights: values(5, 1),
  kernel: values(24, 2),
  bias: values(4, 3),
  tokenDelta: values(20, 4),
  whiten: { 2: values(4, 5), 4: values(16, 6) },
};
const meta: CheckpointMeta = {
  config: { name: 'tiny', n_vocab: 5 },
  step: 17,
  matryoshka_dims: [4, 2],
  binarize: 'ste',
  norm: true,
  token_weights: 'learned',
  eval: [{ file: 'dev.tsv', dim: 4, binary: false, spearman: 0.5 }],
};

describe('model checkpoint', () => {
  it('reads back exactly what was written, metadata included', async () => {
    const out = join(dir, 'full');
    await writeModelCheckpoint(out, params, meta);
    const back = await readModelCheckpoint(out);
    expect(back.meta).toEqual(meta);
    expect(back.params).toEqual(params);
    expect(firstNonFinite(back.params)).toBeUndefined();
  });

  it('a checkpoint without token weights or extras still knows its vocabulary from the config', async () => {
    const out = join(dir, 'plain');
    const plain: ModelParams = { dimIn: 6, dimOut: 4, nVocab: 5, kernel: params.kernel, bias: params.bias };
    await writeModelCheckpoint(out, plain, { ...meta, token_weights: 'none' });
    const back = await readModelCheckpoint(join(out, 'model.safetensors'));
    expect(back.params).toEqual({ ...plain, tokenWeights: undefined, tokenDelta: undefined, whiten: undefined });
  });

  it('names the first non-finite tensor', () => {
    const bad = { ...params, bias: Float32Array.of(0, Number.NaN, 0, 0) };
    expect(firstNonFinite(bad)).toBe('projection.bias');
  });

  it('refuses files that are not checkpoints, or whitening of the wrong shape, in one line', async () => {
    await expect(readModelCheckpoint(join(dir, 'none'))).rejects.toThrow(/checkpoint not found \(run pipeline train first\)$/);
    const other = join(dir, 'other.safetensors');
    await writeSafetensors(other, [{ name: 'embedding', dtype: 'F32', shape: [2, 2], data: values(4, 7) }]);
    await expect(readModelCheckpoint(other)).rejects.toThrow(/not a training checkpoint \(no tensor "projection.kernel"\)$/);
    const wrong = join(dir, 'wrong-whiten');
    await writeModelCheckpoint(wrong, { ...params, whiten: { 8: values(64, 8) } }, meta);
    await expect(readModelCheckpoint(wrong)).rejects.toThrow(/whiten\.8 whitens dim 8, wider than the projection \(4\)$/);
  });
});

describe('optimizer and train state', () => {
  it('moments round-trip exactly and a different configuration is named', async () => {
    const out = join(dir, 'opt');
    const slots = [{ name: 'projection.kernel', m: values(24, 9), v: values(24, 10) }];
    await writeOptimizerState(out, slots, 17);
    const into = [{ name: 'projection.kernel', m: new Float32Array(24), v: new Float32Array(24) }];
    expect(await readOptimizerState(out, into)).toBe(17);
    expect(into).toEqual(slots);
    await expect(readOptimizerState(out, [{ name: 'projection.kernel', m: new Float32Array(3), v: new Float32Array(3) }])).rejects.toThrow(
      /"projection.kernel.m" has 24 values, expected 3; the checkpoint is from a different configuration$/,
    );
    await expect(readOptimizerState(out, [{ name: 'token_weights', m: new Float32Array(5), v: new Float32Array(5) }])).rejects.toThrow(
      /no tensor "token_weights.m"/,
    );
  });

  it('state.json round-trips; a broken or foreign one is refused', async () => {
    const out = join(dir, 'state');
    const state: TrainState = {
      version: 1,
      step: 3,
      totalSteps: 10,
      warmupSteps: 1,
      stepsPerEpoch: 5,
      seed: 42,
      rng: [1, 2, 3, 4],
      dataFingerprint: 'abc',
      bestScore: null,
      bestStep: null,
      elapsedSeconds: 1.5,
      pairsSeen: 96,
    };
    await writeTrainState(out, state);
    expect(await readTrainState(out)).toEqual(state);
    writeFileSync(join(out, 'state.json'), '{"version":1,');
    await expect(readTrainState(out)).rejects.toThrow(/not valid JSON; delete .* and train without --resume$/);
    writeFileSync(join(out, 'state.json'), '{"version":2,"step":1}');
    await expect(readTrainState(out)).rejects.toThrow(/unknown state format$/);
  });
});
