/**
 * The model's output modes as a checkpoint records them and the trainer trains them: the `[training]` table's
 * `binarize` and `token_weights` values (src/config/training-table.ts declares and validates them).
 */
import type { TrainingTable } from '../config/types.ts';

export type BinarizeMode = TrainingTable['binarize'];
export type TokenWeightMode = TrainingTable['token_weights'];
