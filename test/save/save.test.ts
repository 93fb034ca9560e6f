import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInputMatrix } from '../../src/concat/open-input.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { ModelConfig } from '../../src/config/types.ts';
import { load } from '../../src/embed/node.ts';
import { openSafetensorsMatrix } from '../../src/matrix/row-matrix.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { projectBlock } from '../../src/save/project.ts';
import { runSave } from '../../src/save/save.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import { checkpointDir, writeModelCheckpoint } from '../../src/model/checkpoint.ts';
import { gelu } from '../../src/model/gelu.ts';
import type { ModelParams } from '../../src/model/params.ts';
import { pooledOutput } from '../helpers/pooled-output.ts';
import { whiteningTransform } from '../../src/train/eval/whitening-fit.ts';
import { stage } from '../../pipelines/save.ts';

const LLAMA2 = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');
const N_VOCAB = 32000;
const DIM_IN = 12;
const DIM_OUT = 8;
let root: string;
let out: string;
let config: ModelConfig;
let params: ModelParams;

/** Small deterministic pseudo-random numbers. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'save-test-'));
  out = join(root, 'weights', 'tiny');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(root, 'tiny.toml'),
    '[model]\ndescription = "a tiny test matrix"\npath = "src.safetensors"\ndim = 12\nn_vocab = 32000\npad_token = "<unk>"\n[tokenizer]\nmax_length = 64\n[matryoshka]\ndims = [8, 4]\n',
  );
  config = loadConfig(join(root, 'tiny.toml'));
  const rnd = lcg(7);
  const E = new Float32Array(N_VOCAB * DIM_IN).map(() => rnd() * 0.5);
  await writeSafetensors(join(out, 'tiny.safetensors'), [{ name: 'embedding', dtype: 'F32', shape: [N_VOCAB, DIM_IN], data: E }], {
    format: 'pt',
    repo: 'test/tiny',
    revision: 'abc123',
    tensor: 'embed',
    source_dtype: 'F32',
    source_kind: 'local',
  });
  copyFileSync(LLAMA2, join(out, 'tokenizer.json'));
  // A source-model config.json as extract leaves it.
  writeFileSync(join(out, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 12 }));
  params = {
    dimIn: DIM_IN,
    dimOut: DIM_OUT,
    nVocab: N_VOCAB,
    tokenWeights: new Float32Array(N_VOCAB).map(() => 1 + rnd()),
    kernel: new Float32Array(DIM_IN * DIM_OUT).map(() => rnd()),
    bias: new Float32Array(DIM_OUT).map(() => rnd() * 0.1),
  };
  const meta = {
    config: { name: 'tiny' },
    step: 123,
    matryoshka_dims: [8, 4],
    binarize: 'none' as const,
    norm: false,
    token_weights: 'learned' as const,
    eval: [{ file: 'dev.tsv', dim: 8, binary: false, spearman: 0.5 }],
  };
  await writeModelCheckpoint(checkpointDir(out, 'best'), params, meta);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SENTENCES = ['A man is playing a guitar.', 'The quick brown fox jumps over the lazy dog', 'Zebras!', 'hello hello hello world'];

describe('save', () => {
  it('projects rows as gelu(w)·E·W + b', () => {
    const block = Float32Array.of(1, 2, 3, -1, 0, 0.5);
    const p: ModelParams = {
      dimIn: 3,
      dimOut: 2,
      nVocab: 4,
      tokenWeights: Float32Array.of(9, 9, 0.3, -0.2),
      kernel: Float32Array.of(1, 0, 0, 1, 1, 1),
      bias: Float32Array.of(0.5, -0.5),
    };
    const got = projectBlock(p, block, 2, 2);
    const g2 = gelu(Math.fround(0.3));
    const g3 = gelu(Math.fround(-0.2));
    const want = [g2 * 4 + 0.5, g2 * 5 - 0.5, g3 * -0.5 + 0.5, g3 * 0.5 - 0.5];
    want.forEach((x, i) => expect(got[i]).toBeCloseTo(x, 6));
  });

  it('projects without token weights (token_weights = "none") as E·W + b', () => {
    const p: ModelParams = { dimIn: 2, dimOut: 2, nVocab: 2, kernel: Float32Array.of(1, 2, 3, 4), bias: Float32Array.of(0.5, 0) };
    expect(Array.from(projectBlock(p, Float32Array.of(1, 1, 2, 0), 0, 2))).toEqual([4.5, 6, 2.5, 4]);
  });

  it('writes F16 embedding.weight per dim whose token mean equals the trained pooled output', async () => {
    const res = await runSave({ config, outDir: out, quiet: true, blockRows: 3000 });
    expect(res.engine).toBe('wasm');
    expect(res.files.map((f) => f.dim)).toEqual([8, 4]);
    expect(res.step).toBe(123);
    const tok = loadTokenizerFile(join(out, 'tokenizer.json'));
    const ids = SENTENCES.map((s) => tok.encode(s, false));
    const input = await openInputMatrix(config, out);
    for (const dim of [8, 4]) {
      const file = join(out, `tiny_${dim}.safetensors`);
      const m = await openSafetensorsMatrix(file, 'embedding.weight');
      expect([m.rows, m.dim]).toEqual([N_VOCAB, dim]);
      expect(m.file.tensor('embedding.weight').dtype).toBe('F16');
      const expected = await pooledOutput(params, input, ids, { dim, norm: false });
      for (let s = 0; s < ids.length; s++) {
        const mean = new Float64Array(dim);
        for (const id of ids[s]!) {
          const row = await m.readRows(id, 1);
          for (let j = 0; j < dim; j++) mean[j]! += row[j]! / ids[s]!.length;
        }
        for (let j = 0; j < dim; j++) expect(Math.abs(mean[j]! - expected[s * dim + j]!)).toBeLessThan(2e-3 * Math.max(1, Math.abs(expected[s * dim + j]!)));
      }
      await m.close();
    }
    await input.close();
  });

  it('--dtype f32 writes F32 rows equal to the projection to float32 precision, and config.json says dtype f32', async () => {
    const saveDir = join(root, 'saved-f32');
    await runSave({ config, outDir: out, saveDir, dims: [8], dtype: 'f32', quiet: true, blockRows: 3000 });
    expect(JSON.parse(readFileSync(join(saveDir, 'config.json'), 'utf8')).dtype).toBe('f32');
    expect(readFileSync(join(saveDir, 'README.md'), 'utf8')).toMatch(/one fp32 row per token/);
    const tok = loadTokenizerFile(join(out, 'tokenizer.json'));
    const ids = SENTENCES.map((s) => tok.encode(s, false));
    const input = await openInputMatrix(config, out);
    const m = await openSafetensorsMatrix(join(saveDir, 'tiny_8.safetensors'), 'embedding.weight');
    expect(m.file.tensor('embedding.weight').dtype).toBe('F32');
    const expected = await pooledOutput(params, input, ids, { dim: 8, norm: false });
    for (let s = 0; s < ids.length; s++) {
      const mean = new Float64Array(8);
      for (const id of ids[s]!) {
        const row = await m.readRows(id, 1);
        for (let j = 0; j < 8; j++) mean[j]! += row[j]! / ids[s]!.length;
      }
      for (let j = 0; j < 8; j++) expect(Math.abs(mean[j]! - expected[s * 8 + j]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected[s * 8 + j]!)));
    }
    await m.close();
    await input.close();
  });

  it('--dtype int8: I8 codes of the f32 rows with one step per file (max |value| / 127) in config.json scales; load multiplies it back', async () => {
    const exact = join(root, 'saved-int8-ref');
    const saveDir = join(root, 'saved-int8');
    await runSave({ config, outDir: out, saveDir: exact, dims: [8, 4], dtype: 'f32', quiet: true, blockRows: 3000 });
    await runSave({ config, outDir: out, saveDir, dims: [8, 4], dtype: 'int8', quiet: true, blockRows: 3000 });
    const cfg = JSON.parse(readFileSync(join(saveDir, 'config.json'), 'utf8')) as { dtype: string; scales: Record<string, number> };
    expect(cfg.dtype).toBe('int8');
    expect(Object.keys(cfg.scales).sort()).toEqual(['4', '8']);
    expect(readFileSync(join(saveDir, 'README.md'), 'utf8')).toMatch(/one int8 row per token/);
    for (const dim of [8, 4]) {
      const f32 = await openSafetensorsMatrix(join(exact, `tiny_${dim}.safetensors`), 'embedding.weight');
      const i8 = await openSafetensorsMatrix(join(saveDir, `tiny_${dim}.safetensors`), 'embedding.weight');
      expect(i8.file.tensor('embedding.weight')).toMatchObject({ dtype: 'I8', shape: [N_VOCAB, dim] });
      const values = await f32.readRows(0, N_VOCAB);
      const codes = await i8.readRows(0, N_VOCAB);
      const step = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
      expect(cfg.scales[String(dim)]).toBe(step);
      let mismatches = 0;
      for (let i = 0; i < values.length; i++) if (codes[i] !== Math.round(values[i]! / step)) mismatches++;
      expect(mismatches).toBe(0);
      expect(codes.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBe(127);
      const back = load(saveDir, { dim });
      for (const id of [0, 5, 29871, 31999]) {
        expect(Array.from(back.tokenVector(id))).toEqual(Array.from(codes.subarray(id * dim, (id + 1) * dim), (c) => Math.fround(c * step)));
      }
      // Lengths survive (not only directions): unnormalised embeddings within the rounding of one step.
      const a = load(exact, { dim }).embed(SENTENCES, { norm: false }).data;
      const b = back.embed(SENTENCES, { norm: false }).data;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(step / 2 + 1e-7);
      await f32.close();
      await i8.close();
    }
    // A config that says int8 without the steps is refused with one line.
    const broken = { ...cfg, scales: { 8: cfg.scales['8'] } };
    writeFileSync(join(saveDir, 'config.json'), JSON.stringify(broken));
    expect(() => load(saveDir)).toThrow(
      `${join(saveDir, 'config.json')}: "scales" must be an object with the positive int8 step of every dim in "dims" (dtype is "int8") (got {"8":${cfg.scales['8']}}); re-run pipeline save to rewrite it`,
    );
  });

  it('folds learned token offsets and per-dim whitening into the saved rows (js and wasm engines)', async () => {
    const rnd = lcg(99);
    const whitenOf = (d: number) => {
      // a random covariance → its soft whitening, as the trainer fits it
      const B = Array.from({ length: d * d }, () => rnd());
      const C = new Float64Array(d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) C[i * d + j]! += B[i * d + k]! * B[j * d + k]!;
      return whiteningTransform(C, d, 0.25);
    };
    const p2: ModelParams = { ...params, tokenDelta: new Float32Array(N_VOCAB * DIM_OUT).map(() => rnd() * 0.2), whiten: { 8: whitenOf(8), 4: whitenOf(4) } };
    const ck = join(root, 'ck-delta-whiten');
    await writeModelCheckpoint(ck, p2, {
      config: { name: 'tiny', training: { whiten: 0.25 } },
      step: 7,
      matryoshka_dims: [8, 4],
      binarize: 'none',
      norm: false,
      token_weights: 'learned',
      eval: [],
    });
    const tok = loadTokenizerFile(join(out, 'tokenizer.json'));
    const ids = SENTENCES.map((s) => tok.encode(s, false));
    const input = await openInputMatrix(config, out);
    for (const backend of ['js', 'wasm']) {
      const saveDir = join(root, `saved-dw-${backend}`);
      mkdirSync(saveDir, { recursive: true });
      const res = await runSave({ config, outDir: out, saveDir, checkpoint: ck, backend, quiet: true, blockRows: 5000 });
      expect(res.engine).toBe(backend);
      const cfg = JSON.parse(readFileSync(join(saveDir, 'config.json'), 'utf8')) as { whiten: number; token_delta: boolean };
      expect([cfg.whiten, cfg.token_delta]).toEqual([0.25, true]);
      expect(readFileSync(join(saveDir, 'README.md'), 'utf8')).toMatch(/\+ D_t \(learned per-token offsets\).*soft-whitening matrix \(power 0\.25/);
      for (const dim of [8, 4]) {
        const m = await openSafetensorsMatrix(join(saveDir, `tiny_${dim}.safetensors`), 'embedding.weight');
        const expected = await pooledOutput(p2, input, ids, { dim, norm: false });
        const plain = await pooledOutput({ ...p2, whiten: undefined }, input, ids, { dim, norm: false });
        let differs = 0;
        for (let s = 0; s < ids.length; s++) {
          const mean = new Float64Array(dim);
          for (const id of ids[s]!) {
            const row = await m.readRows(id, 1);
            for (let j = 0; j < dim; j++) mean[j]! += row[j]! / ids[s]!.length;
          }
          for (let j = 0; j < dim; j++) {
            expect(Math.abs(mean[j]! - expected[s * dim + j]!)).toBeLessThan(3e-3 * Math.max(1, Math.abs(expected[s * dim + j]!)));
            differs = Math.max(differs, Math.abs(expected[s * dim + j]! - plain[s * dim + j]!));
          }
        }
        expect(differs).toBeGreaterThan(0.01); // the whitening is really applied
        await m.close();
      }
    }
    await input.close();
    // A whitened model cannot be saved at a dim it has no whitening for.
    await expect(runSave({ config, outDir: out, saveDir: join(root, 'saved-dw-bad'), checkpoint: ck, dims: [6], quiet: true })).rejects.toThrow(
      /whitened for dims 4, 8, not 6/,
    );
  });

  it('writes config.json, README.md, keeps the source config, and loads through the embedding library', async () => {
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'wordllama-ts',
      name: 'tiny',
      dims: [8, 4],
      n_vocab: N_VOCAB,
      pad_token: '<unk>',
      pad_token_id: 0,
      binarized: false,
      normalize: true,
      max_length: 64,
      eval: [{ file: 'dev.tsv', dim: 8, binary: false, spearman: 0.5 }],
    });
    expect(cfg.source.sources[0]).toMatchObject({ name: 'tiny', repo: 'test/tiny', revision: 'abc123', source_kind: 'local', dim: 12 });
    expect(cfg.source.step).toBe(123);
    expect(JSON.parse(readFileSync(join(out, 'source_config.json'), 'utf8'))).toEqual({ model_type: 'llama', hidden_size: 12 });
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    // Hub metadata first: the source repo as base_model, the eval score as model-index.
    expect(readme.slice(0, readme.indexOf('\n# tiny\n'))).toBe(
      [
        '---',
        'library_name: wordllama-ts',
        'pipeline_tag: sentence-similarity',
        'tags:',
        '- static-embeddings',
        '- sentence-similarity',
        '- wordllama',
        '- matryoshka',
        'base_model:',
        '- "test/tiny"',
        'model-index:',
        '- name: "tiny"',
        '  results:',
        '  - task:',
        '      type: STS',
        '    dataset:',
        '      name: "dev.tsv (dim 8)"',
        '      type: "dev.tsv"',
        '    metrics:',
        '    - type: spearman_cosine',
        '      value: 50.00',
        '---',
        '',
      ].join('\n'),
    );
    expect(readme).toMatch(/tiny_4\.safetensors/);
    expect(readme).toMatch(/\| dev\.tsv \| 8 \| cosine \| 50\.00 \|/);

    const input = await openInputMatrix(config, out);
    const tok = loadTokenizerFile(join(out, 'tokenizer.json'));
    const ids = SENTENCES.map((s) => tok.encode(s, false));
    for (const dim of [8, 4]) {
      const model = load(out, { dim });
      const e = model.embed(SENTENCES);
      expect([e.rows, e.dim]).toEqual([SENTENCES.length, dim]);
      const expected = await pooledOutput(params, input, ids, { dim, norm: true });
      for (let i = 0; i < expected.length; i++) expect(Math.abs(e.data[i]! - expected[i]!)).toBeLessThan(2e-3);
    }
    await input.close();
  });

  it('saves chosen dims elsewhere, and rejects bad dims and missing checkpoints', async () => {
    const elsewhere = join(root, 'exported');
    expect(await stage.run(['--config', join(root, 'tiny.toml'), '--out-dir', out, '--save-dir', elsewhere, '--dims', '4', '--backend', 'js', '--quiet'])).toBe(
      0,
    );
    // The plain-JS projection and the TF.js one agree (to fp16 rounding).
    const js = await openSafetensorsMatrix(join(elsewhere, 'tiny_4.safetensors'), 'embedding.weight');
    const tf = await openSafetensorsMatrix(join(out, 'tiny_4.safetensors'), 'embedding.weight');
    const a = await js.readRows(0, N_VOCAB);
    const b = await tf.readRows(0, N_VOCAB);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(a[i]!)));
    expect(maxDiff).toBeLessThan(2e-3);
    await js.close();
    await tf.close();
    expect(existsSync(join(elsewhere, 'tiny_4.safetensors'))).toBe(true);
    expect(existsSync(join(elsewhere, 'tiny_8.safetensors'))).toBe(false);
    expect(existsSync(join(elsewhere, 'tokenizer.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(elsewhere, 'config.json'), 'utf8'))).toMatchObject({ dims: [4], dim: 4 });
    await expect(runSave({ config, outDir: out, dims: [16, 4], quiet: true })).rejects.toThrow(/--dims: 16 exceed the trained projection width 8/);
    await expect(stage.run(['--config', join(root, 'tiny.toml'), '--out-dir', out, '--dims', '4,x'])).rejects.toThrow(
      /--dims expects comma-separated positive integers/,
    );
    await expect(stage.run(['--config', join(root, 'tiny.toml'), '--out-dir', out, '--dtype', 'int4'])).rejects.toThrow(
      'save: --dtype "int4" is not one of f16, f32, int8',
    );
    await expect(runSave({ config, outDir: out, checkpoint: 'last', quiet: true })).rejects.toThrow(
      /checkpoints\/last\/model\.safetensors: checkpoint not found/,
    );
    await expect(runSave({ config, outDir: join(root, 'nothing'), quiet: true })).rejects.toThrow(
      /checkpoints\/best\/model\.safetensors: checkpoint not found; run: pipeline train --config tiny/,
    );
  });
});
