/**
 * model2vec's own fixtures (../shared/fixtures/model2vec, from MinishLab/model2vec-rs) reproduce their expected
 * embeddings: f32, f16, i8, sentence-transformers naming and the vocabulary-quantized form.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeShared, sharedPath } from '../helpers/shared.ts';
import { load, toModel2Vec } from '../../src/embed/node.ts';

const F = (...p: string[]) => sharedPath('fixtures', 'model2vec', ...p);
const json = (name: string) => JSON.parse(readFileSync(F(name), 'utf8')) as number[][];
const LONG = Array(1000).fill('hello').join(' ');

function expectClose(actual: Float32Array, expected: number[], rel: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(rel * Math.max(1e-3, Math.abs(expected[i]!)));
  }
}

describeShared('model2vec fixtures', ['fixtures', 'model2vec'], () => {
  it('float32: "hello world" and the 1000×hello text (char + token truncation) match to 1e-5', () => {
    const m = load(F('test-model-float32'));
    expect(m.info.format).toBe('model2vec');
    expect(m.normalize).toBe(true);
    // median token length 6 × max_length 512
    expect(m.info.maxChars).toBe(3072);
    expectClose(m.embed(['hello world']).data, json('embeddings_short.json')[0]!, 1e-6);
    // model2vec-rs sums 512 rows in float32 one by one (its expected value drifts by 4e-6); we sum in float64.
    expectClose(m.embed([LONG]).data, json('embeddings_long.json')[0]!, 1e-5);
    expect(m.tokenIds(LONG).length).toBe(512);
  });

  it('float16 and int8 matrices reproduce the expected outputs within their quantization', () => {
    for (const [dir, tol] of [
      ['test-model-float16', 1e-3],
      ['test-model-int8', 2e-2],
    ] as const) {
      const m = load(F(dir));
      expectClose(m.embed(['hello world']).data, json('embeddings_short.json')[0]!, tol);
      expectClose(m.embed([LONG]).data, json('embeddings_long.json')[0]!, tol);
    }
    // F16 rows are kept as bits by default and decoded on the fly: identical to decoding them once.
    const a = load(F('test-model-float16'), { precision: 'f32' });
    const b = load(F('test-model-float16'));
    expect([a.info.precision, b.info.precision, load(F('test-model-float32')).info.precision]).toEqual(['f32', 'f16', 'f32']);
    expect(Array.from(b.embed(['hello world', LONG]).data)).toEqual(Array.from(a.embed(['hello world', LONG]).data));
  });

  it('sentence-transformers StaticEmbedding naming (embedding.weight + config_sentence_transformers.json)', () => {
    const m = load(F('test-model-sentence-transformers'));
    expect(m.info.format).toBe('sentence-transformers');
    expect(m.normalize).toBe(true);
    expectClose(m.embed(['hello world']).data, json('embeddings_short.json')[0]!, 1e-5);
  });

  it('vocabulary-quantized (mapping + weights + Unigram tokenizer) matches to 1e-5', () => {
    const m = load(F('test-model-vocab-quantized'));
    expect(m.dim).toBe(64);
    expectClose(m.embed([LONG]).data, json('embeddings_vocab_quantized.json')[0]!, 1e-5);
  });

  it('UNK tokens are dropped and token-less text gives a zero vector', () => {
    const m = load(F('test-model-float32'));
    const unk = m.tokenizer.unkId!;
    expect(m.tokenizer.encode('hello \u{1F9FF}')).toContain(unk);
    expect(m.tokenIds('hello \u{1F9FF}')).not.toContain(unk);
    expect(Array.from(m.embed(['hello \u{1F9FF}']).data)).toEqual(Array.from(m.embed(['hello']).data));
    const z = m.embed(['', '   ', '\u{1F9FF}']);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('Unigram (vocab-quantized) edge cases: UNK dropped, empty/whitespace → zero, long text capped at 512 tokens', () => {
    const m = load(F('test-model-vocab-quantized'));
    const unk = m.tokenizer.unkId!;
    const texts = ['hello 😀 world', '', '   ', '\t\n', '😀', 'naïve café', Array(800).fill('word').join(' ')];
    expect(m.tokenizer.encode('hello 😀 world')).toContain(unk);
    const e = m.embed(texts);
    texts.forEach((t, i) => {
      const ids = m.tokenIds(t);
      expect(ids).not.toContain(unk);
      expect(ids.length).toBeLessThanOrEqual(512);
      const mean = new Float64Array(64);
      for (const id of ids) m.tokenVector(id).forEach((v, j) => (mean[j]! += v / ids.length));
      const n = Math.hypot(...mean);
      for (let j = 0; j < 64; j++) expect(e.data[i * 64 + j]!).toBeCloseTo(n > 0 ? mean[j]! / n : 0, 5);
    });
    expect(m.tokenIds(texts[6]!).length).toBe(512);
  });

  it('toModel2Vec round-trips: the exported folder loads as model2vec with the same embeddings', async () => {
    const m = load(F('test-model-vocab-quantized'));
    const dir = mkdtempSync(join(tmpdir(), 'm2v-export-'));
    await toModel2Vec(m, dir);
    const back = load(dir);
    expect(back.info.format).toBe('model2vec');
    expect(back.info.vocabSize).toBe(m.info.vocabSize);
    const texts = ['hello world', 'A man is playing a guitar.', LONG];
    const a = m.embed(texts).data;
    const b = back.embed(texts).data;
    for (let i = 0; i < a.length; i++) expect(b[i]!).toBeCloseTo(a[i]!, 6);
    expect(JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8'))[0].type).toBe('sentence_transformers.models.StaticEmbedding');
  });
});
