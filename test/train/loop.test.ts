/**
 * The trainer loop on the real USE-lite matrix and tokenizer (both ship in npm, no ../shared needed):
 * determinism, exact --resume after an interruption, checkpoint contents, pooledOutput, and clear errors.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { TokenizedRecord } from '../../src/data/types.ts';
import type { RowMatrix } from '../../src/matrix/row-matrix.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { openTfjsMatrix } from '../../src/sources/tfjs.ts';
import { sentencepieceToTokenizerJson } from '../../src/tokenize/sentencepiece.ts';
import { createTokenizer, type TextTokenizer } from '../../src/tokenize/tokenizer.ts';
import { selectBackend, type TrainBackend } from '../../src/tfjs/backend.ts';
import { checkBatchSize } from '../../src/train/data/batches.ts';
import { checkpointDir, readModelCheckpoint } from '../../src/model/checkpoint.ts';
import { parseTrainConfig, type TrainConfig } from '../../src/train/config.ts';
import { StsEvaluator, readStsFile, rowCosines } from '../../src/train/eval/sts-evaluator.ts';
import { spearman } from '../../src/eval/metrics/correlation.ts';
import { poolingIds, poolingRules } from '../../src/tokenize/pooling-ids.ts';
import { gelu } from '../../src/model/gelu.ts';
import { inverseGelu, sifWeights } from '../../src/train/start/init-params.ts';
import { pooledOutput } from '../helpers/pooled-output.ts';
import { batchTeacher, normaliseRows } from '../../src/train/distill/batch-targets.ts';
import { Rng } from '../../src/util/random.ts';
import { stopwordIds } from '../../src/train/data/stopwords.ts';
import { train, type TrainInputs } from '../../src/train/trainer.ts';
import { main } from '../../pipelines/cli.ts';

const USE_DIR = resolve(import.meta.dirname, '..', '..', 'node_modules', '@energetic-ai', 'model-embeddings-en', 'dist');
let matrix: RowMatrix;
let tokenizer: TextTokenizer;
let backend: TrainBackend;
const tmp = mkdtempSync(join(tmpdir(), 'train-loop-'));

const SENTENCES = [
  ['A man is playing a guitar.', 'A person plays the guitar.', 'A woman is slicing onions.'],
  ['Two dogs run through a field.', 'Dogs are running in the grass.', 'A cat sleeps on a sofa.'],
  ['The stock market fell sharply today.', 'Shares dropped steeply on Monday.', 'The team won the final match.'],
  ['A child is riding a bicycle.', 'A kid rides a bike down the street.', 'An old man reads a newspaper.'],
  ['She is cooking pasta in the kitchen.', 'A woman prepares noodles.', 'A boy is swimming in a lake.'],
  ['The plane landed safely.', 'The aircraft touched down without problems.', 'A bird sits on a wire.'],
  ['Heavy rain flooded the streets.', 'Streets were flooded by the storm.', 'The sun is shining brightly.'],
  ['He is typing on a laptop.', 'A man works at his computer.', 'A girl is painting a picture.'],
];
const STS = [
  ['A man is playing a guitar.', 'A man plays a guitar.', 4.8],
  ['A dog runs in the park.', 'A woman is cooking.', 0.2],
  ['The plane landed.', 'The aircraft touched down.', 4.5],
  ['A child rides a bike.', 'A kid is on a bicycle.', 4.2],
  ['Stocks fell today.', 'A cat sleeps on a sofa.', 0.0],
  ['It is raining heavily.', 'Heavy rain is falling.', 4.6],
  ['He types on a laptop.', 'A girl paints a picture.', 0.5],
  ['A woman slices onions.', 'Someone is cutting vegetables.', 3.4],
];

beforeAll(async () => {
  matrix = await openTfjsMatrix(join(USE_DIR, 'model.json'), 'module/Embeddings_en');
  const vocab = JSON.parse(readFileSync(join(USE_DIR, 'vocab.json'), 'utf8'));
  tokenizer = createTokenizer(sentencepieceToTokenizerJson(vocab, { rows: matrix.rows }));
  backend = await selectBackend('wasm');
  writeFileSync(join(tmp, 'sts.tsv'), 'sentence1\tsentence2\tscore\n' + STS.map((r) => r.join('\t')).join('\n') + '\n');
});
afterAll(async () => {
  await matrix?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Records from real sentences plus seeded random token variations (so there are enough distinct pairs). */
