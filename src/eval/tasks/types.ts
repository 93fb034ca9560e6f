/** Evaluation task kinds and the data each task file parses into. */

export const TASK_KINDS = ['sts', 'pair', 'clf', 'cluster', 'retrieval', 'rerank'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export interface StsData {
  kind: 'sts';
  sentence1: string[];
  sentence2: string[];
  score: number[];
}

export interface PairData {
  kind: 'pair';
  sentence1: string[];
  sentence2: string[];
  /** 0 = different, 1 = same/paraphrase/duplicate. */
  label: (0 | 1)[];
}

export interface LabelledTexts {
  text: string[];
  label: string[];
}

export interface ClfData {
  kind: 'clf';
  train: LabelledTexts;
  test: LabelledTexts;
}

export interface ClusterData extends LabelledTexts {
  kind: 'cluster';
}

export interface RankingQuery {
  query: string;
  positives: string[];
  negatives: string[];
}

export interface RankingData {
  /** retrieval: rank the pool of every candidate in the file; rerank: rank each query's own candidates. */
  kind: 'retrieval' | 'rerank';
  queries: RankingQuery[];
}

export type TaskData = StsData | PairData | ClfData | ClusterData | RankingData;

/** One `--task KIND=FILE[,FILE]`: its display name, kind and files. */
export interface TaskSpec {
  name: string;
  kind: TaskKind;
  files: string[];
}
