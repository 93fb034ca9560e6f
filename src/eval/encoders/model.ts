/**
 * A model any `load` of the embedding library accepts (ours, WordLlama, model2vec, sentence-transformers
 * static folders) as a SentenceEncoder, at every Matryoshka width it declares (config.json `dims`) or its
 * width and the powers of two below it. The library does the pooling exactly as users get it (pad/UNK
 * rules, max length); eval asks for unnormalised means and derives widths/binary codes in `prepareVectors`.
 */
import { load } from '../../embed/node.ts';
import { defaultDims, type SentenceEncoder } from '../encoder.ts';
import { configDims, findModelFiles, type ModelFiles } from '../model-files.ts';

export async function openModelEncoder(path: string, name: string): Promise<{ encoder: SentenceEncoder; files: ModelFiles }> {
  const files = findModelFiles(path);
  const model = load(files.safetensors);
  const declared = configDims(model.info.config ?? files.config)?.filter((d) => d <= model.dim);
  const dims = declared && declared.length > 0 ? declared : defaultDims(model.dim);
  return {
    encoder: {
      name,
      dim: model.dim,
      dims,
      embed: async (texts) => model.embed(texts, { norm: false }),
    },
    files,
  };
}
