/**
 * Name the first difference between two tokenizer.json files, so `concat` can refuse sources whose
 * tokenizers differ with a message a user can act on ("token 32000: "<pad>" vs absent"), not just two hashes.
 */
import type { TokenizerJson } from '../tokenize/tokenizer.ts';

const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v)?.slice(0, 80));

/** Vocabulary as [token, id] pairs sorted by id: BPE/WordPiece/WordLevel map token → id; Unigram lists [piece, score]. */
function vocabById(model: TokenizerJson['model']): { byId: Map<number, string>; scores?: Map<number, number> } {
  const byId = new Map<number, string>();
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    const scores = new Map<number, number>();
    vocab.forEach((entry, i) => {
      const [piece, score] = entry as [string, number];
      byId.set(i, piece);
      scores.set(i, score);
    });
    return { byId, scores };
  }
  if (vocab && typeof vocab === 'object') for (const [tok, id] of Object.entries(vocab as Record<string, number>)) byId.set(id, tok);
  return { byId };
}

const mergeText = (m: unknown) => (Array.isArray(m) ? m.join(' ') : String(m));

/** undefined when the two tokenizers tokenize alike (model, merges, normalizer, pre-tokenizer, added tokens). */
export function firstTokenizerDifference(a: TokenizerJson, b: TokenizerJson): string | undefined {
  if ((a.model.type ?? '') !== (b.model.type ?? '')) return `model type ${show(a.model.type)} vs ${show(b.model.type)}`;
  const va = vocabById(a.model);
  const vb = vocabById(b.model);
  let maxId = -1;
  for (const id of va.byId.keys()) if (id > maxId) maxId = id;
  for (const id of vb.byId.keys()) if (id > maxId) maxId = id;
  for (let id = 0; id <= maxId; id++) {
    const ta = va.byId.get(id);
    const tb = vb.byId.get(id);
    if (ta !== tb) return `token ${id}: ${show(ta)} vs ${show(tb)}`;
    if (va.scores && vb.scores && va.scores.get(id) !== vb.scores.get(id)) {
      return `token ${id} (${show(ta)}): score ${va.scores.get(id)} vs ${vb.scores.get(id)}`;
    }
  }
  const ma = (a.model.merges as unknown[] | undefined) ?? [];
  const mb = (b.model.merges as unknown[] | undefined) ?? [];
  for (let i = 0; i < Math.max(ma.length, mb.length); i++) {
    const x = i < ma.length ? mergeText(ma[i]) : undefined;
    const y = i < mb.length ? mergeText(mb[i]) : undefined;
    if (x !== y) return `merge #${i + 1}: ${show(x)} vs ${show(y)}`;
  }
  const aa = new Map((a.added_tokens ?? []).map((t) => [t.id, t.content]));
  const ab = new Map((b.added_tokens ?? []).map((t) => [t.id, t.content]));
  for (const id of [...new Set([...aa.keys(), ...ab.keys()])].sort((x, y) => x - y)) {
    if (aa.get(id) !== ab.get(id)) return `added token ${id}: ${show(aa.get(id))} vs ${show(ab.get(id))}`;
  }
  for (const key of ['normalizer', 'pre_tokenizer'] as const) {
    const x = JSON.stringify(a[key] ?? null);
    const y = JSON.stringify(b[key] ?? null);
    if (x !== y) return `${key} ${x.slice(0, 80)} vs ${y.slice(0, 80)}`;
  }
  // Anything else of the model (unk token, byte_fallback, ...).
  const rest = (m: TokenizerJson['model']) => JSON.stringify({ ...m, vocab: undefined, merges: undefined });
  if (rest(a.model) !== rest(b.model)) return `model settings ${rest(a.model).slice(0, 80)} vs ${rest(b.model).slice(0, 80)}`;
  return undefined;
}
