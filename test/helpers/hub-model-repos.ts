/**
 * Static-model repos in each format `load` reads, generated in memory for the tests' hub server and also
 * written to a local folder (the reference the by-id load must reproduce exactly). Layouts follow the Python
 * libraries' own save code: model2vec `StaticModel.save_pretrained` (model.safetensors "embeddings" +
 * config.json + tokenizer.json), sentence-transformers `StaticEmbedding.save` (0_StaticEmbedding/
 * model.safetensors "embedding.weight" + its tokenizer.json, modules.json and config_sentence_transformers.json
 * at the top), WordLlama's `<config>_<dim>.safetensors` per width, and ours (config.json `files` map).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeHeader } from '../../src/safetensors/header.ts';
import { buildSavedModelConfig } from '../../src/layout/saved-config.ts';
import { matrixBytes, tinyTokenizerJson, type ServedFile } from './hub-server.ts';

export type RepoFormat = 'ours' | 'wordllama' | 'model2vec' | 'sentence-transformers';

const VOCAB = 40;
const text = (s: string) => new TextEncoder().encode(s);

/** A one-tensor F32 safetensors file, bytes in memory. */
export function safetensorsBytes(name: string, rows: number, dim: number, seed: number): Uint8Array {
  const { bytes, dataLength } = encodeHeader([{ name, dtype: 'F32', shape: [rows, dim] }], { format: 'pt' });
  const out = new Uint8Array(bytes.byteLength + dataLength);
  out.set(bytes);
  out.set(matrixBytes(rows, dim, 'F32', seed), bytes.byteLength);
  return out;
}

/** The files of a repo in `format`; `extra` are siblings a load must never download. */
export function modelRepoFiles(format: RepoFormat): { files: Record<string, ServedFile>; extra: string[] } {
  const tok = { data: text(tinyTokenizerJson(VOCAB)) };
  const big = { data: new Uint8Array(64 * 1024).fill(7) };
  switch (format) {
    case 'ours': {
      const config = buildSavedModelConfig({
        name: 'tiny',
        dims: [16, 32, 64],
        n_vocab: VOCAB,
        binarized: false,
        normalize: true,
        token_delta: false,
        max_length: 0,
        add_special_tokens: false,
      });
      return {
        files: {
          'config.json': { data: text(JSON.stringify(config)) },
          'tokenizer.json': tok,
          'tiny_16.safetensors': { data: safetensorsBytes('embedding.weight', VOCAB, 16, 1) },
          'tiny_32.safetensors': { data: safetensorsBytes('embedding.weight', VOCAB, 32, 2) },
          'tiny_64.safetensors': { data: safetensorsBytes('embedding.weight', VOCAB, 64, 3) },
          'README.md': { data: text('# tiny\n') },
          'weights/tiny/source.safetensors': big,
        },
        extra: ['tiny_16.safetensors', 'tiny_64.safetensors', 'README.md', 'weights/tiny/source.safetensors'],
      };
    }
    case 'wordllama':
      return {
        files: {
          'tokenizer.json': tok,
          'tiny_32.safetensors': { data: safetensorsBytes('embedding.weight', VOCAB, 32, 4) },
          'tiny_64.safetensors': { data: safetensorsBytes('embedding.weight', VOCAB, 64, 5) },
          '.gitattributes': { data: text('*.safetensors filter=lfs\n') },
        },
        extra: ['tiny_64.safetensors', '.gitattributes'],
      };
    case 'model2vec':
      return {
        files: {
          'config.json': { data: text(JSON.stringify({ model_type: 'model2vec', architectures: ['StaticModel'], normalize: true, hidden_dim: 48 })) },
          'tokenizer.json': tok,
          'model.safetensors': { data: safetensorsBytes('embeddings', VOCAB, 48, 6) },
          'modules.json': { data: text(JSON.stringify([{ idx: 0, name: '0', path: '.', type: 'sentence_transformers.models.StaticEmbedding' }])) },
          'onnx/model.onnx': big,
          'pytorch_model.bin': big,
        },
        extra: ['onnx/model.onnx', 'pytorch_model.bin'],
      };
    case 'sentence-transformers':
      return {
        files: {
          'modules.json': {
            data: text(JSON.stringify([{ idx: 0, name: '0', path: '0_StaticEmbedding', type: 'sentence_transformers.models.StaticEmbedding' }])),
          },
          'config_sentence_transformers.json': {
            data: text(JSON.stringify({ __version__: { sentence_transformers: '3.3.1' }, similarity_fn_name: 'cosine' })),
          },
          '0_StaticEmbedding/model.safetensors': { data: safetensorsBytes('embedding.weight', VOCAB, 24, 7) },
          '0_StaticEmbedding/tokenizer.json': tok,
          'README.md': { data: text('# st\n') },
        },
        extra: ['README.md'],
      };
  }
}

/** Write a repo's files into `dir` (the local reference copy). */
export function writeRepoFiles(dir: string, files: Record<string, ServedFile>): string {
  for (const [path, f] of Object.entries(files)) {
    const abs = join(dir, ...path.split('/'));
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, f.data!);
  }
  return dir;
}