function records(n: number): TokenizedRecord[] {
  const rng = new Rng(11);
  const enc = (t: string) => Int32Array.from(tokenizer.encode(t));
  const out: TokenizedRecord[] = [];
  for (let i = 0; i < n; i++) {
    const [a, p, neg] = SENTENCES[i % SENTENCES.length]!;
    const noise = Int32Array.from({ length: 2 }, () => 100 + rng.int(7000));
    const cat = (x: Int32Array) => Int32Array.from([...x, ...noise]);
    out.push({ anchor: cat(enc(a!)), positive: cat(enc(p!)), negative: i % 2 === 0 ? enc(neg!) : undefined });
  }
  return out;
}

function baseConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  const config = parseConfig(
    {
      model: { path: 'x.safetensors', dim: 256, n_vocab: 8002, pad_token: '</s>' },
      training: { batch_size: 8, lr: 5e-3, eval_steps: 4, warmup_steps: 2 },
      matryoshka: { dims: [64, 32, 16] },
    },
    join(tmp, 'tiny.toml'),
  );
  return { ...parseTrainConfig(config), ...over };
}

function inputs(outDir: string, cfg: TrainConfig, extra: Partial<TrainInputs> = {}): TrainInputs {
  const recs = records(48);
  return {
    configName: 'tiny',
    configFile: join(tmp, 'tiny.toml'),
    nVocab: 8002,
    train: cfg,
    records: recs,
    datasets: [
      { label: 'a', start: 0, count: 32 },
      { label: 'b', start: 32, count: 16 },
    ],
    dataFingerprint: 'fp',
    matrix,
    stopwordIds: stopwordIds(tokenizer, 8002),
    evaluator: new StsEvaluator(readStsFile(join(tmp, 'sts.tsv')), tokenizer, 128),
    backend,
    outDir,
    quiet: true,
    ...extra,
  };
}

