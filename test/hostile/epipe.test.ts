/**
 * Closed output streams, through the real bin in a child process with real pipes: a reader that takes 100 bytes
 * of a large stdout and closes it (`| head -c 100`) ends the stage quietly with status 0; a reader that closes
 * stderr (`2>&1 | head`) only loses the progress lines: the stage finishes its output and exits 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeModel, REPO, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';
import { parseNpy } from '../../src/embed/npy.ts';

const BIN = join(REPO, 'bin', 'pipeline.js');

interface Closed {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What arrived on the stream left open. */
  other: string;
  /** Bytes read from the closed stream before closing it. */
  got: number;
}

/** Run the bin, read `bytes` of `which` (stdout or stderr) and destroy that pipe, as `head -c` does. */
function runClosing(which: 'stdout' | 'stderr', args: string[], bytes = 100): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const closing = child[which];
    const open = which === 'stdout' ? child.stderr : child.stdout;
    let got = 0;
    let other = '';
    closing.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= bytes) closing.destroy();
    });
    open.on('data', (d: Buffer) => (other += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, other, got }));
  });
}

let work: string;
let g: GeneratedModel;
let input: string;
const LINES = 5000;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'hostile-epipe-'));
  g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 64, padToken: '</s>', name: 'pipe', dir: join(work, 'model') });
  input = join(work, 'lines.txt');
  // ≈ 6 MB of JSON: far more than any pipe buffer, so the writer is still writing when the reader leaves.
  writeFileSync(input, Array.from({ length: LINES }, (_, i) => `sentence number ${i} about the weather in spring`).join('\n') + '\n');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a reader that closes stdout early', () => {
  it('embed --json | head -c 100: status 0, nothing on stderr', async () => {
    const r = await runClosing('stdout', ['embed', '--model', g.dir, '--input', input, '--json', '--quiet']);
    expect(r.got).toBeGreaterThanOrEqual(100);
    expect(r.other).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
  });

  it('embed from --text (one synchronous write of every row) and tokens --json: status 0, nothing on stderr', async () => {
    const texts = Array.from({ length: 1000 }, (_, i) => ['--text', `words of text ${i}`]).flat();
    for (const args of [
      ['embed', '--model', g.dir, ...texts],
      ['tokens', '--model', g.dir, '--json', '--text', 'the weather in spring '.repeat(1000)],
    ]) {
      const r = await runClosing('stdout', args);
      expect(r.other, args[0]).toBe('');
      expect(r.code, args[0]).toBe(0);
    }
  });
});

describe('a reader that closes stderr early', () => {
  it('embed --output keeps going: the .npy is complete and the status is 0', async () => {
    const out = join(work, 'vectors.npy');
    // Progress lines go to stderr (not a terminal: one line per update); the reader leaves after the first.
    const r = await runClosing('stderr', ['embed', '--model', g.dir, '--input', input, '--output', out, '--batch-size', '256'], 1);
    expect(r.got).toBeGreaterThan(0);
    expect(r.code).toBe(0);
    const npy = parseNpy(new Uint8Array(readFileSync(out)));
    expect(npy.shape).toEqual([LINES, 64]);
  });

  it('embed --json keeps going: stdout holds every row', async () => {
    const r = await runClosing('stderr', ['embed', '--model', g.dir, '--input', input, '--json', '--batch-size', '256'], 1);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.other) as { dim: number; embeddings: number[][] };
    expect(parsed.embeddings).toHaveLength(LINES);
  });
});
