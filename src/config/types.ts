/**
 * The typed config `loadConfig` returns (see `load.ts` for the TOML → these mapping and `config/*.toml` for
 * examples). Every table is validated when the file loads, before any stage runs; the table types come from
 * their declarations (`model-tables.ts`, `training-table.ts`).
 */
import type { TableOf } from './schema.ts';
import type { TOKENIZER_KEYS } from './model-tables.ts';
import type { MatryoshkaConfig, SaveTable, TrainingTable } from './training-table.ts';

export type { MatryoshkaConfig, SaveTable, TrainingTable };

/** One matrix to extract: from the hub (safetensors or a GGUF file), a local safetensors file/dir or GGUF file, or a TF.js model. */
export interface SourceConfig {
  /** File stem under weights/<config>/ (defaults to the repo name or file stem). */
  name: string;
  hf_model_id?: string;
  revision: string;
  /** Local safetensors file or directory (with or without an index). */
  path?: string;
  /** A TF.js `model.json` (weights in its shard files); `npm:` paths resolve inside node_modules. */
  tfjs_model?: string;
  /** A local GGUF file (resolved against the config's folder). */
  gguf?: string;
  /** A GGUF file inside the `hf_model_id` repo, downloaded by Range (only the token matrix). */
  gguf_file?: string;
  /** GGUF sources: a hub repo whose tokenizer.json is used when none sits beside the GGUF file. */
  tokenizer_repo?: string;
  /** A sentencepiece vocabulary (`[[piece, score], ...]` JSON) turned into a Unigram tokenizer.json. */
  sentencepiece_vocab?: string;
  /** Tensor name; auto-detected among well-known embedding names when absent. */
  tensor?: string;
  /** Row width of the source matrix. */
  dim: number;
  /** Rows kept (the tokenizer's vocabulary). */
  n_vocab: number;
  /** Checkpoints pad their matrices beyond the vocabulary; drop those rows only when this is true. */
  drop_extra_rows: boolean;
  /** Concat: scale this source's rows by a number, or to an equal mean row norm. */
  scale?: number | 'mean_norm';
}

export type TokenizerConfig = TableOf<typeof TOKENIZER_KEYS>;

export interface ModelConfig {
  /** Config name (file stem): names the output folder weights/<name>/. */
  name: string;
  /** The TOML file it came from (for error messages). */
  file: string;
  description?: string;
  /** Shared across sources: the tokenizer's vocabulary size and pad token. */
  n_vocab: number;
  /**
   * Undefined only when every source is GGUF: extract then takes the file's padding (else EOS) token and records it,
   * and later stages read the token through `padTokenFor` (src/layout/extract-record.ts).
   */
  pad_token?: string;
  /** Width of the (concatenated) input matrix: the sum of the sources' dims. */
  dim: number;
  sources: SourceConfig[];
  tokenizer: TokenizerConfig;
  /** `[training]` with its defaults, `[[training.datasets]]` and `[training.teacher]` already checked. */
  training: TrainingTable;
  /** `[matryoshka]` resolved against `dim`. */
  matryoshka: MatryoshkaConfig;
  save: SaveTable;
}
