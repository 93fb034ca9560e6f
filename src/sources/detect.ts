/**
 * Which tensor of a checkpoint is the token-embedding matrix. Real checkpoints use a handful of names
 * (Llama/Gemma/Qwen `model.embed_tokens.weight`, Gemma-3 multimodal `language_model.model.embed_tokens.weight`,
 * newer transformers `model.language_model.embed_tokens.weight`, GPT-2 `transformer.wte.weight`, BERT
 * `embeddings.word_embeddings.weight`, Meta's original Llama `tok_embeddings.weight`...). Exact names are tried
 * in order; then a suffix match that skips vision towers and per-layer tables. Pure.
 */
import { CHECKPOINT_EMBEDDING_SUFFIXES, CHECKPOINT_EMBEDDING_TENSORS } from '../layout/tensor-names.ts';
import { UserError } from '../util/errors.ts';

/** Known names, most common first. */
const EMBEDDING_TENSOR_NAMES = CHECKPOINT_EMBEDDING_TENSORS;
const SUFFIXES = CHECKPOINT_EMBEDDING_SUFFIXES;
/** Parts of multimodal checkpoints that have their own "embeddings" but are not the token table. */
const EXCLUDE = /(vision|visual|image|audio|patch|position|speech|mm_|multi_modal_projector|per_layer)/i;

export interface Detection {
  name: string;
  /** How it was chosen, for the "using tensor X" message. */
  how: 'config' | 'known name' | 'suffix match';
}

/**
 * Pick the embedding tensor among `names`. `configured` (the config's `tensor` key) wins and must exist;
 * `where` names the file/index in errors.
 */
export function detectEmbeddingTensor(names: Iterable<string>, where: string, configured?: string, configKey = 'tensor'): Detection {
  const all = [...names];
  const set = new Set(all);
  if (configured !== undefined) {
    if (set.has(configured)) return { name: configured, how: 'config' };
    const guess = tryDetect(all, set);
    throw new UserError(`${where}: no tensor "${configured}" (from ${configKey})${guess ? `; did you mean "${guess}"?` : `; it has ${preview(all)}`}`);
  }
  for (const n of EMBEDDING_TENSOR_NAMES) if (set.has(n)) return { name: n, how: 'known name' };
  const candidates = all.filter((n) => SUFFIXES.some((s) => n.endsWith(s)) && !EXCLUDE.test(n));
  if (candidates.length === 1) return { name: candidates[0]!, how: 'suffix match' };
  if (candidates.length > 1) {
    throw new UserError(`${where}: several embedding-like tensors (${candidates.join(', ')}); set tensor = "..." in the config to choose`);
  }
  throw new UserError(`${where}: no token-embedding tensor found among ${preview(all)}; set tensor = "..." in the config`);
}

function tryDetect(all: string[], set: Set<string>): string | undefined {
  for (const n of EMBEDDING_TENSOR_NAMES) if (set.has(n)) return n;
  const c = all.filter((n) => SUFFIXES.some((s) => n.endsWith(s)) && !EXCLUDE.test(n));
  return c.length === 1 ? c[0] : undefined;
}

function preview(names: string[]): string {
  if (names.length === 0) return 'no tensors';
  const shown = names.slice(0, 8).join(', ');
  return `${names.length} tensors (${shown}${names.length > 8 ? ', ...' : ''})`;
}
