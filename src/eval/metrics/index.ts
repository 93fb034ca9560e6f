/** Evaluation metrics: pure functions over plain arrays, no I/O (safe in a browser too). */
export { averageRanks, pearson, spearman } from './correlation.ts';
export { averagePrecision, bestAccuracy, bestF1 } from './pair.ts';
export { accuracy, macroF1 } from './classification.ts';
export { vMeasure } from './vmeasure.ts';
export { mrrAtK, ndcgAtK, rankingAtK, rankingAveragePrecision, topK } from './ranking.ts';
export { kmeans } from './kmeans.ts';
export { fitLogistic, predictLogistic } from './logistic.ts';