const bytes = (dir: string, file = 'model.safetensors') => readFileSync(join(dir, file));
const trainLosses = (outDir: string) =>
  readFileSync(join(outDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .map((m) => (m.type === 'train' ? { step: m.step, loss: m.loss, lr: m.lr } : { step: m.step, dim: m.dim, s: m.spearman }));

describe('trainer loop', () => {
  it('the same run twice gives bit-identical checkpoints and metrics', async () => {
    const cfg = baseConfig({ epochs: 2 });
    const a = await train(inputs(join(tmp, 'a'), cfg));
    const b = await train(inputs(join(tmp, 'b'), cfg));
    expect(a.totalSteps).toBe(12); // 4 + 2 batches of 8 per epoch
    expect(a.stepsPerEpoch).toBe(6);
    expect(bytes(checkpointDir(join(tmp, 'a'), 'last'))).toEqual(bytes(checkpointDir(join(tmp, 'b'), 'last')));
    expect(trainLosses(join(tmp, 'a'))).toEqual(trainLosses(join(tmp, 'b')));
    expect(b.lastLoss).toBe(a.lastLoss);
  });

  it('rows from the safetensors file (raw bytes held, or read from disk and prefetched) train bit-identically to the matrix held as f32', async () => {
    // The same matrix as one safetensors file: the trainer's sync-file path, whose gatherer prefetches rows read from disk on a worker.
    const file = join(tmp, 'use.safetensors');
    await writeSafetensors(file, [{ name: 'embedding', dtype: 'F32', shape: [matrix.rows, matrix.dim], data: await matrix.readRows(0, matrix.rows) }]);
    const syncFile = { path: file, tensor: 'embedding' };
    const held = await train(inputs(join(tmp, 'held'), baseConfig({ epochs: 2 }), { syncFile }));
    expect(held.resident).toBe(true);
    // 1 MB: the 8 MB f32 copy is refused, the file's bytes are held (raw); 0 MB: nothing is held, rows come from disk.
    for (const [name, memoryCacheMb] of [
      ['raw', 1],
      ['disk', 0],
    ] as const) {
      const logs: string[] = [];
      const s = await train(inputs(join(tmp, name), baseConfig({ epochs: 2, memoryCacheMb }), { syncFile, log: (m) => logs.push(m) }));
      expect(s.resident).toBe(false);
      expect(logs.some((l) => l.includes(name === 'raw' ? "the file's bytes held in memory" : 'rows read from disk per batch'))).toBe(true);
      // (The checkpoints' metadata records memory_cache_mb, so the parameters are compared, not the files.)
      for (const which of ['last', 'best'] as const) {
        const got = await readModelCheckpoint(checkpointDir(join(tmp, name), which));
        const want = await readModelCheckpoint(checkpointDir(join(tmp, 'held'), which));
        expect(got.meta.step).toBe(want.meta.step);
        expect(got.params).toEqual(want.params);
      }
      expect(bytes(checkpointDir(join(tmp, name), 'last'), 'optimizer.safetensors')).toEqual(
        bytes(checkpointDir(join(tmp, 'held'), 'last'), 'optimizer.safetensors'),
      );
      expect(trainLosses(join(tmp, name))).toEqual(trainLosses(join(tmp, 'held')));
    }
  });

  it('interrupted at step 5 then --resume equals the uninterrupted run (params, optimizer, metrics, best)', async () => {
    const cfg = baseConfig({ epochs: 2 });
    const full = join(tmp, 'full');
    const cut = join(tmp, 'cut');
    await train(inputs(full, cfg));
    const controller = new AbortController();
    const first = await train(inputs(cut, cfg, { signal: controller.signal, onStep: (s) => s === 5 && controller.abort() }));
    expect(first.interrupted).toBe(true);
    expect(first.steps).toBe(5);
    expect(JSON.parse(readFileSync(join(checkpointDir(cut, 'last'), 'state.json'), 'utf8')).step).toBe(5);
    const second = await train(inputs(cut, cfg, { resume: true }));
    expect(second.interrupted).toBe(false);
    expect(second.steps).toBe(12);
    for (const which of ['last', 'best'] as const) {
      expect(bytes(checkpointDir(cut, which))).toEqual(bytes(checkpointDir(full, which)));
    }
    expect(bytes(checkpointDir(cut, 'last'), 'optimizer.safetensors')).toEqual(bytes(checkpointDir(full, 'last'), 'optimizer.safetensors'));
    expect(trainLosses(cut)).toEqual(trainLosses(full));
  });

  it('training lowers the loss and the checkpoint holds the contract tensors and metadata', async () => {
    const out = join(tmp, 'contract');
    const s = await train(inputs(out, baseConfig({ epochs: 3, lr: 1e-2 })));
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const losses = lines.filter((l) => l.type === 'train').map((l) => l.loss as number);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-6))).toBeLessThan(mean(losses.slice(0, 6)));
    const train0 = lines.find((l) => l.type === 'train');
    expect(Object.keys(train0).sort()).toEqual(['elapsed_s', 'epoch', 'grad_norm', 'loss', 'lr', 'pairs_per_s', 'step', 'type']);
    const ev = lines.find((l) => l.type === 'eval');
    expect(Object.keys(ev).sort()).toEqual(['binary', 'dim', 'file', 'spearman', 'step', 'type']);
    const ck = await readModelCheckpoint(checkpointDir(out, 'best'));
    expect(ck.params.dimIn).toBe(256);
    expect(ck.params.dimOut).toBe(64);
    expect(ck.params.tokenWeights!.length).toBe(8002);
    expect(ck.meta.matryoshka_dims).toEqual([64, 32, 16]);
    expect(ck.meta.binarize).toBe('none');
    expect(ck.meta.step).toBe(s.bestStep);
    expect(ck.meta.eval.length).toBe(3);
    // Stopwords start at 0.1 and only batch tokens moved away from their init.
    const the = tokenizer.tokenToId('\u2581the')!;
    const init = await readModelCheckpoint(checkpointDir(out, 'last'));
    expect(stopwordIds(tokenizer, 8002)).toContain(the);
    expect(Math.abs(init.params.tokenWeights![the]! - 0.1)).toBeLessThan(0.2);
    expect(init.params.tokenWeights![7990]).toBe(1); // a rare piece no batch contains
  });

  it('pooledOutput = mean over tokens of the per-token projected rows (what save writes), normalised', async () => {
    const out = join(tmp, 'contract');
    const { params } = await readModelCheckpoint(checkpointDir(out, 'last'));
    const texts = ['A man is playing a guitar.', 'Heavy rain flooded the streets of the town.'];
    const ids = texts.map((t) => tokenizer.encode(t));
    const got = await pooledOutput(params, matrix, ids, { dim: 32 });
    for (let s = 0; s < ids.length; s++) {
      const acc = new Float64Array(32);
      for (const t of ids[s]!) {
        const row = await matrix.readRows(t, 1);
        const g = gelu(params.tokenWeights![t]!);
        for (let j = 0; j < 32; j++) {
          let y = params.bias[j]!;
          for (let i = 0; i < 256; i++) y += g * row[i]! * params.kernel[i * 64 + j]!;
          acc[j]! += y / ids[s]!.length;
        }
      }
      const n = Math.hypot(...acc);
      for (let j = 0; j < 32; j++) expect(got[s * 32 + j]).toBeCloseTo(acc[j]! / n, 5);
    }
    const raw = await pooledOutput(params, matrix, [[], ids[0]!], { norm: false });
    expect(Array.from(raw.subarray(0, 64)).every((v) => v === 0)).toBe(true);
  });

  it('init_checkpoint starts from a checkpoint (e.g. binarized fine-tuning of a dense run)', async () => {
    const from = join(checkpointDir(join(tmp, 'contract'), 'last'), 'model.safetensors');
    const out = join(tmp, 'ft');
    await train(inputs(out, baseConfig({ maxSteps: 1, lr: 1e-12, warmupSteps: 0, initCheckpoint: from, binarize: 'tanh' })));
    const a = (await readModelCheckpoint(from)).params;
    const b = (await readModelCheckpoint(checkpointDir(out, 'last'))).params;
    for (const [x, y] of [
      [a.kernel, b.kernel],
      [a.bias, b.bias],
      [a.tokenWeights!, b.tokenWeights!],
    ] as const) {
      let m = 0;
      for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
      expect(m).toBeLessThan(1e-6);
    }
  });

  it('token offsets, duplicate masking and whitening: resume is exact, checkpoints carry them, eval = the whitened pooled output', async () => {
    const cfg = baseConfig({ epochs: 2, tokenDelta: true, tokenDeltaLrScale: 0.3, maskDuplicates: true, whiten: 0.25, whitenSamples: 40 });
    const full = join(tmp, 'dw-full');
    const cut = join(tmp, 'dw-cut');
    const done = await train(inputs(full, cfg));
    const controller = new AbortController();
    await train(inputs(cut, cfg, { signal: controller.signal, onStep: (s) => s === 5 && controller.abort() }));
    await train(inputs(cut, cfg, { resume: true }));
    // Buffer.equals: toEqual walks megabyte buffers element by element
    for (const which of ['last', 'best'] as const) expect(bytes(checkpointDir(cut, which)).equals(bytes(checkpointDir(full, which)))).toBe(true);
    expect(bytes(checkpointDir(cut, 'last'), 'optimizer.safetensors').equals(bytes(checkpointDir(full, 'last'), 'optimizer.safetensors'))).toBe(true);
    const { params } = await readModelCheckpoint(checkpointDir(full, 'last'));
    expect(params.tokenDelta!.length).toBe(8002 * 64);
    // only the rows of tokens seen in training moved
    const seen = new Set<number>();
    for (const r of records(48)) for (const seq of [r.anchor, r.positive, r.negative ?? []]) for (const t of seq) seen.add(t);
    let moved = 0;
    for (let t = 0; t < 8002; t++) {
      const row = params.tokenDelta!.subarray(t * 64, (t + 1) * 64);
      const nonzero = row.some((v) => v !== 0);
      if (nonzero) moved++;
      if (!seen.has(t)) expect(nonzero).toBe(false);
    }
    expect(moved).toBeGreaterThan(20);
    expect(
      Object.keys(params.whiten!)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([16, 32, 64]);
    // The recorded final eval is the Spearman of the whitened vectors pooledOutput gives (what save writes).
    const sts = readStsFile(join(tmp, 'sts.tsv'));
    const rules = poolingRules(tokenizer, undefined, 128);
    const enc = (t: string) => poolingIds(tokenizer.encode(t), rules);
    for (const dim of [64, 16]) {
      const a = await pooledOutput(params, matrix, sts.s1.map(enc), { dim, norm: false });
      const b = await pooledOutput(params, matrix, sts.s2.map(enc), { dim, norm: false });
      const want = spearman(rowCosines({ a, b, rows: sts.s1.length, width: dim, dim }), sts.scores);
      expect(done.finalEval.find((r) => r.dim === dim && !r.binary)!.spearman).toBeCloseTo(want, 5);
    }
    // whiten with binarize is refused
    await expect(train(inputs(join(tmp, 'dw-bin'), baseConfig({ whiten: 0.25, binarize: 'ste', maxSteps: 1 })))).rejects.toThrow(
      /whiten = 0.25 needs binarize = "none"/,
    );
  });

  it('binarized training evaluates hamming too and records it', async () => {
    const out = join(tmp, 'bin');
    const s = await train(inputs(out, baseConfig({ binarize: 'tanh', maxSteps: 4 })));
    expect(s.finalEval.filter((r) => r.binary).map((r) => r.dim)).toEqual([64, 32, 16]);
    expect((await readModelCheckpoint(checkpointDir(out, 'last'))).meta.binarize).toBe('tanh');
  });
});

