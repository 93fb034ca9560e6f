/** Accuracy and macro F1 over integer class ids (sklearn's `accuracy_score`, `f1_score(average='macro')`). */

export function accuracy(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (truth.length !== predicted.length) throw new Error(`accuracy: ${truth.length} vs ${predicted.length} labels`);
  if (truth.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) ok++;
  return ok / truth.length;
}

/**
 * Unweighted mean of per-class F1 over the classes present in truth or predictions (sklearn's label set);
 * a class with no true and no predicted positives cannot occur, and one with tp = 0 scores 0.
 */
export function macroF1(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (truth.length !== predicted.length) throw new Error(`macroF1: ${truth.length} vs ${predicted.length} labels`);
  const classes = new Set<number>();
  for (let i = 0; i < truth.length; i++) {
    classes.add(truth[i]!);
    classes.add(predicted[i]!);
  }
  if (classes.size === 0) return NaN;
  let sum = 0;
  for (const c of classes) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < truth.length; i++) {
      const t = truth[i] === c;
      const p = predicted[i] === c;
      if (t && p) tp++;
      else if (p) fp++;
      else if (t) fn++;
    }
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return sum / classes.size;
}
