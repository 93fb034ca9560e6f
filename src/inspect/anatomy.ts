/**
 * The anatomy of the checkpoint a token matrix comes from, read from the shard index and safetensors headers
 * alone (no tensor data): the embedding's parameters and bytes against the whole checkpoint's, whether the
 * output head is tied to it, its dtype, and for a concatenation each source's share of the width.
 */

export interface AnatomySource {
  name: string;
  repo?: string;
  revision?: string;
  /** The embedding tensor's name in the checkpoint. */
  tensor: string;
  dtype: string;
  shape: number[];
  embedding_params: number;
  embedding_bytes: number;
  /** Σ parameters over every tensor of every shard header. */
  checkpoint_params?: number;
  checkpoint_bytes?: number;
  /** True when no separate output-head tensor exists (or config.json says tie_word_embeddings). */
  tied?: boolean;
  head_tensor?: string;
  /** This source's columns over the concatenation's width (1 for a single source). */
  share_of_width: number;
}

export interface Anatomy {
  sources: AnatomySource[];
}