describe('token-weight init', () => {
  it('SIF: gelu(w) = gelu(1)·a/(a + p), unseen tokens keep w = 1, inverseGelu inverts gelu', () => {
    for (const g of [0.001, 0.1, 0.5, 0.8413, 1.2]) expect(gelu(inverseGelu(g))).toBeCloseTo(g, 9);
    const seqs = [Int32Array.from([1, 1, 2]), Int32Array.from([1, 3])]; // p = 3/5, 1/5, 1/5
    const w = sifWeights(5, seqs, 0.1);
    expect(w[0]).toBe(1);
    expect(w[4]).toBe(1);
    expect(gelu(w[1]!)).toBeCloseTo((gelu(1) * 0.1) / (0.1 + 0.6), 6);
    expect(gelu(w[2]!)).toBeCloseTo((gelu(1) * 0.1) / (0.1 + 0.2), 6);
    expect(w[2]).toBe(w[3]);
  });
});

describe('distillation targets', () => {
  it('batchTeacher: teacher cosines in the loss order (positives, then negatives present) and a mask of covered pairs', async () => {
    const { tf } = await selectBackend('cpu');
    // 3 records; record 1 has no teacher vectors; records 0 and 2 have negatives.
    const vecs = normaliseRows(Float32Array.from([1, 0, 0, 1, 1, 1, 1, -1, 2, 0, 0, 2, 3, 4]), 2); // rows 0..6
    const t = {
      dim: 2,
      vectors: vecs,
      anchor: Int32Array.from([0, -1, 3]),
      positive: Int32Array.from([1, -1, 4]),
      negative: Int32Array.from([2, -1, 5]),
      kind: 'mse' as const,
      weight: 1,
      mnrlWeight: 1,
    };
    const recs: TokenizedRecord[] = [
      { anchor: Int32Array.of(1), positive: Int32Array.of(2), negative: Int32Array.of(3) },
      { anchor: Int32Array.of(1), positive: Int32Array.of(2) },
      { anchor: Int32Array.of(1), positive: Int32Array.of(2), negative: Int32Array.of(3) },
    ];
    const bt = (await batchTeacher(tf, { targets: t, idx: [0, 1, 2], records: recs, hardNegatives: true }))!;
    const C = 5; // 3 positives + 2 negatives
    const cand = [1, -1, 4, 2, 5];
    const anc = [0, -1, 3];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < C; j++) {
        const covered = anc[i]! >= 0 && cand[j]! >= 0;
        expect(bt.mask[i * C + j]).toBe(covered ? 1 : 0);
        if (covered) {
          const a = vecs.subarray(anc[i]! * 2, anc[i]! * 2 + 2);
          const c = vecs.subarray(cand[j]! * 2, cand[j]! * 2 + 2);
          expect(bt.sim[i * C + j]).toBeCloseTo(a[0]! * c[0]! + a[1]! * c[1]!, 6);
        }
      }
    }
    expect(await batchTeacher(tf, { targets: t, idx: [1, 1], records: [recs[1]!, recs[1]!], hardNegatives: true })).toBeUndefined();
  });
});

