/**
 * Semantic text splitting after WordLlama's `SemanticSplitter`, changed so that chunks tile the input exactly:
 * pieces are character ranges of the original text (separators stay attached to the piece before them, nothing
 * is stripped or dropped), so `chunks.join('') === text`, and every chunk is at most `targetSize` UTF-16 units
 * (WordLlama lets single long sentences through; here they are cut at whitespace, then between characters).
 *
 * 1. lines (terminators kept) → coalesce neighbours up to `intermediateSize` → merge lines shorter than
 *    `cleanupSize` into the previous one;
 * 2. lines longer than `targetSize` → sentences (WordLlama's rule: after . ! ? …, a space or newline followed by
 *    an uppercase letter or a newline) → coalesce up to `targetSize` → hard cuts when still too long;
 * 3. embed the pieces, average the cross-similarity in a sliding window, find local minima with a
 *    Savitzky–Golay derivative filter, split at minima below the 40% quantile, and coalesce each section up to
 *    `targetSize`.
 * Pure (browser-safe): the embedding step is passed in. `planSplit` does steps 1–2 and `chunksOf` step 3, so a
 * caller can embed the pieces its own way in between (split-parallel.ts embeds them on worker threads).
 *
 * Cost: embedding the pieces is nearly all of it (a first pass over the text through the tokenizer, then pooling);
 * everything here is linear in the text: one scan per step, each pair of neighbouring pieces' dot product once,
 * no per-piece copies beyond the strings handed to the embedder.
 */
import { UserError } from '../util/errors.ts';
import type { Embeddings, SplitOptions } from './types.ts';

type Range = [number, number];

// All of these are in the BMP: a flag per UTF-16 code unit keeps the per-character test to one array load.
const SENTENCE_END = new Uint8Array(65536);
for (const c of Array.from('.!?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？｡。')) SENTENCE_END[c.charCodeAt(0)] = 1;

const len = (r: Range) => r[1] - r[0];

/** Whether a UTF-16 unit ends a line for Python's `str.splitlines` (which the reference splitter uses), control characters included. */
function isLineEnd(c: number): boolean {
  if (c <= 0x1e) return (c >= 0x0a && c <= 0x0d) || c >= 0x1c;
  return c === 0x85 || c === 0x2028 || c === 0x2029;
}

/** Line ranges with their terminators (like Python's `splitlines(keepends=True)`; `\r\n` is one terminator). */
export function lineRanges(text: string, start = 0, end = text.length): Range[] {
  const out: Range[] = [];
  // A scan of char codes rather than a global regex: no match object per line (short lines made it most of the cost).
  let s = start;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!isLineEnd(c)) continue;
    // The pair \r\n may end past `end`, as a regex match starting before `end` would.
    const e = c === 0x0d && text.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
    out.push([s, e]);
    s = e;
    i = e - 1;
  }
  if (s < end) out.push([s, end]);
  return out;
}

/** WordLlama's `constrained_coalesce`: repeatedly join successive pairs whose joint size fits `maxSize`. */
export function coalesce(ranges: Range[], maxSize: number, maxIterations = 100): Range[] {
  let result = ranges;
  for (let it = 0; it < maxIterations; it++) {
    const next: Range[] = [];
    let changes = 0;
    for (let i = 0; i < result.length;) {
      const a = result[i]!;
      const b = result[i + 1];
      if (b && len(a) + len(b) <= maxSize) {
        next.push([a[0], b[1]]);
        changes++;
        i += 2;
      } else {
        next.push(a);
        i++;
      }
    }
    result = next;
    if (changes === 0) break;
  }
  return result;
}

/** WordLlama's `reverse_merge`: fold pieces shorter than `n` into the previous one (only while it fits). */
function reverseMerge(ranges: Range[], n: number, maxSize: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && len(r) < n && len(last) + len(r) <= maxSize) last[1] = r[1];
    else out.push([r[0], r[1]]);
  }
  return out;
}

