/**
 * The byte-level BPE pre-tokenizers a GGUF file names in `tokenizer.ggml.pre` (model `gpt2`), as the
 * tokenizer.json parts that reproduce the model's original Hugging Face tokenizer.
 *
 * GGUF stores only a name: llama.cpp's converter (convert_hf_to_gguf.py, get_vocab_base_pre) hashes the
 * original tokenizer's output on a fixed text to pick it, and llama.cpp (src/llama-vocab.cpp) compiles the
 * matching split regex in and switches on the name. Here each supported name maps back to the regex as the
 * original tokenizer.json writes it (llama.cpp keeps that form in a comment beside its hand-rewritten one),
 * the normalizer the original applies (Qwen's NFC, which llama.cpp omits), whether words found whole in the
 * vocabulary skip the merges (`ignore_merges`, which llama.cpp turns on for the Llama-3 names), and whether
 * BOS is added when `tokenizer.ggml.add_bos_token` is absent (llama.cpp's default per name).
 */

export interface ByteLevelRecipe {
  /** The canonical name, for messages and the result. */
  readonly name: string;
  readonly normalizer: unknown;
  readonly preTokenizer: unknown;
  readonly decoder: unknown;
  readonly ignoreMerges: boolean;
  readonly addBosDefault: boolean;
}

/** Llama-3's split regex, as in Meta-Llama-3's tokenizer.json (three-digit number groups). */
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's split regex, as in Qwen2/2.5/3's tokenizer.json (one digit per piece). */
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function splitThenBytes(regex: string, trimOffsets: boolean): unknown {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: trimOffsets, use_regex: false },
    ],
  };
}

const LLAMA3: ByteLevelRecipe = {
  name: 'llama-bpe',
  normalizer: null,
  preTokenizer: splitThenBytes(LLAMA3_SPLIT, true),
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  ignoreMerges: true,
  addBosDefault: true,
};

const QWEN2: ByteLevelRecipe = {
  name: 'qwen2',
  normalizer: { type: 'NFC' },
  preTokenizer: splitThenBytes(QWEN2_SPLIT, false),
  decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  ignoreMerges: false,
  addBosDefault: false,
};

/**
 * Supported `tokenizer.ggml.pre` values (llama.cpp's aliases for the same pre-tokenizer included). Others are
 * refused rather than guessed: a wrong split regex changes ids silently.
 */
const BYTE_LEVEL_RECIPES: ReadonlyMap<string, ByteLevelRecipe> = new Map([
  ['llama-bpe', LLAMA3],
  ['llama3', LLAMA3],
  ['llama-v3', LLAMA3],
  ['qwen2', QWEN2],
]);

export function byteLevelRecipe(pre: string): ByteLevelRecipe | undefined {
  return BYTE_LEVEL_RECIPES.get(pre);
}

export function supportedBytePreNames(): string[] {
  return [...BYTE_LEVEL_RECIPES.keys()];
}
