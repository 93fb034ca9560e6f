/**
 * The anatomy of the checkpoint a token matrix comes from, read from the shard index and safetensors headers
 * alone (no tensor data): the embedding's parameters and bytes against the whole checkpoint's, whether the
 * output head is tied to it, its dtype, and for a concatenation each source's share of the width.
 */
import type { ModelConfig, SourceConfig } from '../config/types.ts';
import type { HubClient } from '../hub/client.ts';
import { readRemoteHeader } from '../hub/remote-header.ts';
import { resolveRepo } from '../hub/repo.ts';
import { fetchSmallFile } from '../hub/small-file.ts';
import { elementCount } from '../safetensors/header.ts';
import { parseShardIndex } from '../safetensors/shard-index.ts';
import { detectEmbeddingTensor } from '../sources/detect.ts';
import { INDEX_FILE, SINGLE_FILE } from '../sources/hub.ts';
import { UserError } from '../util/errors.ts';

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

/** Output-head tensor names of the common causal-LM layouts (HF transformers' `lm_head`, GGUF-style `output`). */
const HEAD_TENSOR = /(^|\.)(lm_head|output)\.weight$/;

/**
 * One hub source's anatomy: the repo's shard index (or its single model.safetensors) and every shard's header,
 * two Range requests each, plus config.json for `tie_word_embeddings`. `onBytes` counts what was transferred.
 */
export async function hubSourceAnatomy(client: HubClient, source: SourceConfig, shareOfWidth: number, onBytes?: (n: number) => void): Promise<AnatomySource> {
  const repo = source.hf_model_id!;
  const r = await resolveRepo(client, repo, source.revision);
  const count = (n: number) => onBytes?.(n);
  const indexBytes = r.files.length === 0 || r.files.includes(INDEX_FILE) ? await fetchSmallFile(client, repo, r.commit, INDEX_FILE, count) : undefined;
  let shards: string[];
  if (indexBytes) {
    const index = parseShardIndex(new TextDecoder().decode(indexBytes), `${repo}/${INDEX_FILE}`);
    shards = [...new Set(index.weightMap.values())];
  } else {
    const single = r.files.filter((f) => !f.includes('/') && f.endsWith('.safetensors'));
    if (r.files.length > 0 && single.length !== 1)
      throw new UserError(
        `inspect: ${repo}@${source.revision} has ${single.length ? `several safetensors files (${single.join(', ')})` : 'no safetensors file'} and no ${INDEX_FILE}; its anatomy cannot be read from headers`,
      );
    shards = [single[0] ?? SINGLE_FILE];
  }
  const tensors = new Map<string, { dtype: string; shape: number[]; bytes: number }>();
  for (const shard of shards) {
    const h = await readRemoteHeader(client, repo, r.commit, shard);
    count(h.bytes);
    for (const t of h.header.tensors.values()) tensors.set(t.name, { dtype: t.dtype, shape: t.shape, bytes: t.end - t.begin });
  }
  const det = detectEmbeddingTensor(tensors.keys(), `${repo} (${shards.length} shard header${shards.length > 1 ? 's' : ''})`, source.tensor);
  const emb = tensors.get(det.name)!;
  const head = [...tensors.keys()].find((n) => HEAD_TENSOR.test(n) && n !== det.name);
  const configBytes = r.files.length === 0 || r.files.includes('config.json') ? await fetchSmallFile(client, repo, r.commit, 'config.json', count) : undefined;
  const tie = configBytes ? tieFromConfig(configBytes) : undefined;
  let params = 0;
  let bytes = 0;
  for (const t of tensors.values()) {
    params += elementCount(t.shape);
    bytes += t.bytes;
  }
  return {
    name: source.name,
    repo,
    revision: r.commit,
    tensor: det.name,
    dtype: emb.dtype,
    shape: emb.shape,
    embedding_params: elementCount(emb.shape),
    embedding_bytes: emb.bytes,
    checkpoint_params: params,
    checkpoint_bytes: bytes,
    // config.json's word is final (a tied model may still ship a copy of the head); else: no head tensor = tied
    tied: tie ?? head === undefined,
    head_tensor: head,
    share_of_width: shareOfWidth,
  };
}

/** `tie_word_embeddings` of a config.json, top level or in its `text_config` (multimodal Gemma 3); undefined if unsaid. */
function tieFromConfig(bytes: Uint8Array): boolean | undefined {
  try {
    const c = JSON.parse(new TextDecoder().decode(bytes)) as { tie_word_embeddings?: unknown; text_config?: { tie_word_embeddings?: unknown } };
    const v = c.tie_word_embeddings ?? c.text_config?.tie_word_embeddings;
    return typeof v === 'boolean' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The anatomy of every hub source of a config (local and TF.js sources have no checkpoint to look at). */
export async function configAnatomy(config: ModelConfig, client: HubClient, onBytes?: (n: number) => void): Promise<Anatomy | undefined> {
  const hub = config.sources.filter((s) => s.hf_model_id);
  if (hub.length === 0) return undefined;
  const width = config.sources.reduce((s, x) => s + x.dim, 0);
  const sources: AnatomySource[] = [];
  for (const s of hub) sources.push(await hubSourceAnatomy(client, s, s.dim / width, onBytes));
  return { sources };
}

/** The anatomy as summary lines for stderr. */
export function anatomyLines(a: Anatomy): string[] {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  return a.sources.map(
    (s) =>
      `${s.name} (${s.repo}): ${s.tensor} ${s.dtype} [${s.shape.join(', ')}] = ${s.embedding_params.toLocaleString('en-US')} params, ${gb(s.embedding_bytes)}` +
      (s.checkpoint_params
        ? ` of ${s.checkpoint_params.toLocaleString('en-US')} (${pct(s.embedding_params / s.checkpoint_params)}), ${gb(s.checkpoint_bytes ?? 0)}`
        : '') +
      `; output head ${s.tied ? 'tied' : `untied (${s.head_tensor ?? 'separate'})`}` +
      (a.sources.length > 1 ? `; ${pct(s.share_of_width)} of the width` : ''),
  );
}