describe('clear errors', () => {
  const cfgFile = '/x/tiny.toml';
  const parse = (training: Record<string, unknown>, matryoshka: Record<string, unknown> = {}) =>
    parseTrainConfig(parseConfig({ model: { path: 'x.safetensors', dim: 256, n_vocab: 8002, pad_token: '</s>' }, training, matryoshka }, cfgFile));

  it('rejects dims above the projection, repeated dims, bad keys and values', () => {
    expect(() => parse({}, { dims: [256, 128], projection_dim: 128 })).toThrow('/x/tiny.toml: [matryoshka] dims: 256 exceed the projection width 128');
    expect(() => parse({}, { dims: [64, 64] })).toThrow('[matryoshka] dims: [64,64] repeats a dim');
    expect(() => parse({}, { dims: [64, 32], weights: [1] })).toThrow('[matryoshka] weights: expected 2 non-negative numbers');
    expect(() => parse({ binarize: 'sign' })).toThrow('[training] binarize: expected one of "none", "ste", "tanh", "reste", got "sign"');
    expect(() => parse({ batchsize: 3 })).toThrow('[training] batchsize: unknown key');
    expect(() => parse({ lr: 1e-3, learning_rate: 1e-3 })).toThrow('[training] learning_rate: is an alias of lr; set only one of them');
    expect(() => parse({ batch_size: 0 })).toThrow('[training] batch_size: expected a positive integer, got 0');
    const ok = parse({ learning_rate: 3e-4, per_device_train_batch_size: 384, num_train_epochs: 2 }, { dims: [64, 256, 128] });
    expect([ok.lr, ok.batchSize, ok.epochs, ok.dims, ok.projectionDim]).toEqual([3e-4, 384, 2, [256, 128, 64], 256]);
  });

  it('rejects a batch larger than the data', () => {
    expect(() => checkBatchSize([{ label: 'a', start: 0, count: 300 }], 512, 'proportional', 'x.toml: [training]')).toThrow(
      'x.toml: [training]: batch_size 512 is larger than the 300 training records; lower it (--batch-size) or add data',
    );
  });

  it('names the line of a malformed STS file and a missing one', () => {
    const p = join(tmp, 'bad.tsv');
    writeFileSync(p, 'sentence1\tsentence2\tscore\na\tb\t1.0\nc\td\n');
    expect(() => readStsFile(p)).toThrow(`${p}:3: expected sentence1<TAB>sentence2<TAB>score, got "c\\td"`);
    expect(() => readStsFile(join(tmp, 'nope.tsv'))).toThrow('eval file not found');
  });

  it('a loss that turns NaN stops with its step number and leaves the step-4 checkpoints as they were', async () => {
    const out = join(tmp, 'diverge');
    const controller = new AbortController();
    await train(inputs(out, baseConfig({ epochs: 2 }), { signal: controller.signal, onStep: (s) => s === 4 && controller.abort() }));
    const files = ['last/model.safetensors', 'last/optimizer.safetensors', 'last/state.json', 'best/model.safetensors'];
    const before = files.map((f) => readFileSync(join(out, 'checkpoints', f)));
    // lr 1e38: step 5's update blows the projection up to ~1e38, so step 6's normalised vectors (and loss) are NaN.
    const run = train(inputs(out, baseConfig({ epochs: 2, lr: 1e38 }), { resume: true }));
    await expect(run).rejects.toThrow(
      `step 6: the loss became NaN; lower [training] lr (now 1e+38) or check the input matrix for inf/nan; ${join(out, 'checkpoints')} still holds step 4`,
    );
    expect(files.map((f) => readFileSync(join(out, 'checkpoints', f)))).toEqual(before);
  });

  it('--resume without a checkpoint, or with different step options, says what to do', async () => {
    await expect(train(inputs(join(tmp, 'none'), baseConfig(), { resume: true }))).rejects.toThrow('no saved training state to --resume from');
    const out = join(tmp, 'a');
    await expect(train(inputs(out, baseConfig({ epochs: 3 }), { resume: true }))).rejects.toThrow(
      'the checkpoint plans 12 steps (6/epoch), this command 18 (6/epoch); resume with the same --steps/--epochs/--batch-size',
    );
  });
});

