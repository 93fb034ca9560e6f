/**
 * `pipeline export`: each format's files and keys are the ones the Python library's loader reads, and each
 * export loads again with `load` giving the same embeddings within the dtype's rounding.
 * Layouts mirrored: model2vec's model2vec/hf_utils.py (save_pretrained), sentence-transformers'
 * sentence_transformers/models/StaticEmbedding.py (save/load) with SentenceTransformer.save's modules.json,
 * WordLlama's src/wordllama/wordllama.py (`<config>_<dim>.safetensors` + tokenizer).
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { makeModel, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';
import { load } from '../../src/embed/node.ts';
import { parseSafetensorsBuffer } from '../../src/safetensors/bytes.ts';

const TEXTS = ['A man is playing a guitar.', 'the quick brown fox jumps over the lazy dog', 'naïve café, 2024!'];

let src: GeneratedModel;
beforeAll(async () => {
  src = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 16, name: 'tiny', seed: 7 });
});

const tmp = () => mkdtempSync(join(tmpdir(), 'export-'));
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const header = (p: string) => {
  const b = readFileSync(p);
  const st = parseSafetensorsBuffer(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), p);
  return Object.fromEntries([...st.header.tensors].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }]));
};

async function exportCli(args: string[]): Promise<string> {
  const out = tmp();
  const r = await runCli(['export', '--model', src.dir, '--out', out, '--quiet', ...args]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('pipeline export', () => {
  it('model2vec f32: model.safetensors "embeddings" F32, config.json keys, tokenizer.json, modules.json; same embeddings', async () => {
    const out = await exportCli(['--format', 'model2vec']);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors', 'modules.json', 'tokenizer.json']);
    expect(header(join(out, 'model.safetensors'))).toEqual({ embeddings: { dtype: 'F32', shape: [32000, 16] } });
    const cfg = readJson(join(out, 'config.json'));
    expect(cfg).toMatchObject({
      model_type: 'model2vec',
      architectures: ['StaticModel'],
      hidden_dim: 16,
      normalize: true,
      tokenizer_name: 'tiny',
      embedding_dtype: 'float32',
    });
    expect(cfg).not.toHaveProperty('vocabulary_quantization');
    expect(readJson(join(out, 'modules.json'))).toEqual([
      { idx: 0, name: '0', path: '.', type: 'sentence_transformers.models.StaticEmbedding' },
      { idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]);
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe(JSON.stringify(JSON.parse(readFileSync(TOKENIZERS.llama2, 'utf8'))));
    const back = load(out);
    expect(back.info.format).toBe('model2vec');
    // The source rows are F16; written as F32 they are the same numbers.
    expect(maxAbsDiff(back.embed(TEXTS).data, load(src.dir).embed(TEXTS).data)).toBeLessThan(1e-6);
  });

  it('model2vec int8 (model2vec quantization: largest |value| → 127): I8 tensor, cosine to the original ≥ 0.999', async () => {
    const out = await exportCli(['--format', 'model2vec', '--dtype', 'int8']);
    expect(header(join(out, 'model.safetensors'))).toEqual({ embeddings: { dtype: 'I8', shape: [32000, 16] } });
    const raw = readFileSync(join(out, 'model.safetensors'));
    const n = Number(raw.readBigUInt64LE(0));
    const q = new Int8Array(raw.buffer, raw.byteOffset + 8 + n, 32000 * 16);
    expect(q.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBe(127);
    const a = load(src.dir).embed(TEXTS).data;
    const b = load(out).embed(TEXTS).data;
    for (let t = 0; t < TEXTS.length; t++) {
      let dot = 0;
      for (let j = 0; j < 16; j++) dot += a[t * 16 + j]! * b[t * 16 + j]!;
      expect(dot).toBeGreaterThan(0.999);
    }
  });

  it('sentence-transformers f16 --dim 8: modules.json + 0_StaticEmbedding/{model.safetensors "embedding.weight", tokenizer.json}', async () => {
    const out = await exportCli(['--format', 'sentence-transformers', '--dtype', 'f16', '--dim', '8']);
    expect(readdirSync(out).sort()).toEqual(['0_StaticEmbedding', 'config_sentence_transformers.json', 'modules.json']);
    expect(readdirSync(join(out, '0_StaticEmbedding')).sort()).toEqual(['model.safetensors', 'tokenizer.json']);
    expect(header(join(out, '0_StaticEmbedding', 'model.safetensors'))).toEqual({ 'embedding.weight': { dtype: 'F16', shape: [32000, 8] } });
    expect(readJson(join(out, 'modules.json'))).toEqual([
      { idx: 0, name: '0', path: '0_StaticEmbedding', type: 'sentence_transformers.models.StaticEmbedding' },
      { idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]);
    expect(readJson(join(out, 'config_sentence_transformers.json'))).toMatchObject({ prompts: {}, default_prompt_name: null, similarity_fn_name: 'cosine' });
    // The Normalize module is in modules.json, which load() does not read: ask for normalisation explicitly.
    const back = load(out, { normalize: true });
    expect(back.dim).toBe(8);
    expect(maxAbsDiff(back.embed(TEXTS).data, load(src.dir, { dim: 8 }).embed(TEXTS).data)).toBeLessThan(1e-6);
  });

  it('wordllama f16: <name>_<dim>.safetensors "embedding.weight" F16 + tokenizer.json, bit-identical rows', async () => {
    const out = await exportCli(['--format', 'wordllama']);
    expect(readdirSync(out).sort()).toEqual(['tiny_16.safetensors', 'tokenizer.json']);
    expect(header(join(out, 'tiny_16.safetensors'))).toEqual({ 'embedding.weight': { dtype: 'F16', shape: [32000, 16] } });
    const a = readFileSync(src.file);
    const b = readFileSync(join(out, 'tiny_16.safetensors'));
    expect(b.subarray(b.length - 32000 * 16 * 2).equals(a.subarray(a.length - 32000 * 16 * 2))).toBe(true);
    const back = load(out, { normalize: true });
    expect(back.info.format).toBe('wordllama');
    expect(maxAbsDiff(back.embed(TEXTS).data, load(src.dir).embed(TEXTS).data)).toBeLessThan(1e-6);
  });

  it('bad flags are one line naming the flag and the choices', async () => {
    const r1 = await runCli(['export', '--model', src.dir, '--out', tmp(), '--format', 'onnx']);
    expect([r1.code, r1.err]).toEqual([2, 'error: export: --format "onnx" is not one of model2vec, sentence-transformers, wordllama\n']);
    const r2 = await runCli(['export', '--model', src.dir, '--out', tmp(), '--format', 'wordllama', '--dtype', 'int8']);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/^error: export: WordLlama files hold float rows; use --dtype f16 \(its own\) or f32\n$/);
    const r3 = await runCli(['export', '--model', src.dir, '--format', 'model2vec']);
    expect([r3.code, r3.err]).toEqual([2, 'error: export: --out is required (see: pipeline export --help)\n']);
  });
});
