/**
 * The library on models in our own `pipeline save` format, generated in tmp dirs with real tokenizers:
 * pooling equals a plain reference for every tokenizer family and its edge cases; Matryoshka truncation,
 * binary codes, file selection, loading from bytes, and clear errors for bad input.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { load, loadModelFromBuffers, packedBytes, UserError } from '../../src/embed/node.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { makeModel, referenceEmbedding, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const LONG = Array.from({ length: 5000 }, (_, i) => ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'a', 'lazy', 'dog.'][i % 9]).join(' ');
const CASES = ['Hello world', 'A man is playing a guitar.', '', '   ', ' \n\t ', 'emoji 😀👍🏽 only 🇫🇷', 'naïve café', LONG, '123 456 7890'];

const FAMILIES = [
  { name: 'Llama-2 (BPE, byte fallback, pad = </s>)', tokenizer: TOKENIZERS.llama2, nVocab: 32000, pad: '</s>', eos: '</s>' },
  { name: 'Llama-3 (byte-level BPE, pad = <|end_of_text|>)', tokenizer: TOKENIZERS.llama3, nVocab: 128256, pad: '<|end_of_text|>', eos: '<|end_of_text|>' },
  { name: 'Qwen-3 (byte-level BPE, padded matrix)', tokenizer: TOKENIZERS.qwen3, nVocab: 151936, pad: '<|endoftext|>', eos: '<|endoftext|>' },
  { name: 'Gemma-3 (BPE, pad = <pad>)', tokenizer: TOKENIZERS.gemma3, nVocab: 262144, pad: '<pad>', eos: '<eos>' },
];

function expectNear(actual: Float32Array, expected: Float64Array, tol = 2e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(tol);
}

describe('pooling per tokenizer family equals a plain reference', () => {
  for (const fam of FAMILIES) {
    it(fam.name, async () => {
      const g = await makeModel({ tokenizer: fam.tokenizer, nVocab: fam.nVocab, dim: 8, padToken: fam.pad });
      dirs.push(g.dir);
      const m = load(g.dir);
      expect(m.info.format).toBe('wordllama-ts');
      expect(m.dim).toBe(8);
      const padId = m.tokenizer.tokenToId(fam.pad)!;
      const unk = m.tokenizer.unkId;
      const texts = [...CASES, `ends with ${fam.eos}`, `${fam.pad}${fam.pad} pad ${fam.pad} only counts words`];
      const e = m.embed(texts);
      texts.forEach((t, i) => {
        const ids = m.tokenizer.encode(t).filter((id) => id !== padId && id !== unk);
        const want = referenceEmbedding(g.rows, g.dim, ids);
        expectNear(e.data.subarray(i * 8, (i + 1) * 8), want);
        expect(e.data.subarray(i * 8, (i + 1) * 8).every(Number.isFinite)).toBe(true);
      });
      // Pad never counts: a text of only pad tokens is a zero vector, and pads don't change a sentence.
      expect(Array.from(m.embed([fam.pad + fam.pad]).data)).toEqual(new Array(8).fill(0));
      expect(Array.from(m.embed([`a b ${fam.pad}`]).data)).toEqual(Array.from(m.embed(['a b ']).data));
      // Empty text: zero vector, never NaN.
      expect(Array.from(m.embed(['']).data)).toEqual(new Array(8).fill(0));
    });
  }
});

describe('a model in the pipeline save format', () => {
  let g: GeneratedModel;
  it('setup', async () => {
    g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 16, padToken: '</s>', name: 'toy' });
    dirs.push(g.dir);
    // A second, smaller dim in the same folder.
    // config.json (written again by the second call) lists both widths, as `pipeline save` writes it.
    await makeModel({
      tokenizer: TOKENIZERS.llama2,
      nVocab: 32000,
      dim: 8,
      padToken: '</s>',
      name: 'toy',
      dir: g.dir,
      seed: 2,
      config: { dims: [16, 8], dim: undefined },
    });
  });

  it('folder load picks the largest dim, or the file of the dim asked for; extracted sources beside are ignored', async () => {
    // An extracted source in the same folder, as in weights/<config>/ (its name even ends in _<number>).
    await writeSafetensors(join(g.dir, 'source_64.safetensors'), [{ name: 'embedding', dtype: 'F32', shape: [4, 64], data: new Float32Array(256) }]);
    await writeSafetensors(join(g.dir, 'llama2.safetensors'), [{ name: 'embedding', dtype: 'F32', shape: [4, 64], data: new Float32Array(256) }]);
    expect(load(g.dir).dim).toBe(16);
    expect(load(g.dir, { dim: 8 }).info.fullDim).toBe(8);
    // A dim between files: the next larger file, truncated.
    const m = load(join(g.dir, 'toy_16.safetensors'), { dim: 12 });
    expect([m.dim, m.info.fullDim]).toEqual([12, 16]);
  });

  it('Matryoshka: truncation to dim happens before normalisation', () => {
    const m = load(join(g.dir, 'toy_16.safetensors'));
    const ids = m.tokenIds('The cat sat on the mat.');
    const want = referenceEmbedding(g.rows, 16, ids, 4);
    expectNear(m.embed(['The cat sat on the mat.'], { dim: 4 }).data, want);
    const m4 = load(join(g.dir, 'toy_16.safetensors'), { dim: 4 });
    expect(Array.from(m4.embed(['The cat sat on the mat.']).data)).toEqual(Array.from(m.embed(['The cat sat on the mat.'], { dim: 4 }).data));
    // norm: false gives the plain mean.
    expectNear(m.embed(['The cat sat on the mat.'], { norm: false }).data, referenceEmbedding(g.rows, 16, ids, 16, false));
  });

  it('binary codes are the sign bits, laid out like numpy.packbits', () => {
    const m = load(join(g.dir, 'toy_16.safetensors'));
    const texts = ['The cat sat on the mat.', 'Dogs bark.', ''];
    const codes = m.embedBinary(texts);
    expect([codes.rows, codes.bits, codes.words]).toEqual([3, 16, 1]);
    expect(Array.from(m.embed(texts, { binarize: true }).data)).toEqual(Array.from(codes.data));
    const dense = m.embed(texts, { norm: false });
    const bytes = packedBytes(codes);
    expect(bytes.length).toBe(6);
    for (let r = 0; r < 3; r++)
      for (let j = 0; j < 16; j++) {
        const bit = (bytes[r * 2 + (j >> 3)]! >> (7 - (j & 7))) & 1;
        expect(bit).toBe(dense.data[r * 16 + j]! > 0 ? 1 : 0);
      }
    // Binary mode: similarity is Hamming similarity 1 − 2·d/bits.
    const b = load(join(g.dir, 'toy_16.safetensors'), { binary: true });
    const s = b.similarity('The cat sat on the mat.', 'Dogs bark.');
    let d = 0;
    for (let j = 0; j < 16; j++) d += (dense.data[j]! > 0 ? 1 : 0) !== (dense.data[16 + j]! > 0 ? 1 : 0) ? 1 : 0;
    expect(s).toBeCloseTo(1 - (2 * d) / 16, 6);
  });

  it('loads from bytes (the browser path) with the same result as from a path', () => {
    const file = join(g.dir, 'toy_16.safetensors');
    const bytes = readFileSync(file);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const m = loadModelFromBuffers({
      safetensors: ab,
      tokenizerJson: readFileSync(join(g.dir, 'tokenizer.json'), 'utf8'),
      configJson: JSON.parse(readFileSync(join(g.dir, 'config.json'), 'utf8')),
    });
    expect(Array.from(m.embed(['Hello there']).data)).toEqual(Array.from(load(file).embed(['Hello there']).data));
  });

  it('F16 files stay f16 in memory by default (half the memory); f32 decoding gives identical embeddings', () => {
    const file = join(g.dir, 'toy_16.safetensors');
    const a = load(file, { precision: 'f32' });
    const b = load(file);
    expect([a.info.precision, b.info.precision]).toEqual(['f32', 'f16']);
    expect(Array.from(b.embed(CASES).data)).toEqual(Array.from(a.embed(CASES).data));
  });

  it('WordLlama files (embedding.weight, no config) load with WordLlama defaults; raw extracted matrices too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wl-'));
    dirs.push(dir);
    copyFileSync(join(g.dir, 'toy_16.safetensors'), join(dir, 'l2_supercat_16.safetensors'));
    copyFileSync(join(g.dir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const wl = load(dir);
    expect([wl.info.format, wl.normalize]).toEqual(['wordllama', false]);
    const raw = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 4, tensor: 'embedding', config: { model_type: 'extract' } });
    dirs.push(raw.dir);
    expect(load(raw.file).info.format).toBe('raw');
  });
});

describe('bad input gives one clear error', () => {
  const expectUserError = (fn: () => unknown, re: RegExp) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain('\n');
  };

  it('not a safetensors file, missing tokenizer, vocabulary mismatch, dim too large, bad pad token, k > docs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'm_8.safetensors'), 'this is not a model at all');
    expectUserError(() => load(join(dir, 'm_8.safetensors')), /tokenizer\.json/);
    copyFileSync(TOKENIZERS.llama2, join(dir, 'tokenizer.json'));
    expectUserError(() => load(join(dir, 'm_8.safetensors')), /not a safetensors file/);

    await writeSafetensors(join(dir, 'm_8.safetensors'), [{ name: 'embedding.weight', dtype: 'F32', shape: [1000, 8], data: new Float32Array(8000) }]);
    expectUserError(() => load(join(dir, 'm_8.safetensors')), /vocabulary mismatch: the matrix covers 1000 tokens but tokenizer\.json has ids up to 31999/);

    const g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 8, padToken: '</s>' });
    dirs.push(g.dir);
    expectUserError(() => load(g.file, { dim: 9 }), /dim 9 is above the model's 8/);
    const m = load(g.file);
    expectUserError(() => m.embed(['x'], { dim: 64 }), /dim 64 is above the model's 8/);
    expectUserError(() => m.cluster(['a', 'b'], 3), /k = 3 is larger than the number of docs \(2\)/);
    expectUserError(() => m.topk('q', ['a', 'b'], 3), /k = 3 is larger than the number of docs \(2\)/);

    const cfg = JSON.parse(readFileSync(join(g.dir, 'config.json'), 'utf8'));
    writeFileSync(join(g.dir, 'config.json'), JSON.stringify({ ...cfg, pad_token: '<pad>' }));
    expectUserError(() => load(g.file), /pad_token "<pad>" is not a token/);
    expectUserError(() => load(join(dir, 'nope')), /no such file or folder/);
  });
});
