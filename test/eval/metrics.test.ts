/**
 * Eval metrics against hand-computed cases and published reference values: scipy's spearmanr/pearsonr doc
 * examples, sklearn's doc examples (average_precision_score, v_measure_score family, ndcg_score), MTEB's own
 * PairClassificationEvaluator unit test, and values computed with sklearn 1.2.1 / scipy 1.10.1 (Debian
 * python3-sklearn) where noted.
 */
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  averagePrecision,
  averageRanks,
  bestAccuracy,
  bestF1,
  fitLogistic,
  kmeans,
  macroF1,
  mrrAtK,
  ndcgAtK,
  rankingAtK,
  topK,
  pearson,
  predictLogistic,
  rankingAveragePrecision,
  spearman,
  vMeasure,
} from '../../src/eval/metrics/index.ts';
import { mulberry32 } from '../../src/util/random.ts';

describe('correlation', () => {
  it('averages the ranks of ties (scipy rankdata method=average)', () => {
    expect(Array.from(averageRanks([10, 20, 20, 5, 20]))).toEqual([2, 4, 4, 1, 4]);
    expect(Array.from(averageRanks([3, 3, 3]))).toEqual([2, 2, 2]);
  });

  it('matches scipy.stats.spearmanr documentation example with a tie', () => {
    // scipy docs: spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic == 0.8207826816681233
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 14);
  });

  it('matches scipy on ties on both sides (computed with scipy 1.10.1)', () => {
    expect(spearman([1, 2, 2, 3, 4, 4, 4, 5], [2, 1, 3, 3, 5, 4, 4, 6])).toBeCloseTo(0.9256265453136692, 14);
  });

  it('matches scipy.stats.pearsonr documentation example', () => {
    // scipy docs: pearsonr([1, 2, 3, 4, 5], [10, 9, 2.5, 6, 4]).statistic == -0.7426106572325056
    expect(pearson([1, 2, 3, 4, 5], [10, 9, 2.5, 6, 4])).toBeCloseTo(-0.7426106572325056, 14);
  });

  it('is ±1 for monotone relations and NaN for a constant side', () => {
    expect(spearman([1, 2, 3], [10, 100, 1000])).toBe(1);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(spearman([1, 2, 3], [5, 5, 5])).toBeNaN();
  });
});

describe('pair classification (MTEB definitions)', () => {
  // MTEB tests/test_PairClassificationEvaluator.py
  const scores = [6.12, 5.39, 5.28, 5.94, 6.34, 6.47, 7.88, 6.62, 8.04, 5.9];
  const labels = [0, 0, 0, 0, 1, 0, 0, 0, 1, 0];

  it('best accuracy and threshold', () => {
    const r = bestAccuracy(scores, labels);
    expect(r.score).toBeCloseTo(0.9, 12);
    expect(r.threshold).toBeCloseTo(7.96, 12);
  });

  it('best F1, precision, recall and threshold', () => {
    const r = bestF1(scores, labels);
    expect(r.score).toBeCloseTo(2 / 3, 12);
    expect(r.precision).toBe(1);
    expect(r.recall).toBe(0.5);
    expect(r.threshold).toBeCloseTo(7.96, 12);
  });

  it('average precision', () => {
    expect(averagePrecision(scores, labels)).toBeCloseTo(0.7, 12);
  });

  it('matches sklearn average_precision_score documentation example', () => {
    // sklearn docs: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.83...
    expect(averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.8333333333333333, 14);
  });

  it('treats tied scores as one threshold like sklearn (computed with sklearn 1.2.1)', () => {
    expect(averagePrecision([0.9, 0.9, 0.5, 0.5, 0.5, 0.1], [1, 0, 1, 1, 0, 0])).toBeCloseTo(0.5666666666666667, 14);
    // reversing the input order of ties must not change it
    expect(averagePrecision([0.1, 0.5, 0.5, 0.5, 0.9, 0.9], [0, 0, 1, 1, 0, 1])).toBeCloseTo(0.5666666666666667, 14);
  });

  it('rejects labels other than 0/1', () => {
    expect(() => averagePrecision([1, 2], [0, 2])).toThrow(/label 2 at 1/);
  });
});

describe('classification metrics', () => {
  it('accuracy and macro F1 (sklearn f1_score average=macro, computed with sklearn 1.2.1)', () => {
    const t = [0, 1, 2, 0, 1, 2];
    const p = [0, 2, 1, 0, 0, 1];
    expect(accuracy(t, p)).toBeCloseTo(2 / 6, 14);
    expect(macroF1(t, p)).toBeCloseTo(0.26666666666666666, 14);
  });
});

