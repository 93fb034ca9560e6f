/**
 * Ranking metrics for retrieval / reranking, per query, over a list of candidate scores and graded relevance
 * (0 = not relevant). Ties in score are broken by candidate order (stable), so results are deterministic.
 * NDCG uses linear gain rel / log2(rank + 1), like trec_eval (MTEB) and sklearn's `ndcg_score`.
 */

function topOrder(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Reciprocal rank of the first relevant candidate within the top k, else 0. */
export function mrrAtK(scores: ArrayLike<number>, relevance: ArrayLike<number>, k = 10): number {
  const order = topOrder(scores);
  for (let r = 0; r < Math.min(k, order.length); r++) if (relevance[order[r]!]! > 0) return 1 / (r + 1);
  return 0;
}

/** DCG of the top k of `order` over `relevance`. */
function dcg(order: readonly number[], relevance: ArrayLike<number>, k: number): number {
  let sum = 0;
  for (let r = 0; r < Math.min(k, order.length); r++) sum += relevance[order[r]!]! / Math.log2(r + 2);
  return sum;
}

/** NDCG@k; 0 when no candidate is relevant (sklearn's convention). */
export function ndcgAtK(scores: ArrayLike<number>, relevance: ArrayLike<number>, k = 10): number {
  if (scores.length !== relevance.length) throw new Error(`ndcgAtK: ${scores.length} scores vs ${relevance.length} relevances`);
  const ideal = Array.from({ length: relevance.length }, (_, i) => i).sort((a, b) => relevance[b]! - relevance[a]! || a - b);
  const best = dcg(ideal, relevance, k);
  return best === 0 ? 0 : dcg(topOrder(scores), relevance, k) / best;
}

/** Average precision of one ranking (MAP's per-query term, for reranking): mean precision at each relevant hit. */
export function rankingAveragePrecision(scores: ArrayLike<number>, relevance: ArrayLike<number>): number {
  const order = topOrder(scores);
  let hits = 0;
  let sum = 0;
  for (let r = 0; r < order.length; r++) {
    if (relevance[order[r]!]! > 0) {
      hits++;
      sum += hits / (r + 1);
    }
  }
  return hits === 0 ? 0 : sum / hits;
}

/** Indices of the k highest scores, best first; ties → lower index first (same order as a stable sort). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (top.length === k && s <= scores[top[k - 1]!]!) continue;
    let pos = top.length;
    while (pos > 0 && scores[top[pos - 1]!]! < s) pos--;
    top.splice(pos, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}

/**
 * MRR@k and NDCG@k in one pass over a top-k selection (O(n·k) instead of sorting every candidate): equal to
 * `mrrAtK` and `ndcgAtK`, for retrieval over large pools.
 */
export function rankingAtK(scores: ArrayLike<number>, relevance: ArrayLike<number>, k = 10): { mrr: number; ndcg: number } {
  const top = topK(scores, k);
  let mrr = 0;
  let dcgSum = 0;
  top.forEach((i, r) => {
    const rel = relevance[i]!;
    if (rel > 0 && mrr === 0) mrr = 1 / (r + 1);
    dcgSum += rel / Math.log2(r + 2);
  });
  const ideal = topK(relevance, k);
  let best = 0;
  ideal.forEach((i, r) => (best += relevance[i]! / Math.log2(r + 2)));
  return { mrr, ndcg: best === 0 ? 0 : dcgSum / best };
}
