/** `[model]`, `[[sources]]` and `[tokenizer]`: what extract and the tokenizer read, declared once. */
import { anyTable, bool, ignored, int, num, positiveInt, str } from './schema.ts';

/** One matrix to extract, as written in `[[sources]]` (or in `[model]` for a single source). */
export const SOURCE_KEYS = {
  name: str({ doc: 'file stem of the extracted matrix' }),
  hf_model_id: str({ doc: 'hub repo id, e.g. "google/gemma-2-2b"' }),
  revision: str({ default: 'main', doc: 'branch, tag or commit' }),
  // Kept as written here: the loader resolves them against the config's folder once the source kind is known.
  path: str({ doc: 'local safetensors file or folder' }),
  tfjs_model: str({ doc: 'TF.js model.json' }),
  gguf: str({ doc: 'local GGUF file (llama.cpp, Ollama, LM Studio)' }),
  gguf_file: str({ doc: 'a .gguf file in the hf_model_id repo, e.g. "model-Q4_K_M.gguf"' }),
  tokenizer_repo: str({ doc: 'GGUF sources: hub repo whose tokenizer.json to use when the GGUF has none beside it' }),
  sentencepiece_vocab: str({ doc: 'sentencepiece [[piece, score]] vocab JSON' }),
  tensor: str({ doc: 'embedding tensor name' }),
  dim: int({ check: positiveInt, doc: 'row width' }),
  n_vocab: int({ check: positiveInt, doc: 'rows kept' }),
  // No default here: a source without it inherits [model] drop_extra_rows.
  drop_extra_rows: bool({ doc: 'drop padded rows beyond n_vocab (default false)' }),
  scale: num({ doc: 'concat: multiply rows by this' }),
  scale_mode: str({ check: (v) => (v === 'mean_norm' ? undefined : '"mean_norm"'), doc: 'concat: "mean_norm" scales rows to an equal mean norm' }),
};

/**
 * `[model]`: a single source's keys plus what all sources share. `pad_token` lives only here: sources share
 * one tokenizer, so a per-source pad token could never differ and is rejected as an unknown key.
 */
export const MODEL_KEYS = {
  ...SOURCE_KEYS,
  pad_token: str({ doc: "a special token of the tokenizer (GGUF sources: defaults to the file's padding token, else EOS)" }),
  description: str({ doc: 'one line for the model card' }),
};

export const TOKENIZER_KEYS = {
  max_length: int({ check: positiveInt, default: 256, doc: 'tokens kept per text' }),
  add_special_tokens: bool({ default: false, doc: "add the tokenizer's special tokens" }),
  // WordLlama's keys, accepted so its configs load; padding/truncation are how we always work.
  return_tensors: ignored(str()),
  return_attention_mask: ignored(bool()),
  padding: ignored(str()),
  truncation: ignored(bool()),
  inference: anyTable(),
};
