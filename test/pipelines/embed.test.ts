/**
 * `pipeline embed`, `pipeline similarity` and `pipeline tokens` end to end: real files in tmp dirs, the real
 * bin (exit codes, one-line errors), .npy outputs parsed back and compared with the library.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load, packedBytes } from '../../src/embed/node.ts';
import { parseNpy } from '../../src/embed/npy.ts';
import { makeModel, REPO, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';
import { main } from '../../pipelines/cli.ts';

const run = promisify(execFile);
const BIN = join(REPO, 'bin', 'pipeline.js');

/** The CLI in this process (same dispatch, flag parsing and error printing as the bin), output captured. */
async function pipeline(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** The real bin in a child process (exit code, stdout/stderr separation). */
async function pipelineBin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: REPO, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('embed / similarity / tokens stages', () => {
  let g: GeneratedModel;
  let work: string;
  beforeAll(async () => {
    g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 24, padToken: '</s>', name: 'cli' });
    work = mkdtempSync(join(tmpdir(), 'embed-cli-'));
  });
  afterAll(() => {
    rmSync(g.dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('--input streams lines in batches into a float32 .npy equal to the library', async () => {
    const lines = Array.from({ length: 2500 }, (_, i) => (i % 97 === 0 ? '' : `line ${i} about ${['cats', 'dogs', 'rain'][i % 3]}\r`));
    writeFileSync(join(work, 'in.txt'), lines.join('\n') + '\n');
    const out = join(work, 'sub', 'emb.npy');
    const r = await pipeline(['embed', '--model', g.dir, '--input', join(work, 'in.txt'), '--output', out, '--batch-size', '300', '--dim', '16']);
    expect(r.stderr).toContain('wrote');
    expect(r.code).toBe(0);
    const npy = parseNpy(readFileSync(out));
    expect(npy.dtype).toBe('<f4');
    expect(npy.shape).toEqual([2500, 16]);
    const want = load(g.dir).embed(
      lines.map((l) => l.replace(/\r$/, '')),
      { dim: 16 },
    );
    expect(Array.from(npy.data)).toEqual(Array.from(want.data));
    expect(readdirSync(join(work, 'sub')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The same file as JSON (streamed row by row on stdout).
    const j = await pipeline(['embed', '--model', g.dir, '--input', join(work, 'in.txt'), '--dim', '16', '--quiet']);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.stdout) as { dim: number; embeddings: number[][] };
    expect(parsed.dim).toBe(16);
    expect(parsed.embeddings.length).toBe(2500);
    expect(parsed.embeddings[1]).toEqual(Array.from(want.data.subarray(16, 32)));
    expect(parsed.embeddings[0]).toEqual(new Array(16).fill(0));
  });

  it('--binary writes uint8 packed sign bits; --json prints dim and embeddings', async () => {
    const out = join(work, 'bin.npy');
    const r = await pipeline(['embed', '--model', g.dir, '--text', 'Hello world', '--text', 'Good morning', '--binary', '--output', out, '--quiet']);
    expect(r.code).toBe(0);
    const npy = parseNpy(readFileSync(out));
    expect([npy.dtype, ...npy.shape]).toEqual(['|u1', 2, 3]);
    const m = load(g.dir);
    expect(Array.from(npy.data)).toEqual(Array.from(packedBytes(m.embedBinary(['Hello world', 'Good morning']))));

    const j = await pipeline(['embed', '--model', join(g.dir, 'cli_24.safetensors'), '--text', 'Hello world', '--json', '--no-norm']);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.dim).toBe(24);
    const want = m.embed(['Hello world'], { norm: false }).data;
    parsed.embeddings[0].forEach((v: number, i: number) => expect(v).toBeCloseTo(want[i]!, 7));
  });

  it('similarity prints JSON with the cosine of the library', async () => {
    const r = await pipeline(['similarity', '--model', g.dir, '--json', 'I went to the car', 'I went to the pawn shop']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.similarity).toBeCloseTo(load(g.dir).similarity('I went to the car', 'I went to the pawn shop'), 6);
    expect(s.binary).toBe(false);
  });

  it('tokens shows ids, pieces, counts and row stats — also for a raw extracted matrix', async () => {
    const r = await pipeline(['tokens', '--model', g.dir, '--text', 'Hello world</s>', '--json']);
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t.tokens.map((x: { piece: string }) => x.piece)).toEqual(['▁Hello', '▁world', '</s>']);
    expect(t.tokens.map((x: { counts: boolean }) => x.counts)).toEqual([true, true, false]);
    const row = g.rows.subarray(t.tokens[0].id * 24, t.tokens[0].id * 24 + 24);
    expect(t.tokens[0].norm).toBeCloseTo(Math.hypot(...row), 5);

    const raw = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 8, tensor: 'embedding', name: 'llama2' });
    const rr = await pipeline(['tokens', '--model', raw.file, '--text', 'Hello world', '--json']);
    rmSync(raw.dir, { recursive: true, force: true });
    expect(rr.code).toBe(0);
    const rt = JSON.parse(rr.stdout);
    expect(rt.format).toBe('raw');
    const id = rt.tokens[1].id;
    expect(rt.tokens[1].mean).toBeCloseTo(Array.from(raw.rows.subarray(id * 8, id * 8 + 8)).reduce((a, b) => a + b, 0) / 8, 6);
    const human = await pipeline(['tokens', '--model', g.dir, '--text', 'Hi']);
    expect(human.stdout).toMatch(/tokens, \d+ counted/);
    expect(human.stderr).toBe('');
  });

  it('the real bin: JSON on stdout, exit 0; bad input: exit 2 and one error line', async () => {
    const ok = await pipelineBin(['embed', '--model', g.dir, '--text', 'Hello', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).dim).toBe(24);
    const bad = await pipelineBin(['embed', '--model', g.dir, '--text', 'x', '--dim', '99']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^error: .*dim 99 is above the model's 24$/);
    expect(bad.stdout).toBe('');
  });

  it('bad input: exit code 2 and one line', async () => {
    const cases: [string[], RegExp][] = [
      [['embed', '--text', 'x'], /--model PATH is required/],
      [['embed', '--model', g.dir, '--text', 'x', '--dim', '99'], /dim 99 is above the model's 24/],
      [['embed', '--model', g.dir, '--input', join(work, 'missing.txt')], /cannot read --input/],
      [['embed', '--model', join(work, 'nope'), '--text', 'x'], /no such file or folder/],
      [['embed', '--model', g.dir, '--text', 'x', '--output', 'x.csv'], /must end in \.npy/],
      [['similarity', '--model', g.dir, 'only one'], /exactly two texts/],
      [['tokens', '--model', g.dir], /--text T is required/],
      [['embed', '--model', g.dir, '--text', 'x', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = await pipeline(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(join(REPO, 'x.csv'))).toBe(false);
  });

  it('--help texts are complete', async () => {
    for (const s of ['embed', 'similarity', 'tokens']) {
      const r = await pipeline([s, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`pipeline ${s} --model PATH`);
    }
  });
});
