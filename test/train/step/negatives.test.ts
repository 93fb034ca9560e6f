/**
 * False-negative masks for MNRL (src/train/step/negatives.ts) and the loss with candidates left out: exact masks on
 * hand-made batches, and the masked loss equal to an explicit float64 cross-entropy over the kept candidates.
 */
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../../src/tfjs/backend.ts';
import { matryoshkaMnrl } from '../../../src/train/step/loss.ts';
import { duplicateNegatives, guidedNegatives, unionMasks } from '../../../src/train/step/negatives.ts';
import { Rng } from '../../../src/util/random.ts';

const ids = (...v: number[]) => Int32Array.from(v);

describe('duplicateNegatives', () => {
  it('masks candidates whose text equals another anchor or its positive, never the own positive', () => {
    // anchors: A B C; positives: P Q A; hard negative of record 0: B
    const A = ids(1, 2);
    const B = ids(3);
    const C = ids(4, 5, 6);
    const P = ids(7);
    const Q = ids(7); // record 1's positive is the same text as record 0's positive
    const seqs = [A, B, C, P, Q, A, B];
    const mask = duplicateNegatives(seqs, 3)!;
    const C_ = 4;
    const at = (i: number, j: number) => mask[i * C_ + j];
    // record 0 (A→P): candidate 1 (Q = P) and candidate 2 (A = its anchor) are duplicates
    expect([at(0, 0), at(0, 1), at(0, 2), at(0, 3)]).toEqual([0, 1, 1, 0]);
    // record 1 (B→Q): candidate 0 (P = Q) and candidate 3 (the negative B = its anchor)
    expect([at(1, 0), at(1, 1), at(1, 2), at(1, 3)]).toEqual([1, 0, 0, 1]);
    // record 2 (C→A): its own positive A is kept; candidate 0..3 hold no copy of C or A elsewhere
    expect([at(2, 0), at(2, 1), at(2, 2), at(2, 3)]).toEqual([0, 0, 0, 0]);
  });

  it('is undefined for a batch without duplicates', () => {
    expect(duplicateNegatives([ids(1), ids(2), ids(3), ids(4)], 2)).toBeUndefined();
  });
});

describe('guidedNegatives (GISTEmbed)', () => {
  it('masks candidates the teacher scores above the positive minus the margin, where it has vectors', () => {
    // 2 anchors, 3 candidates
    const sim = Float32Array.from([0.8, 0.85, 0.7, /* anchor 1 */ 0.9, 0.6, 0.59]);
    const has = Float32Array.from([1, 1, 1, 1, 1, 0]);
    expect(Array.from(guidedNegatives(sim, has, 2, 0)!)).toEqual([0, 1, 0, 1, 0, 0]);
    // margin 0.15: anchor 0 also drops 0.7 (> 0.65); anchor 1 drops 0.9 and not the vector-less 0.59
    expect(Array.from(guidedNegatives(sim, has, 2, 0.15)!)).toEqual([0, 1, 1, 1, 0, 0]);
    expect(guidedNegatives(Float32Array.from([0.9, 0.1, 0.2, 0.8]), Float32Array.from([1, 1, 1, 1]), 2, 0)).toBeUndefined();
  });

  it('unionMasks ORs optional masks', () => {
    expect(unionMasks(undefined, undefined)).toBeUndefined();
    const a = Float32Array.from([1, 0, 0]);
    expect(unionMasks(a, undefined)).toBe(a);
    expect(Array.from(unionMasks(a, Float32Array.from([0, 0, 1]))!)).toEqual([1, 0, 1]);
  });
});

describe('MNRL with excluded candidates', () => {
  it('equals an explicit float64 cross-entropy over the kept candidates, per Matryoshka dim', async () => {
    const { tf } = await selectBackend('cpu');
    const rng = new Rng(11);
    const n = 4;
    const c = 6; // 4 positives + 2 hard negatives
    const w = 6;
    const data = Float32Array.from({ length: (n + c) * w }, () => rng.normal());
    const exclude = new Float32Array(n * c);
    exclude[0 * c + 1] = 1;
    exclude[0 * c + 5] = 1;
    exclude[2 * c + 0] = 1;
    exclude[3 * c + 4] = 1;
    const dims = [6, 3];
    const { perDim } = matryoshkaMnrl(tf, {
      emb: tf.tensor2d(data, [n + c, w]),
      nAnchors: n,
      dims,
      weights: [1, 1],
      scale: 20,
      exclude: tf.tensor2d(exclude, [n, c]),
    });
    const explicit = (d: number) => {
      const unit = (r: number) => {
        const v = Array.from(data.subarray(r * w, r * w + d));
        const s = Math.hypot(...v);
        return v.map((x) => x / s);
      };
      let l = 0;
      for (let i = 0; i < n; i++) {
        const a = unit(i);
        const kept = Array.from({ length: c }, (_, j) => j).filter((j) => !exclude[i * c + j]);
        const logits = kept.map((j) => 20 * unit(n + j).reduce((s, x, k) => s + x * a[k]!, 0));
        const mx = Math.max(...logits);
        l += mx + Math.log(logits.reduce((s, z) => s + Math.exp(z - mx), 0)) - logits[kept.indexOf(i)]!;
      }
      return l / n;
    };
    for (let i = 0; i < dims.length; i++) {
      const got = (await perDim[i]!.data())[0]!;
      expect(got).toBeCloseTo(explicit(dims[i]!), 4);
      // and it differs from the unmasked loss (the mask matters)
      const plain = (await matryoshkaMnrl(tf, { emb: tf.tensor2d(data, [n + c, w]), nAnchors: n, dims: [dims[i]!], weights: [1], scale: 20 }).total.data())[0]!;
      expect(Math.abs(plain - got)).toBeGreaterThan(1e-3);
    }
  });
});
