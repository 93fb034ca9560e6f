/**
 * Both cores for `embed` (src/embed/embed-parallel.ts): a batch split across real worker threads (the bundled
 * worker.generated.ts), each building its own Llama-2 tokenizer from the model's tokenizer.json and reading the
 * rows from the shared file bytes, gives exactly `model.embed`'s values for 1, 2 and 3 threads, dense and
 * normalised, truncated or not; `pipeline embed --threads` writes the same .npy bytes as one thread. Real
 * sentences from ../shared/data/train when present, else a built-in sample, so the test always runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canEmbedInParallel, embedParallel, load, loadModelFromBuffers, MIN_PARALLEL_TEXTS } from '../../src/embed/node.ts';
import type { Embeddings } from '../../src/embed/types.ts';
import { makeModel, REPO, TOKENIZERS } from '../helpers/embed-model.ts';
import { runCli } from '../helpers/cli.ts';
import { sharedPath } from '../helpers/shared.ts';

const SAMPLE = [
  'Two women are embracing while holding to go packages.',
  'A man selling donuts to a customer during a world exhibition event held in the city of Angeles',
  'Ünïcödé, emoji 🦙 and CJK 東京 mixed in',
  '',
  '   leading spaces and trailing ones   ',
  'numbers 3.14159 and 2,718 and 1e-9',
  'tabs\tinside\tthe text',
];

/** Unseen real sentences: the anchors and positives of a training file, or the sample varied by index. */
function sentences(n: number): string[] {
  const file = sharedPath('data', 'train', 'snli_devtest_dev-pairs.jsonl');
  const out: string[] = [];
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const j = JSON.parse(line) as Record<string, string>;
      for (const v of Object.values(j)) if (typeof v === 'string') out.push(v);
      if (out.length >= n) break;
    }
  }
  for (let i = out.length; i < n; i++) out.push(`${SAMPLE[i % SAMPLE.length]} #${i} ${(i * 7919) % 1000}`);
  return out.slice(0, n);
}

function differing(a: Embeddings, b: Embeddings): number {
  expect([a.rows, a.dim]).toEqual([b.rows, b.dim]);
  let d = 0;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) d++;
  return d;
}

describe('embedParallel', async () => {
  const gen = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 48, padToken: '</s>' });
  const texts = sentences(2 * MIN_PARALLEL_TEXTS + 333);

  it('gives model.embed exactly on 1, 2 and 3 threads (dense, normalised, truncated)', async () => {
    const model = load(gen.dir);
    expect(canEmbedInParallel(model)).toBe(true);
    const reference = load(gen.dir); // its own word cache: nothing carried over from the parallel runs
    for (const opts of [{}, { norm: false }, { dim: 20, norm: true }]) {
      const one = reference.embed(texts, opts);
      for (const threads of [1, 2, 3]) {
        const got = await embedParallel(model, texts, { ...opts, threads });
        expect(differing(got, one), `threads ${threads}, ${JSON.stringify(opts)}`).toBe(0);
        expect(got.data.buffer instanceof SharedArrayBuffer).toBe(threads > 1);
      }
    }
  });

  it('keeps small batches and models without files on the calling thread, with the same values', async () => {
    const model = load(gen.file);
    const few = texts.slice(0, 50);
    const got = await embedParallel(model, few, { threads: 2 });
    expect(got.data.buffer instanceof SharedArrayBuffer).toBe(false);
    expect(differing(got, load(gen.file).embed(few))).toBe(0);
    const fromBuffers = loadModelFromBuffers({ safetensors: readFileSync(gen.file), tokenizerJson: readFileSync(join(gen.dir, 'tokenizer.json'), 'utf8') });
    expect(canEmbedInParallel(fromBuffers)).toBe(false);
    expect(differing(await embedParallel(fromBuffers, texts, { threads: 2 }), fromBuffers.embed(texts))).toBe(0);
  });

  it('refuses bad input with one line before any work', async () => {
    const model = load(gen.dir);
    const bad = [...texts];
    bad[1500] = 7 as unknown as string;
    await expect(embedParallel(model, bad, { threads: 2 })).rejects.toThrow('embed: texts[1500] is number, expected a string');
    await expect(embedParallel(model, texts, { threads: 2, dim: 49 })).rejects.toThrow("embed: dim 49 is above the model's 48");
    await expect(embedParallel(model, texts, { threads: 0 })).rejects.toThrow('threads must be a positive integer, got 0');
  });

  it('a garbage-collected model is forgotten by the workers that built a copy of it', () => {
    // A child process with --expose-gc: the test runner's heap cannot be collected on demand.
    const script = join(mkdtempSync(join(tmpdir(), 'embed-gc-')), 'gc.mts');
    writeFileSync(
      script,
      [
        `import { embedParallel, load } from ${JSON.stringify(join(REPO, 'src/embed/node.ts'))};`,
        `import { pooledWorkers } from ${JSON.stringify(join(REPO, 'src/embed/threads.ts'))};`,
        'let model = load(process.argv[2]);',
        `await embedParallel(model, Array.from({ length: 1500 }, (_, i) => 'text number ' + i), { threads: 2 });`,
        'const before = pooledWorkers().map((w) => w.models.size);',
        'model = undefined;',
        'for (let i = 0; i < 50 && pooledWorkers().some((w) => w.models.size > 0); i++) {',
        '  globalThis.gc();',
        '  await new Promise((r) => setTimeout(r, 20));',
        '}',
        'console.log(JSON.stringify({ before, after: pooledWorkers().map((w) => w.models.size) }));',
      ].join('\n'),
    );
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, gen.dir], { cwd: REPO, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ before: [1], after: [0] });
  });

  it('pipeline embed --threads 2 writes the .npy of --threads 1, float and binary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'embed-threads-'));
    const input = join(dir, 'in.txt');
    writeFileSync(input, texts.map((t) => t.replace(/\r|\n/g, ' ')).join('\n') + '\n');
    for (const extra of [[], ['--binary']]) {
      const outs: Buffer[] = [];
      for (const threads of ['1', '2']) {
        const out = join(dir, `out-${threads}${extra.length}.npy`);
        const r = await runCli(['embed', '--model', gen.dir, '--input', input, '--output', out, '--threads', threads, '--quiet', ...extra]);
        expect(r.code, r.err).toBe(0);
        outs.push(readFileSync(out));
      }
      expect(outs[1]!.equals(outs[0]!)).toBe(true);
      expect(outs[0]!.length).toBeGreaterThan(texts.length);
    }
    const r = await runCli(['embed', '--model', gen.dir, '--input', input, '--threads', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('embed: --threads expects an integer ≥ 1, got "0"');
  });
});