function isUpper(ch: string): boolean {
  return ch !== ch.toLowerCase() && ch === ch.toUpperCase();
}

/** WordLlama's `split_sentences`, as ranges (the separating space stays with the sentence before it). */
export function sentenceRanges(text: string, r: Range): Range[] {
  const out: Range[] = [];
  let start = r[0];
  let seen = false;
  // Per UTF-16 unit: the halves of a surrogate pair are neither terminators nor spaces, as their code point is not.
  for (let i = r[0]; i < r[1]; i++) {
    const c = text.charCodeAt(i);
    if (SENTENCE_END[c] === 1) seen = true;
    else if (seen && (c === 32 || c === 10)) {
      if (i + 1 < r[1] && (text.charCodeAt(i + 1) === 10 || isUpper(String.fromCodePoint(text.codePointAt(i + 1)!)))) {
        out.push([start, i + 1]);
        start = i + 1;
      }
      seen = false;
    }
  }
  if (start < r[1]) out.push([start, r[1]]);
  return out;
}

/**
 * Whether one UTF-16 code unit is whitespace as `/\s/` and `String.prototype.trim` define it (ECMAScript's
 * WhiteSpace and LineTerminator), without a regex or a one-character string per test.
 */
export function isSpaceUnit(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/** Whether text[r[0], r[1]) is whitespace only (`slice(...).trim() === ''` without the copy). */
function isBlank(text: string, r: Range): boolean {
  for (let i = r[0]; i < r[1]; i++) if (!isSpaceUnit(text.charCodeAt(i))) return false;
  return true;
}

/** Cut a range into pieces ≤ maxSize: after whitespace where possible, else between code points. */
function hardCut(text: string, r: Range, maxSize: number): Range[] {
  const out: Range[] = [];
  let s = r[0];
  while (r[1] - s > maxSize) {
    let cut = -1;
    for (let i = s + maxSize; i > s; i--) {
      if (isSpaceUnit(text.charCodeAt(i - 1))) {
        cut = i;
        break;
      }
    }
    if (cut < 0) {
      cut = s + maxSize;
      // Never split a surrogate pair.
      const c = text.charCodeAt(cut - 1);
      if (c >= 0xd800 && c <= 0xdbff && cut - 1 > s) cut--;
    }
    out.push([s, cut]);
    s = cut;
  }
  if (s < r[1]) out.push([s, r[1]]);
  return out;
}

/** Step 1–2: the pieces to embed (ranges tiling `text`, each ≤ targetSize). */
function splitPieces(text: string, o: Required<SplitOptions>): Range[] {
  let lines = coalesce(lineRanges(text), o.intermediateSize);
  lines = reverseMerge(lines, o.cleanupSize, o.targetSize);
  const pieces: Range[] = [];
  for (const line of lines) {
    if (len(line) <= o.targetSize) {
      pieces.push(line);
      continue;
    }
    let sents = coalesce(sentenceRanges(text, line), o.targetSize);
    sents = reverseMerge(sents, o.cleanupSize, o.targetSize);
    for (const s of sents) {
      if (len(s) <= o.targetSize) pieces.push(s);
      // A loop, not push(...): a long line can give more pieces than a call may take arguments.
      else for (const cut of hardCut(text, s, o.targetSize)) pieces.push(cut);
    }
  }
  // Whitespace-only pieces carry no meaning: attach them to a neighbour when it fits (WordLlama drops them).
  const out: Range[] = [];
  for (const p of pieces) {
    const blank = isBlank(text, p);
    const last = out[out.length - 1];
    if (blank && last && len(last) + len(p) <= o.targetSize) last[1] = p[1];
    else out.push([p[0], p[1]]);
  }
  if (out.length > 1 && isBlank(text, out[0]!) && len(out[0]!) + len(out[1]!) <= o.targetSize) {
    out[1]![0] = out[0]![0];
    out.shift();
  }
  return out;
}

/** Savitzky–Golay coefficients for the 0th, 1st and 2nd derivative (least squares via the normal equations). */
export function savgolCoefficients(window: number, order: number): Float64Array[] {
  const half = (window - 1) >> 1;
  const m = order + 1;
  // A: window × m, A[i][j] = (i - half)^j; pinv(A) = (AᵀA)⁻¹Aᵀ since A has full column rank.
  const ata = Array.from({ length: m }, () => new Float64Array(m));
  for (let i = 0; i < window; i++) for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) ata[a]![b]! += (i - half) ** a * (i - half) ** b;
  const inv = invert(ata);
  const pinv = Array.from({ length: m }, () => new Float64Array(window));
  for (let a = 0; a < m; a++)
    for (let i = 0; i < window; i++) {
      let s = 0;
      for (let b = 0; b < m; b++) s += inv[a]![b]! * (i - half) ** b;
      pinv[a]![i] = s;
    }
  return [pinv[0]!, pinv[1]!, pinv[2]!.map((v) => v * 2)];
}

