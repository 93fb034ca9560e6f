/**
 * Which token ids a sentence embedding averages: never the pad token, never the tokenizer's UNK (model2vec's
 * rule: an unknown piece carries no meaning), and at most `maxLength` of the rest. Training, evaluation and the
 * embedding library all apply this one rule, so a saved model embeds exactly what it was trained on
 * (`StaticModel.tokenIds` in src/embed/model.ts inlines the same loop on its hot path).
 */
import type { TextTokenizer } from './tokenizer.ts';

export interface PoolingRules {
  /** Ids that never count (pad, UNK); -1 entries are ignored. */
  skipIds: readonly number[];
  /** Tokens kept per text after skipping (≤ 0: no limit). */
  maxLength: number;
}

export function poolingRules(tokenizer: TextTokenizer, padId: number | undefined, maxLength: number): PoolingRules {
  const skipIds = [padId, tokenizer.unkId].filter((id): id is number => id !== undefined && id >= 0);
  return { skipIds, maxLength };
}

export function poolingIds(ids: ArrayLike<number>, rules: PoolingRules): Int32Array {
  const limit = rules.maxLength > 0 ? rules.maxLength : Infinity;
  const out: number[] = [];
  for (let i = 0; i < ids.length && out.length < limit; i++) {
    const id = ids[i]!;
    if (!rules.skipIds.includes(id)) out.push(id);
  }
  return Int32Array.from(out);
}
