/**
 * The CLI's conventions, through the real bin in a child process: results on stdout and diagnostics on stderr,
 * help/version/usage exit codes, `--` ending options, standard input as `--input -` or piped, and a reader that
 * closes stdout early.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from '../../src/embed/node.ts';
import { makeModel, REPO, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';

const BIN = join(REPO, 'bin', 'pipeline.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The bin with `input` on stdin (a pipe), or /dev/null when `input` is undefined. */
function bin(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

describe('CLI conventions', () => {
  let g: GeneratedModel;
  beforeAll(async () => {
    g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 24, padToken: '</s>', name: 'conv' });
  });
  afterAll(() => rmSync(g.dir, { recursive: true, force: true }));

  it('bare bin: usage on stderr, exit 2; --help on stdout, exit 0; --version', async () => {
    const bare = await bin([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^usage: pipeline <stage>/);
    const help = await bin(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: pipeline <stage>/);
    expect(help.stderr).toBe('');
    const version = await bin(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(`${(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    const unknown = await bin(['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown option "--bogus"/);
  });

  it('similarity prints its value on stdout; -- ends options so texts may start with "-"', async () => {
    const r = await bin(['similarity', '--model', g.dir, '--', '-h', 'b']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const expected = load(g.dir).similarity('-h', 'b');
    expect(r.stdout).toBe(`${expected.toFixed(6)}  (cosine, dim 24)\n`);
  });

  it('embed reads standard input with --input - and when texts are piped without a flag', async () => {
    const texts = ['the cat sat', '', 'a dog ran\r'];
    const want = load(g.dir).embed(['the cat sat', '', 'a dog ran']);
    for (const args of [['--input', '-'], []]) {
      const r = await bin(['embed', '--model', g.dir, '--json', ...args], texts.join('\n') + '\n');
      expect(r.code, args.join(' ')).toBe(0);
      const parsed = JSON.parse(r.stdout) as { dim: number; embeddings: number[][] };
      expect(parsed.embeddings).toHaveLength(3);
      for (let i = 0; i < 3; i++) expect(Float32Array.from(parsed.embeddings[i]!)).toEqual(want.data.subarray(i * 24, (i + 1) * 24));
    }
    const none = await bin(['embed', '--model', g.dir]);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toMatch(/^error: embed: give --text T \(repeatable\), --input FILE, or pipe texts on stdin$/);
  });

  it('a reader closing stdout early ends the process quietly with status 0', async () => {
    const lines = Array.from({ length: 20000 }, (_, i) => `sentence number ${i} about the weather`).join('\n');
    const result = await new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'embed', '--model', g.dir, '--input', '-', '--json', '--quiet'], { cwd: REPO });
      let got = 0;
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= 100) child.stdout.destroy(); // what `| head -c 100` does
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.on('error', () => {}); // the child may exit before it has read everything
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: '', stderr }));
      child.stdin.end(lines);
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