function invert(m: Float64Array[]): Float64Array[] {
  const n = m.length;
  const a = m.map((r, i) => {
    const row = new Float64Array(2 * n);
    row.set(r);
    row[n + i] = 1;
    return row;
  });
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const pv = a[c]![c]!;
    for (let j = 0; j < 2 * n; j++) a[c]![j]! /= pv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((r) => r.slice(n));
}

function filter(y: Float64Array, coeffs: Float64Array): Float64Array {
  const w = coeffs.length;
  const half = (w - 1) >> 1;
  const n = y.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < w; k++) s += coeffs[k]! * y[Math.min(n - 1, Math.max(0, i + k - half))]!;
    out[i] = s;
  }
  return out;
}

/** WordLlama's `find_local_minima`: indices where the smoothed derivative crosses zero upwards. */
export function localMinima(y: Float64Array, window: number, order: number): { index: number[]; value: number[] } {
  const [, d1, d2] = savgolCoefficients(window, order);
  const dy = filter(y, d1!);
  const ddy = filter(y, d2!);
  const index: number[] = [];
  const value: number[] = [];
  for (let i = 1; i < y.length - 1; i++) {
    if (dy[i]! < 0 && 0 < dy[i + 1]! && ddy[i]! > 0) {
      const w = -dy[i]! / (dy[i + 1]! - dy[i]!);
      const at = w < 0.5 ? i : i + 1;
      index.push(at);
      value.push(y[at]!);
    }
  }
  return { index, value };
}

/**
 * Mean similarity of all distinct pairs inside a window centred on each row (normalised embeddings), like
 * WordLlama's `windowed_cross_similarity`. Neighbouring windows share most pairs, so each pair's dot product
 * (pieces at most `window - 1` apart) is computed once; the sums add the same values in the same order as the
 * plain double loop over each window, so the result is the same to the bit.
 */
export function windowedCrossSimilarity(e: Embeddings, window: number): Float64Array {
  const n = e.rows;
  const dim = e.dim;
  const x = e.data;
  const half = window >> 1;
  const span = Math.min(window - 1, Math.max(0, n - 1));
  // dots[j * span + (d - 1)] = row j · row j+d, for 1 ≤ d ≤ span and j + d < n.
  const dots = new Float64Array(n * span);
  for (let j = 0; j < n; j++)
    for (let d = 1; d <= span && j + d < n; d++) {
      let s = 0;
      for (let t = 0, a = j * dim, b = (j + d) * dim; t < dim; t++) s += x[a + t]! * x[b + t]!;
      dots[j * span + d - 1] = s;
    }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let count = 0;
    const hi = Math.min(n, i + half + 1);
    for (let j = Math.max(0, i - half); j < hi; j++)
      for (let k = j + 1; k < hi; k++) {
        sum += dots[j * span + k - j - 1]!;
        count++;
      }
    out[i] = count > 0 ? sum / count : 0;
  }
  return out;
}

