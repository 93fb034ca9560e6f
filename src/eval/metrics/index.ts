/** Evaluation metrics: pure functions over plain arrays, no I/O (safe in a browser too). */
export { averageRanks, pearson, spearman } from './correlation.ts';
export { averagePrecision, bestAccuracy, bestF1, type ThresholdResult, type F1Result } from './pair.ts';
export { accuracy, macroF1 } from './classification.ts';
export { vMeasure, type VMeasure } from './vmeasure.ts';
export { mrrAtK, ndcgAtK, rankingAtK, rankingAveragePrecision, topK } from './ranking.ts';
export { kmeans, type KMeansOptions, type KMeansResult } from './kmeans.ts';
export { fitLogistic, predictLogistic, type LogisticModel, type LogisticOptions } from './logistic.ts';
