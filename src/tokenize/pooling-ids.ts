/**
 * Which token ids a sentence embedding averages: never the pad token, never the tokenizer's UNK (model2vec's
 * rule: an unknown piece carries no meaning), and at most `maxLength` of the rest. Training, evaluation and the
 * embedding library all apply this one rule (`keepPoolingIds`), so a saved model embeds exactly what it was
 * trained on.
 */
import type { TextTokenizer } from './tokenizer.ts';

export interface PoolingRules {
  /** Ids that never count (pad, UNK). */
  skipIds: readonly number[];
  /** Tokens kept per text after skipping (≤ 0: no limit). */
  maxLength: number;
}

/** The rules for a tokenizer: skip `padId` (when there is one) and the tokenizer's UNK, keep `maxLength`. */
export function poolingRules(tokenizer: TextTokenizer, padId: number | undefined, maxLength: number): PoolingRules {
  const skipIds = [padId, tokenizer.unkId].filter((id): id is number => id !== undefined && id >= 0);
  return { skipIds, maxLength };
}

/**
 * Move the ids of `ids[0..n)` that count to the front of `ids`, in order, and return how many there are.
 * Ids outside `[0, vocabSize)` never count either (the library's matrix may cover fewer ids than the
 * tokenizer has). In place, because the library runs this on every text it embeds.
 */
export function keepPoolingIds(ids: Int32Array, n: number, rules: PoolingRules, vocabSize = Infinity): number {
  const limit = rules.maxLength > 0 ? rules.maxLength : Infinity;
  const skip = rules.skipIds;
  let kept = 0;
  for (let t = 0; t < n && kept < limit; t++) {
    const id = ids[t]!;
    if (id < 0 || id >= vocabSize || skip.includes(id)) continue;
    ids[kept++] = id;
  }
  return kept;
}

/** The ids of `ids` that count, as a new array. */
export function poolingIds(ids: ArrayLike<number>, rules: PoolingRules): Int32Array {
  const out = Int32Array.from(ids);
  return out.slice(0, keepPoolingIds(out, out.length, rules));
}
