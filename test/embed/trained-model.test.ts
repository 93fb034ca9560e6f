/**
 * The library's embedding equals the trained model's pooled output (test/helpers/pooled-output.ts `pooledOutput`) for the
 * same parameters, up to the fp16 rounding of the saved rows: a real Llama-2 tokenizer, random token weights,
 * projection and bias, the vocabulary projected as `pipeline save` does (src/save/project.ts), every
 * Matryoshka dim.
 */
import { mkdtempSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { load } from '../../src/embed/node.ts';
import { initParams } from '../../src/train/start/init-params.ts';
import { pooledOutput } from '../helpers/pooled-output.ts';
import { projectBlock, truncateColumns } from '../../src/save/project.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { openSafetensorsMatrix } from '../../src/matrix/row-matrix.ts';
import { Rng, mulberry32 } from '../../src/util/random.ts';
import { TOKENIZERS } from '../helpers/embed-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'embed-trained-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SENTENCES = [
  'A man is playing a guitar.',
  'The quick brown fox jumps over the lazy dog',
  'naïve café 😀',
  'x',
  '',
  'Stock markets fell 3.5% on Tuesday.',
];

it('embed(text) == pooledOutput(trained params) for every saved dim, up to fp16 rounding', async () => {
  const nVocab = 32000;
  const dimIn = 24;
  const dims = [16, 8];
  const r = mulberry32(5);
  const E = new Float32Array(nVocab * dimIn);
  for (let i = 0; i < E.length; i++) E[i] = (r() - 0.5) * 0.2;
  const inputFile = join(dir, 'llama2.safetensors');
  await writeSafetensors(inputFile, [{ name: 'embedding', dtype: 'F32', shape: [nVocab, dimIn], data: E }]);
  const params = initParams({ nVocab, dimIn, dimOut: dims[0]!, rng: new Rng(3), tokenWeights: true, stopwordIds: [278, 263], stopwordWeight: 0.1 });
  for (let i = 0; i < nVocab; i++) params.tokenWeights![i] = 0.5 + r() * 2;

  // The saved model: row_t = gelu(w_t)·E_t·W + b, one F16 file per dim, as `pipeline save` writes it.
  const projected = projectBlock(params, E, 0, nVocab);
  for (const d of dims) {
    await writeSafetensors(join(dir, `toy_${d}.safetensors`), [
      { name: 'embedding.weight', dtype: 'F16', shape: [nVocab, d], data: Float32Array.from(truncateColumns(projected, nVocab, dims[0]!, d)) },
    ]);
  }
  copyFileSync(TOKENIZERS.llama2, join(dir, 'tokenizer.json'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ model_type: 'wordllama-ts', name: 'toy', dims, pad_token: '</s>', pad_token_id: 2, normalize: true, binarized: false, max_length: 0 }),
  );

  const input = await openSafetensorsMatrix(inputFile, 'embedding');
  for (const d of dims) {
    const model = load(dir, { dim: d });
    expect(model.info.fullDim).toBe(d);
    const ids = SENTENCES.map((s) => model.tokenIds(s));
    const want = await pooledOutput(params, input, ids, { dim: d, norm: true });
    const got = model.embed(SENTENCES);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got.data[i]! - want[i]!)).toBeLessThan(2e-3);
    // Matryoshka from the larger file: truncating the 16-dim rows to 8 before normalising is the 8-dim output.
    if (d === 8) {
      const big = load(join(dir, 'toy_16.safetensors'), { dim: 8 }).embed(SENTENCES);
      expect(Array.from(big.data)).toEqual(Array.from(got.data));
    }
    // Unnormalised too (the plain mean of saved rows = pooled · W + b).
    const raw = await pooledOutput(params, input, ids, { dim: d, norm: false });
    const gotRaw = model.embed(SENTENCES, { norm: false });
    for (let i = 0; i < raw.length; i++) expect(Math.abs(gotRaw.data[i]! - raw[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(raw[i]!)));
  }
  await input.close();
});
