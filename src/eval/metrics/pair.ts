/**
 * Pair classification metrics, as MTEB's PairClassificationEvaluator computes them: average precision of the
 * similarity (sklearn's `average_precision_score`, the main metric), and the accuracy / F1 at the best
 * threshold found by sweeping the sorted scores (sentence-transformers' `find_best_*_and_threshold`).
 */

function checkInputs(scores: ArrayLike<number>, labels: ArrayLike<number>, what: string): void {
  if (scores.length !== labels.length) throw new Error(`${what}: ${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) throw new Error(`${what}: label ${labels[i]} at ${i} is not 0 or 1`);
  }
}

/** Indices sorted by score, highest first; ties keep input order so results are deterministic. */
function descending(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * sklearn's average precision: Σ_n (R_n − R_{n−1}) · P_n over distinct score thresholds (tied scores form one
 * step, so the result does not depend on how ties are ordered). NaN when there is no positive.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkInputs(scores, labels, 'averagePrecision');
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  if (positives === 0) return NaN;
  const order = descending(scores);
  let tp = 0;
  let seen = 0;
  let prevRecall = 0;
  let ap = 0;
  let i = 0;
  while (i < order.length) {
    const s = scores[order[i]!]!;
    while (i < order.length && scores[order[i]!] === s) {
      tp += labels[order[i]!]!;
      seen++;
      i++;
    }
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / seen);
    prevRecall = recall;
  }
  return ap;
}

export interface ThresholdResult {
  score: number;
  threshold: number;
}

/**
 * Best accuracy over thresholds placed midway between consecutive sorted scores (MTEB /
 * sentence-transformers `find_best_acc_and_threshold`, high score = more similar).
 */
export function bestAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>): ThresholdResult {
  checkInputs(scores, labels, 'bestAccuracy');
  const order = descending(scores);
  let remainingNegatives = 0;
  for (let i = 0; i < labels.length; i++) remainingNegatives += labels[i] === 0 ? 1 : 0;
  let positivesSoFar = 0;
  let best = 0;
  let threshold = -1;
  for (let i = 0; i < order.length - 1; i++) {
    if (labels[order[i]!] === 1) positivesSoFar++;
    else remainingNegatives--;
    const acc = (positivesSoFar + remainingNegatives) / labels.length;
    if (acc > best) {
      best = acc;
      threshold = (scores[order[i]!]! + scores[order[i + 1]!]!) / 2;
    }
  }
  return { score: best, threshold };
}

export interface F1Result extends ThresholdResult {
  precision: number;
  recall: number;
}

/** Best F1 over the same thresholds (`find_best_f1_and_threshold`). */
export function bestF1(scores: ArrayLike<number>, labels: ArrayLike<number>): F1Result {
  checkInputs(scores, labels, 'bestF1');
  const order = descending(scores);
  let totalPositives = 0;
  for (let i = 0; i < labels.length; i++) totalPositives += labels[i]!;
  let best: F1Result = { score: 0, threshold: 0, precision: 0, recall: 0 };
  let extracted = 0;
  let correct = 0;
  for (let i = 0; i < order.length - 1; i++) {
    extracted++;
    if (labels[order[i]!] === 1) correct++;
    if (correct > 0) {
      const precision = correct / extracted;
      const recall = correct / totalPositives;
      const f1 = (2 * precision * recall) / (precision + recall);
      if (f1 > best.score) {
        best = { score: f1, precision, recall, threshold: (scores[order[i]!]! + scores[order[i + 1]!]!) / 2 };
      }
    }
  }
  return best;
}
