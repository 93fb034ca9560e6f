/** One STS score of a model: Spearman correlation on `file` at Matryoshka width `dim`, dense or binary vectors. */
export interface EvalResult {
  file: string;
  dim: number;
  binary: boolean;
  spearman: number;
}
