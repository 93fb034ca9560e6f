/** Training data: datasets → text pairs → cached token ids (Node only: reads files, downloads hub datasets). */
export { loadTrainingData, type LoadTrainingDataOptions, type TrainingData, type DatasetSummary } from './load.ts';
export { resolveDatasets, resolveDataOverride, parseDatasetTables, DATASET_KEYS } from './spec.ts';
export { wordnetPairs, WORDNET_DEFAULT_RECORDS } from './wordnet.ts';
export type { TextPair, TokenizedRecord, DatasetSpec, ColumnMap } from './types.ts';
