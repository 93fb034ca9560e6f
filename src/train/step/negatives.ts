/**
 * In-batch false negatives. MNRL treats every other record's positive (and hard negative) as a negative of
 * anchor i; some are not: the shared caption sets pair each caption with the image's other captions, so one
 * text appears in several records, and paraphrase sets repeat sentences. These helpers build a
 * [nAnchors, C] 0/1 mask of candidates to leave out of anchor i's softmax (C = the positives, then the hard
 * negatives present, the loss's candidate order). Anchor i's own positive (j = i) is never masked.
 * Pure functions over typed arrays.
 */

/**
 * Candidates whose token ids equal anchor i's or positive i's (the same text in another record).
 * `seqs` = anchors [0, nAnchors), then the candidates. Undefined when nothing is masked.
 */
export function duplicateNegatives(seqs: readonly ArrayLike<number>[], nAnchors: number): Float32Array | undefined {
  const C = seqs.length - nAnchors;
  const key = (s: ArrayLike<number>) => Array.prototype.join.call(s, ',');
  // text key → anchors whose anchor or positive has that text
  const owners = new Map<string, number[]>();
  const own = (k: string, i: number) => {
    const list = owners.get(k);
    if (!list) owners.set(k, [i]);
    else if (list[list.length - 1] !== i) list.push(i);
  };
  for (let i = 0; i < nAnchors; i++) {
    own(key(seqs[i]!), i);
    own(key(seqs[nAnchors + i]!), i);
  }
  let mask: Float32Array | undefined;
  for (let j = 0; j < C; j++) {
    for (const i of owners.get(key(seqs[nAnchors + j]!)) ?? []) {
      if (i === j) continue;
      mask ??= new Float32Array(nAnchors * C);
      mask[i * C + j] = 1;
    }
  }
  return mask;
}

/**
 * GISTEmbed's guided negatives (Solatorio 2024): leave out candidate j when the teacher finds it closer to
 * anchor i than i's own positive, minus `margin`: teacherSim[i, j] > teacherSim[i, i] − margin. Only pairs
 * where `has` is 1 (both texts have teacher vectors) are judged. Undefined when nothing is masked.
 */
export function guidedNegatives(teacherSim: Float32Array, has: Float32Array, nAnchors: number, margin: number): Float32Array | undefined {
  const C = teacherSim.length / nAnchors;
  let mask: Float32Array | undefined;
  for (let i = 0; i < nAnchors; i++) {
    if (!has[i * C + i]) continue;
    const limit = teacherSim[i * C + i]! - margin;
    for (let j = 0; j < C; j++) {
      if (j === i || !has[i * C + j] || !(teacherSim[i * C + j]! > limit)) continue;
      mask ??= new Float32Array(nAnchors * C);
      mask[i * C + j] = 1;
    }
  }
  return mask;
}

/** Element-wise OR of optional masks of the same shape. */
export function unionMasks(a: Float32Array | undefined, b: Float32Array | undefined): Float32Array | undefined {
  if (!a || !b) return a ?? b;
  const out = Float32Array.from(a);
  for (let i = 0; i < b.length; i++) if (b[i]) out[i] = 1;
  return out;
}