describe('pipeline train (CLI)', () => {
  it('trains from weights/<name>/ files and --data, prints --json; bad input exits 2 with one line', async () => {
    const out = join(tmp, 'cli');
    const vocab = JSON.parse(readFileSync(join(USE_DIR, 'vocab.json'), 'utf8'));
    writeFileSync(join(tmp, 'tokjson'), '');
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'tokenizer.json'), JSON.stringify(sentencepieceToTokenizerJson(vocab, { rows: 8002 })));
    const rows = await matrix.readRows(0, 8002);
    await writeSafetensors(join(out, 'tiny.safetensors'), [{ name: 'embedding', dtype: 'F16', shape: [8002, 256], data: rows }]);
    writeFileSync(
      join(tmp, 'tiny.toml'),
      `[model]\npath = "x.safetensors"\ndim = 256\nn_vocab = 8002\npad_token = "</s>"\n[training]\nbatch_size = 4\neval_steps = 2\neval_file = "sts.tsv"\n[matryoshka]\ndims = [32, 16]\n`,
    );
    const data = join(tmp, 'pairs.jsonl');
    writeFileSync(data, SENTENCES.map(([a, p, n]) => JSON.stringify({ anchor: a, positive: p, negative: n })).join('\n') + '\n');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const cwd = process.cwd();
      const code = await main(['train', '--config', join(tmp, 'tiny.toml'), '--out-dir', out, '--data', data, '--steps', '3', '--json', '--quiet']);
      expect(code).toBe(0);
      const json = JSON.parse(stdout.mock.calls.map((c) => String(c[0])).join(''));
      expect(json).toMatchObject({ config: 'tiny', steps: 3, total_steps: 3, interrupted: false, matrix_in_memory: true });
      expect(json.eval.map((e: { dim: number }) => e.dim)).toEqual([32, 16]);
      expect(process.cwd()).toBe(cwd);
      stdout.mockClear();
      stderr.mockClear();
      const bad = await main(['train', '--config', join(tmp, 'tiny.toml'), '--out-dir', out, '--data', data, '--batch-size', '100', '--quiet']);
      expect(bad).toBe(2);
      const err = stderr.mock.calls.map((c) => String(c[0])).join('');
      expect(err).toBe(
        `error: ${join(tmp, 'tiny.toml')}: [training]: batch_size 100 is larger than the 8 training records; lower it (--batch-size) or add data\n`,
      );
      stderr.mockClear();
      expect(await main(['train', '--config', join(tmp, 'tiny.toml'), '--backend', 'gpu'])).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain('--backend expects one of auto, node, tensorflow, wasm, cpu, got "gpu"');
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});