describe('V-measure (sklearn documentation examples)', () => {
  it('homogeneity, completeness and V', () => {
    expect(vMeasure([0, 0, 1, 1], [1, 1, 0, 0]).vMeasure).toBe(1);
    expect(vMeasure([0, 0, 1, 1], [0, 0, 1, 2]).vMeasure).toBeCloseTo(0.8, 12);
    expect(vMeasure([0, 0, 1, 2], [0, 0, 1, 1]).vMeasure).toBeCloseTo(0.8, 12);
    expect(vMeasure([0, 1, 2, 3], [0, 0, 1, 1]).vMeasure).toBeCloseTo(0.6666666666666666, 12);
    expect(vMeasure([0, 0, 0, 0], [0, 1, 2, 3]).vMeasure).toBe(0);
    expect(vMeasure([0, 0, 1, 1], [0, 0, 0, 0]).vMeasure).toBe(0);
    expect(vMeasure([0, 0, 1, 1], [0, 1, 2, 3]).homogeneity).toBeCloseTo(1, 12);
    expect(vMeasure([0, 0, 1, 1], [0, 0, 0, 0]).completeness).toBe(1);
    expect(vMeasure([0, 0, 1, 1], [0, 1, 0, 1]).completeness).toBeCloseTo(0, 12);
  });

  it('string labels (computed with sklearn 1.2.1)', () => {
    expect(vMeasure(['a', 'a', 'b', 'b', 'c', 'c'], [0, 0, 0, 1, 1, 2]).vMeasure).toBeCloseTo(0.5206652463984817, 12);
  });
});

const NDCG_B = 0.493680191377376;
const NDCG_B4 = 0.3520241100634488;

describe('ranking metrics', () => {
  it('NDCG matches sklearn ndcg_score documentation examples', () => {
    const rel = [10, 0, 0, 1, 5];
    expect(ndcgAtK([0.1, 0.2, 0.3, 4, 70], rel, 10)).toBeCloseTo(0.6956940443813076, 12);
    // the docs print 0.49... and 0.35...; full values from sklearn 1.2.1
    expect(ndcgAtK([0.05, 1.1, 1.0, 0.5, 0.0], rel, 10)).toBeCloseTo(NDCG_B, 12);
    expect(ndcgAtK([0.05, 1.1, 1.0, 0.5, 0.0], rel, 4)).toBeCloseTo(NDCG_B4, 12);
  });

  it('NDCG@10 with one relevant document is 1/log2(rank+1), 0 beyond 10', () => {
    const scores = Array.from({ length: 12 }, (_, i) => 12 - i); // candidate i at rank i+1
    const relAt = (r: number) => scores.map((_, i) => (i === r ? 1 : 0));
    expect(ndcgAtK(scores, relAt(0))).toBe(1);
    expect(ndcgAtK(scores, relAt(2))).toBeCloseTo(1 / Math.log2(4), 14);
    expect(ndcgAtK(scores, relAt(10))).toBe(0);
  });

  it('MRR@10 and per-query AP by hand', () => {
    expect(mrrAtK([0.9, 0.8, 0.7], [0, 0, 1])).toBeCloseTo(1 / 3, 14);
    expect(mrrAtK([0.9, 0.8, 0.7], [0, 1, 1])).toBe(0.5);
    expect(
      mrrAtK(
        Array.from({ length: 11 }, (_, i) => -i),
        Array.from({ length: 11 }, (_, i) => (i === 10 ? 1 : 0)),
      ),
    ).toBe(0);
    // relevant at ranks 2 and 4: (1/2 + 2/4) / 2
    expect(rankingAveragePrecision([4, 3, 2, 1], [0, 1, 0, 1])).toBe(0.5);
  });
});

describe('top-k ranking (retrieval fast path)', () => {
  it('topK keeps the k best, ties by index like a stable sort', () => {
    expect(topK([0.1, 0.9, 0.5, 0.9, 0.3], 3)).toEqual([1, 3, 2]);
    expect(topK([1, 1, 1], 2)).toEqual([0, 1]);
    expect(topK([2, 1], 5)).toEqual([1, 0].reverse());
  });

  it('rankingAtK equals mrrAtK/ndcgAtK on random pools with ties and graded relevance', () => {
    const rand = mulberry32(9);
    for (let t = 0; t < 200; t++) {
      const n = 1 + Math.floor(rand() * 60);
      const scores = Array.from({ length: n }, () => Math.round(rand() * 20) / 20);
      const rel = Array.from({ length: n }, () => (rand() < 0.2 ? Math.floor(rand() * 3) : 0));
      const r = rankingAtK(scores, rel, 10);
      expect(r.mrr).toBe(mrrAtK(scores, rel, 10));
      expect(r.ndcg).toBeCloseTo(ndcgAtK(scores, rel, 10), 12);
    }
  });
});

