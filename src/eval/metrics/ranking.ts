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
