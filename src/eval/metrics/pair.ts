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

/** The rows above one candidate threshold, as the sweep reaches it. */
interface ThresholdCut {
  /** Rows scored above the threshold, and how many of them are positive. */
  above: number;
  positivesAbove: number;
  /** Midway between the last row above and the first below. */
  threshold: number;
}

/**
 * The thresholds of sentence-transformers' `find_best_*_and_threshold`: walk the rows from the highest score down
 * and, after each but the last, cut midway to the next score. Returns the total positives and negatives with the cuts.
 */
function thresholdCuts(scores: ArrayLike<number>, labels: ArrayLike<number>, what: string): { positives: number; negatives: number; cuts: ThresholdCut[] } {
  checkInputs(scores, labels, what);
  const order = descending(scores);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  const cuts: ThresholdCut[] = [];
  let positivesAbove = 0;
  for (let i = 0; i < order.length - 1; i++) {
    if (labels[order[i]!] === 1) positivesAbove++;
    cuts.push({ above: i + 1, positivesAbove, threshold: (scores[order[i]!]! + scores[order[i + 1]!]!) / 2 });
  }
  return { positives, negatives: labels.length - positives, cuts };
}

/**
 * Best accuracy over thresholds placed midway between consecutive sorted scores (MTEB /
 * sentence-transformers `find_best_acc_and_threshold`, high score = more similar).
 */
export function bestAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>): ThresholdResult {
  const { negatives, cuts } = thresholdCuts(scores, labels, 'bestAccuracy');
  let best = 0;
  let threshold = -1;
  for (const cut of cuts) {
    // Correct: the positives above the threshold and the negatives below it.
    const negativesBelow = negatives - (cut.above - cut.positivesAbove);
    const acc = (cut.positivesAbove + negativesBelow) / labels.length;
    if (acc > best) {
      best = acc;
      threshold = cut.threshold;
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
  const { positives, cuts } = thresholdCuts(scores, labels, 'bestF1');
  let best: F1Result = { score: 0, threshold: 0, precision: 0, recall: 0 };
  for (const { above, positivesAbove: correct, threshold } of cuts) {
    if (correct === 0) continue;
    const precision = correct / above;
    const recall = correct / positives;
    const f1 = (2 * precision * recall) / (precision + recall);
    if (f1 > best.score) best = { score: f1, precision, recall, threshold };
  }
  return best;
}