describe('k-means', () => {
  function blobs(seed: number): { x: Float32Array; truth: number[] } {
    const rand = mulberry32(seed);
    const centers = [
      [0, 0],
      [10, 0],
      [0, 10],
      [10, 10],
    ];
    const x = new Float32Array(4 * 25 * 2);
    const truth: number[] = [];
    for (let i = 0; i < 100; i++) {
      const c = i % 4;
      x[i * 2] = centers[c]![0]! + rand() - 0.5;
      x[i * 2 + 1] = centers[c]![1]! + rand() - 0.5;
      truth.push(c);
    }
    return { x, truth };
  }

  it('recovers well-separated blobs (V-measure 1)', () => {
    const { x, truth } = blobs(7);
    const r = kmeans(x, 100, 2, 4, { seed: 1, nInit: 3 });
    expect(vMeasure(truth, Array.from(r.labels)).vMeasure).toBeCloseTo(1, 12);
  });

  it('is deterministic for a seed', () => {
    const rand = mulberry32(3);
    const x = Float32Array.from({ length: 300 * 8 }, () => rand());
    const a = kmeans(x, 300, 8, 6, { seed: 11 });
    const b = kmeans(x, 300, 8, 6, { seed: 11 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(a.inertia).toBe(b.inertia);
  });

  it('puts every point in its own cluster when k = n', () => {
    const x = Float32Array.from([0, 0, 5, 5, 1, 1, 9, 0]);
    const r = kmeans(x, 4, 2, 4, { seed: 5 });
    expect(new Set(r.labels).size).toBe(4);
    expect(r.inertia).toBe(0);
  });

  it('survives duplicate points (an emptied cluster is relocated, not left NaN)', () => {
    const x = Float32Array.from([0, 0, 0, 0, 1, 1]);
    const r = kmeans(x, 3, 2, 3, { seed: 5 });
    expect(r.inertia).toBe(0);
    expect(Array.from(r.centers).every(Number.isFinite)).toBe(true);
  });
});

describe('logistic regression', () => {
  // Reference: the same objective (C·Σ log-loss + ½‖W‖², C = 1) minimised to full precision with scipy 1.10.1
  // L-BFGS-B (gtol=1e-14, ftol=1e-16). sklearn 1.2.1 LogisticRegression(multinomial, lbfgs) agrees to ~5e-6:
  // it stops at scipy's default ftol; its predictions are `sklearnPred`.
  const X = [
    [0, 1, 2],
    [1, 0.5, 0],
    [2, -1, 0.5],
    [0.5, 2, 1],
    [-1, 0, 1.5],
    [1.5, 1.5, -0.5],
    [-0.5, -1, 2],
    [2.5, 0, -1],
    [0, 0, 0],
    [1, -2, 1],
    [-2, 1, 0],
    [0.5, 0.5, 0.5],
  ];
  const y = [0, 1, 2, 0, 0, 1, 2, 1, 0, 2, 0, 1];
  const coef = [
    [-0.8136784826192895, 0.6543085535607012, 0.1561769282960078],
    [0.49955296006477723, 0.4193649766393997, -0.6694326300203848],
    [0.3141255225545125, -1.0736735302001008, 0.5132557017243772],
  ];
  const intercept = [0.46945674704425167, 0.20674521928864023, -0.6762019663328933];
  const sklearnPred = [0, 1, 2, 0, 0, 1, 2, 1, 0, 2, 0, 0];

  it('converges to sklearn coefficients and predictions', () => {
    const x = Float64Array.from(X.flat());
    const m = fitLogistic(x, y, 12, 3, 3, { maxIter: 500, tol: 1e-10 });
    for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) expect(m.weights[j * 3 + c]).toBeCloseTo(coef[c]![j]!, 7);
    for (let c = 0; c < 3; c++) expect(m.bias[c]).toBeCloseTo(intercept[c]!, 7);
    expect(m.loss).toBeCloseTo(5.814392800430123, 12);
    expect(Array.from(predictLogistic(m, x, 12))).toEqual(sklearnPred);
  });

  it('within the default 100 iterations gets the same predictions, deterministically', () => {
    const x = Float64Array.from(X.flat());
    const a = fitLogistic(x, y, 12, 3, 3);
    const b = fitLogistic(x, y, 12, 3, 3);
    expect(a.iterations).toBeLessThanOrEqual(100);
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
    expect(Array.from(predictLogistic(a, x, 12))).toEqual(sklearnPred);
  });
});
