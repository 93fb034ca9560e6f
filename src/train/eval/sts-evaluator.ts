/**
 * STS evaluation during training: Spearman between gold scores and the model's cosine similarity (and, when
 * binarized, hamming similarity of the sign bits) at every Matryoshka dim. The file is tokenized once; each
 * evaluation pools raw rows in JS with the current token weights and projects them with one TF.js matMul.
 */
import { readFileSync } from 'node:fs';
import type * as tfTypes from '@tensorflow/tfjs';
import { poolingIds, poolingRules } from '../../tokenize/pooling-ids.ts';
import type { TextTokenizer } from '../../tokenize/tokenizer.ts';
import { UserError } from '../../util/errors.ts';
import type { EvalResult } from '../../model/sts-score.ts';
import type { RowGatherer } from '../data/row-gatherer.ts';
import type { ModelParams } from '../../model/params.ts';
import { planBatch, type BatchPlan } from '../step/pooling.ts';
import { projectPlan } from './project-plan.ts';
import { spearman } from '../../eval/metrics/correlation.ts';
import { applyWhitening } from '../../model/whitening.ts';

export interface StsPairs {
  file: string;
  s1: string[];
  s2: string[];
  scores: Float64Array;
}

/** Read `sentence1\tsentence2\tscore` lines (a header line naming the columns is skipped). */
export function readStsFile(path: string): StsPairs {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError(`${path}: eval file not found (set [training] eval_file to an STS TSV: sentence1<TAB>sentence2<TAB>score)`);
  }
  const s1: string[] = [];
  const s2: string[] = [];
  const scores: number[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.split('\t');
    if (i === 0 && f.length >= 3 && !Number.isFinite(Number(f[2]))) return; // header
    if (f.length < 3 || !Number.isFinite(Number(f[2])) || f[2]!.trim() === '') {
      throw new UserError(`${path}:${i + 1}: expected sentence1<TAB>sentence2<TAB>score, got ${JSON.stringify(line.slice(0, 80))}`);
    }
    s1.push(f[0]!);
    s2.push(f[1]!);
    scores.push(Number(f[2]));
  });
  if (scores.length < 2) throw new UserError(`${path}: needs at least 2 scored pairs, found ${scores.length}`);
  return { file: path, s1, s2, scores: Float64Array.from(scores) };
}

/** Cosine similarity of row i of a and b, over the first `dim` of `width` columns. */
/** Row pairs to compare: row r of `a` and of `b`, each `width` wide, over their first `dim` columns. */
export interface RowPairs {
  a: Float32Array;
  b: Float32Array;
  rows: number;
  width: number;
  dim: number;
}

export function rowCosines(pairs: RowPairs): Float64Array {
  const { a, b, rows, width, dim } = pairs;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    const o = r * width;
    for (let j = 0; j < dim; j++) {
      const x = a[o + j]!;
      const y = b[o + j]!;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    out[r] = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
  }
  return out;
}

/** 1 − hamming(sign bits)/dim, bits = x > 0 (WordLlama's binary similarity). */
function rowHamming(pairs: RowPairs): Float64Array {
  const { a, b, rows, width, dim } = pairs;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let diff = 0;
    const o = r * width;
    for (let j = 0; j < dim; j++) if (a[o + j]! > 0 !== b[o + j]! > 0) diff++;
    out[r] = 1 - diff / dim;
  }
  return out;
}

export class StsEvaluator {
  private readonly plan: BatchPlan;
  private rows?: Float32Array;

  constructor(
    readonly pairs: StsPairs,
    tokenizer: TextTokenizer,
    maxLength: number,
    padId?: number,
  ) {
    // The library's rule (pad and UNK never count), so dev scores are what the saved model will give.
    const rules = poolingRules(tokenizer, padId, maxLength);
    const enc = (t: string) => poolingIds(tokenizer.encode(t), rules);
    this.plan = planBatch([...pairs.s1.map(enc), ...pairs.s2.map(enc)]);
  }

  get size(): number {
    return this.pairs.scores.length;
  }

  /** Projected sentence vectors [2n, dimOut] (s1 rows then s2 rows) for the current parameters. */
  async embed(tf: typeof tfTypes, params: ModelParams, gatherer: RowGatherer): Promise<Float32Array> {
    this.rows ??= await gatherer.gather(this.plan.uniq);
    return projectPlan(tf, params, this.plan, this.rows);
  }

  /**
   * Spearman at each dim: dense cosine, plus hamming when `binary`. With a whitening for a dim
   * (`params.whiten`), the vectors are whitened first, as the saved model's are.
   */
  async evaluate(tf: typeof tfTypes, args: { params: ModelParams; gatherer: RowGatherer; dims: readonly number[]; binary: boolean }): Promise<EvalResult[]> {
    const { params, gatherer, dims, binary } = args;
    const y = await this.embed(tf, params, gatherer);
    const n = this.size;
    const w = params.dimOut;
    const out: EvalResult[] = [];
    for (const d of dims) {
      const T = params.whiten?.[d];
      let a = y.subarray(0, n * w);
      let b = y.subarray(n * w, 2 * n * w);
      let width = w;
      if (T) {
        a = applyWhitening(a, n, w, d, T);
        b = applyWhitening(b, n, w, d, T);
        width = d;
      }
      out.push({ file: this.pairs.file, dim: d, binary: false, spearman: spearman(rowCosines({ a, b, rows: n, width, dim: d }), this.pairs.scores) });
      if (binary)
        out.push({ file: this.pairs.file, dim: d, binary: true, spearman: spearman(rowHamming({ a, b, rows: n, width, dim: d }), this.pairs.scores) });
    }
    return out;
  }
}

/** The number that picks the best checkpoint: mean Spearman over dims (hamming when binarized, else cosine). */
export function selectionScore(results: readonly EvalResult[], binary: boolean): number {
  const pick = results.filter((r) => r.binary === binary);
  return pick.reduce((s, r) => s + r.spearman, 0) / Math.max(1, pick.length);
}