/** NumPy's default (linear) quantile. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Array.from(values).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

function resolveSplitOptions(o: SplitOptions = {}): Required<SplitOptions> {
  const r = {
    targetSize: o.targetSize ?? 1536,
    windowSize: o.windowSize ?? 3,
    polyOrder: o.polyOrder ?? 2,
    savgolWindow: o.savgolWindow ?? 3,
    cleanupSize: o.cleanupSize ?? 24,
    intermediateSize: o.intermediateSize ?? 96,
  };
  const int = (k: keyof typeof r, min: number) => {
    if (!Number.isInteger(r[k]) || r[k] < min) throw new UserError(`split: ${k} must be an integer ≥ ${min}, got ${r[k]}`);
  };
  int('targetSize', 1);
  int('cleanupSize', 0);
  int('intermediateSize', 1);
  int('windowSize', 3);
  int('savgolWindow', 3);
  int('polyOrder', 2);
  if (r.windowSize % 2 === 0) throw new UserError(`split: windowSize must be odd, got ${r.windowSize}`);
  if (r.savgolWindow % 2 === 0) throw new UserError(`split: savgolWindow must be odd, got ${r.savgolWindow}`);
  if (r.polyOrder >= r.savgolWindow) throw new UserError(`split: polyOrder (${r.polyOrder}) must be below savgolWindow (${r.savgolWindow})`);
  // WordLlama requires target > intermediate > cleanup; small targets simply shrink the intermediate sizes.
  r.intermediateSize = Math.min(r.intermediateSize, r.targetSize);
  r.cleanupSize = Math.min(r.cleanupSize, r.intermediateSize);
  return r;
}

/** Steps 1–2 of a split: the options checked, and the pieces (ranges tiling the text) that step 3 needs embedded. */
export interface SplitPlan {
  text: string;
  options: Required<SplitOptions>;
  pieces: Range[];
  /** The pieces' text, to embed (L2-normalised rows) when `needsEmbeddings`. */
  strings: string[];
  /** Below three pieces there is no minimum to find: the pieces are only coalesced. */
  needsEmbeddings: boolean;
}

export function planSplit(text: string, options: SplitOptions = {}): SplitPlan {
  const o = resolveSplitOptions(options);
  const pieces = text.length === 0 ? [] : splitPieces(text, o);
  return { text, options: o, pieces, strings: pieces.map((p) => text.slice(p[0], p[1])), needsEmbeddings: pieces.length >= 3 };
}

/** Step 3: cut where the windowed similarity of the embedded pieces has a low minimum, then coalesce each section. */
export function chunksOf(plan: SplitPlan, embeddings: Embeddings | undefined): string[] {
  const { text, pieces, options: o } = plan;
  let splitPoints: number[] = [];
  if (plan.needsEmbeddings) {
    if (!embeddings || embeddings.rows !== pieces.length)
      throw new UserError(`split: ${pieces.length} pieces need as many embeddings, got ${embeddings?.rows}`);
    const sim = windowedCrossSimilarity(embeddings, o.windowSize);
    const minima = localMinima(sim, o.savgolWindow, o.polyOrder);
    const cutoff = quantile(sim, 0.4);
    splitPoints = minima.index.filter((_, i) => minima.value[i]! < cutoff);
  }
  const chunks: string[] = [];
  let start = 0;
  for (const end of [...splitPoints, pieces.length]) {
    if (end <= start) continue;
    for (const r of coalesce(pieces.slice(start, end), o.targetSize)) chunks.push(text.slice(r[0], r[1]));
    start = end;
  }
  return chunks;
}

/**
 * Split `text` into semantically coherent chunks. `embedNormalized` embeds the pieces (L2-normalised rows).
 * Returns chunks whose concatenation is `text` and whose lengths are ≤ targetSize.
 */
export function semanticSplit(text: string, embedNormalized: (pieces: string[]) => Embeddings, options: SplitOptions = {}): string[] {
  const plan = planSplit(text, options);
  return chunksOf(plan, plan.needsEmbeddings ? embedNormalized(plan.strings) : undefined);
}
