/**
 * A saved model (ours, WordLlama or model2vec folders) as a SentenceEncoder: the mean of its rows for the
 * text's tokens, at every Matryoshka width it declares (config.json `dims`) or the powers of two below its
 * width. Normalisation and truncation happen in `prepareVectors`, so the encoder returns raw means.
 */
import { openSafetensorsMatrix } from '../../matrix/row-matrix.ts';
import { loadTokenizerFile } from '../../tokenize/node.ts';
import { UserError } from '../../util/errors.ts';
import { defaultDims, type SentenceEncoder } from '../encoder.ts';
import { configDims, embeddingTensorInfo, findModelFiles, type ModelFiles } from '../model-files.ts';
import { rowMeanEncoder } from './row-mean.ts';

export async function openModelEncoder(path: string, name: string): Promise<{ encoder: SentenceEncoder; files: ModelFiles }> {
  const files = findModelFiles(path);
  if (!files.tokenizer) throw new UserError(`${files.dir}: no tokenizer.json beside the model; copy the tokenizer the model was built with`);
  const info = await embeddingTensorInfo(files.safetensors);
  const tokenizer = loadTokenizerFile(files.tokenizer);
  const matrix = await openSafetensorsMatrix(files.safetensors, info.name);
  const declared = configDims(files.config)?.filter((d) => d <= matrix.dim);
  const dims = declared && declared.length > 0 ? declared : defaultDims(matrix.dim);
  if (dims[0] !== matrix.dim && !declared) dims.unshift(matrix.dim);
  return { encoder: rowMeanEncoder({ name, matrix, tokenizer, dims }), files };
}
