/**
 * Tensor names, in one place: what our files call their matrix, and which names other tools' files use for
 * theirs. Browser-safe (no Node built-ins): the library's loader reads these too.
 */

/** The matrix of an extracted source (weights/<config>/<source>.safetensors) and of a materialized concat. */
export const EXTRACTED_TENSOR = 'embedding';

/** The projected matrix of a saved model (`<name>_<dim>.safetensors`), as in WordLlama's files. */
export const SAVED_TENSOR = 'embedding.weight';

/** model2vec's matrix (`model.safetensors`). */
export const MODEL2VEC_TENSOR = 'embeddings';

/** Names a finished static model's matrix goes by, most specific first (ours/WordLlama, model2vec, extracted). */
export const STATIC_MODEL_TENSORS = [SAVED_TENSOR, MODEL2VEC_TENSOR, EXTRACTED_TENSOR, 'weight', 'embed_tokens.weight'] as const;

/** Token-embedding tensors of LLM checkpoints, most common first (src/sources/detect.ts tries them in order). */
export const CHECKPOINT_EMBEDDING_TENSORS = [
  'model.embed_tokens.weight',
  'language_model.model.embed_tokens.weight',
  'model.language_model.embed_tokens.weight',
  'model.text_model.embed_tokens.weight',
  'transformer.wte.weight',
  'transformer.word_embeddings.weight',
  'gpt_neox.embed_in.weight',
  'model.decoder.embed_tokens.weight',
  'embeddings.word_embeddings.weight',
  'bert.embeddings.word_embeddings.weight',
  'roberta.embeddings.word_embeddings.weight',
  'tok_embeddings.weight',
  'model.tok_embeddings.weight',
  'wte.weight',
  'embed_tokens.weight',
  'word_embeddings.weight',
  'model.embed_tokens',
  'embed_tokens',
  EXTRACTED_TENSOR,
  MODEL2VEC_TENSOR,
] as const;

/** Name endings of token-embedding tensors whose prefix varies (a suffix match after the exact names). */
export const CHECKPOINT_EMBEDDING_SUFFIXES = [
  '.embed_tokens.weight',
  '.wte.weight',
  '.word_embeddings.weight',
  '.tok_embeddings.weight',
  '.embed_in.weight',
] as const;

/** The token-embedding tensor of a GGUF file (llama.cpp's LLM_TENSOR_TOKEN_EMBD), stored [dim, vocab] in ggml order. */
export const GGUF_EMBEDDING_TENSOR = 'token_embd.weight';
