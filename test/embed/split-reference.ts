/**
 * The semantic splitter as it was before its speed work, kept unchanged as the reference the current
 * src/embed/split.ts must equal chunk for chunk: a per-character regex for lines, a `/\s/` test per character
 * of a hard cut, `slice().trim()` per piece, and every window's dot products recomputed. Tests only.
 */
import { UserError } from '../../src/util/errors.ts';
import type { Embeddings, SplitOptions } from '../../src/embed/types.ts';

type Range = [number, number];

const SENTENCE_END = new Set(Array.from('.!?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？｡。', (c) => c.codePointAt(0)!));

const len = (r: Range) => r[1] - r[0];

/** Line ranges with their terminators (like Python's `splitlines(keepends=True)`). */
export function lineRanges(text: string, start = 0, end = text.length): Range[] {
  const out: Range[] = [];
  // The line terminators of Python's str.splitlines (which the reference splitter uses), control characters included.
  // eslint-disable-next-line no-control-regex
  const re = /\r\n|[\n\r\u000b\u000c\u001c\u001d\u001e\u0085\u2028\u2029]/g;
  re.lastIndex = start;
  let s = start;
  for (let m = re.exec(text); m !== null && m.index < end; m = re.exec(text)) {
    const e = m.index + m[0].length;
    out.push([s, e]);
    s = e;
  }
  if (s < end) out.push([s, end]);
  return out;
}

/** WordLlama's `constrained_coalesce`: repeatedly join successive pairs whose joint size fits `maxSize`. */
function coalesce(ranges: Range[], maxSize: number, maxIterations = 100): Range[] {
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
function sentenceRanges(text: string, r: Range): Range[] {
  const out: Range[] = [];
  let start = r[0];
  let seen = false;
  for (let i = r[0]; i < r[1]; i++) {
    const c = text.codePointAt(i)!;
    if (SENTENCE_END.has(c)) seen = true;
    else if (seen && (c === 32 || c === 10)) {
      if (i + 1 < r[1] && (isUpper(String.fromCodePoint(text.codePointAt(i + 1)!)) || text[i + 1] === '\n')) {
        out.push([start, i + 1]);
        start = i + 1;
      }
      seen = false;
    }
    if (c > 0xffff) i++;
  }
  if (start < r[1]) out.push([start, r[1]]);
  return out;
}

/** Cut a range into pieces ≤ maxSize: after whitespace where possible, else between code points. */
function hardCut(text: string, r: Range, maxSize: number): Range[] {
  const out: Range[] = [];
  let s = r[0];
  while (r[1] - s > maxSize) {
    let cut = -1;
    for (let i = s + maxSize; i > s; i--) {
      if (/\s/.test(text[i - 1]!)) {
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
    for (const s of sents) pieces.push(...(len(s) <= o.targetSize ? [s] : hardCut(text, s, o.targetSize)));
  }
  // Whitespace-only pieces carry no meaning: attach them to a neighbour when it fits (WordLlama drops them).
  const out: Range[] = [];
  for (const p of pieces) {
    const blank = text.slice(p[0], p[1]).trim() === '';
    const last = out[out.length - 1];
    if (blank && last && len(last) + len(p) <= o.targetSize) last[1] = p[1];
    else out.push([p[0], p[1]]);
  }
  if (out.length > 1 && text.slice(out[0]![0], out[0]![1]).trim() === '' && len(out[0]!) + len(out[1]!) <= o.targetSize) {
    out[1]![0] = out[0]![0];
    out.shift();
  }
  return out;
}

/** Savitzky–Golay coefficients for the 0th, 1st and 2nd derivative (least squares via the normal equations). */
function savgolCoefficients(window: number, order: number): Float64Array[] {
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
function localMinima(y: Float64Array, window: number, order: number): { index: number[]; value: number[] } {
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

/** Mean similarity of all distinct pairs inside a window centred on each row (normalised embeddings). */
function windowedCrossSimilarity(e: Embeddings, window: number): Float64Array {
  const n = e.rows;
  const half = window >> 1;
  const out = new Float64Array(n);
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let j = 0; j < e.dim; j++) s += e.data[a * e.dim + j]! * e.data[b * e.dim + j]!;
    return s;
  };
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let count = 0;
    const hi = Math.min(n, i + half + 1);
    for (let j = Math.max(0, i - half); j < hi; j++)
      for (let k = j + 1; k < hi; k++) {
        sum += dot(j, k);
        count++;
      }
    out[i] = count > 0 ? sum / count : 0;
  }
  return out;
}

/** NumPy's default (linear) quantile. */
function quantile(values: ArrayLike<number>, q: number): number {
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

/**
 * Split `text` into semantically coherent chunks. `embedNormalized` embeds the pieces (L2-normalised rows).
 * Returns chunks whose concatenation is `text` and whose lengths are ≤ targetSize.
 */
export function semanticSplit(text: string, embedNormalized: (pieces: string[]) => Embeddings, options: SplitOptions = {}): string[] {
  const o = resolveSplitOptions(options);
  if (text.length === 0) return [];
  const pieces = splitPieces(text, o);
  const strings = pieces.map((p) => text.slice(p[0], p[1]));
  let splitPoints: number[] = [];
  if (pieces.length >= 3) {
    const sim = windowedCrossSimilarity(embedNormalized(strings), o.windowSize);
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
