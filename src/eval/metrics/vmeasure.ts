/**
 * Clustering agreement as sklearn defines it: homogeneity = 1 − H(C|K)/H(C), completeness = 1 − H(K|C)/H(K),
 * V-measure = their harmonic mean (beta = 1). Natural logs; a zero entropy makes the score 1 (sklearn's rule).
 */

export interface VMeasure {
  homogeneity: number;
  completeness: number;
  vMeasure: number;
}

function entropy(counts: Iterable<number>, n: number): number {
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h;
}

export function vMeasure(labelsTrue: ArrayLike<number | string>, labelsPred: ArrayLike<number | string>): VMeasure {
  const n = labelsTrue.length;
  if (n !== labelsPred.length) throw new Error(`vMeasure: ${n} vs ${labelsPred.length} labels`);
  if (n === 0) return { homogeneity: 1, completeness: 1, vMeasure: 1 };
  const classCounts = new Map<number | string, number>();
  const clusterCounts = new Map<number | string, number>();
  const joint = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const c = labelsTrue[i]!;
    const k = labelsPred[i]!;
    classCounts.set(c, (classCounts.get(c) ?? 0) + 1);
    clusterCounts.set(k, (clusterCounts.get(k) ?? 0) + 1);
    const key = `${typeof c}:${c}\u0000${typeof k}:${k}`;
    joint.set(key, (joint.get(key) ?? 0) + 1);
  }
  const hC = entropy(classCounts.values(), n);
  const hK = entropy(clusterCounts.values(), n);
  const hJoint = entropy(joint.values(), n);
  // H(C|K) = H(C,K) − H(K); H(K|C) = H(C,K) − H(C)
  const homogeneity = hC === 0 ? 1 : 1 - (hJoint - hK) / hC;
  const completeness = hK === 0 ? 1 : 1 - (hJoint - hC) / hK;
  const v = homogeneity + completeness === 0 ? 0 : (2 * homogeneity * completeness) / (homogeneity + completeness);
  return { homogeneity, completeness, vMeasure: v };
}
