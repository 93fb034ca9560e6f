/**
 * Hostile config names: `name` (and a source's `name`) become folder and file names under weights/, so a value
 * like ".." must be refused at load, before any stage writes, with one line naming the file, key and value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';

const LLAMA2 = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');
let root: string;
let work: string;
const startCwd = process.cwd();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hostile-names-'));
  // The user's own project: files the pipeline did not write, one level above weights/.
  work = join(root, 'project');
  mkdirSync(join(work, 'src'), { recursive: true });
  writeFileSync(join(work, 'README.md'), 'my project\n');
  writeFileSync(join(work, 'config.json'), '{"mine":true}\n');
  const E = new Float32Array(32000 * 4).fill(0.5);
  await writeSafetensors(join(work, 'src', 'tiny.safetensors'), [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [32000, 4], data: E }]);
  copyFileSync(LLAMA2, join(work, 'src', 'tokenizer.json'));
  process.chdir(work);
});
afterAll(() => {
  process.chdir(startCwd);
  rmSync(root, { recursive: true, force: true });
});

function config(file: string, lines: string[]): string {
  const path = join(work, file);
  writeFileSync(path, [...lines, '[model]', 'path = "src/tiny.safetensors"', 'dim = 4', 'n_vocab = 32000', 'pad_token = "<unk>"'].join('\n') + '\n');
  return path;
}

describe('config names that are not one safe folder name', () => {
  for (const bad of ['..', '.', '...']) {
    it(`name = "${bad}" is refused at load with one line; nothing is written`, async () => {
      const toml = config('evil.toml', [`name = "${bad}"`]);
      const r = await runCli(['extract', '--config', toml, '--quiet']);
      expect(r.err).toBe(
        `error: ${toml}: name: "${bad}" is not a folder name (a name made only of dots points at a parent folder); use letters, digits, ".", "_" and "-"\n`,
      );
      expect(r.code).toBe(2);
      expect(readFileSync(join(work, 'README.md'), 'utf8')).toBe('my project\n');
      expect(readFileSync(join(work, 'config.json'), 'utf8')).toBe('{"mine":true}\n');
      expect(readdirSync(work).sort()).toEqual(['README.md', 'config.json', 'evil.toml', 'src']);
    });
  }

  it('a [[sources]] name of ".." is refused the same way', async () => {
    const toml = join(work, 'two.toml');
    writeFileSync(
      toml,
      [
        'name = "two"',
        '[model]',
        'n_vocab = 32000',
        'pad_token = "<unk>"',
        '[[sources]]',
        'name = ".."',
        'path = "src/tiny.safetensors"',
        'dim = 4',
        '[[sources]]',
        'name = "b"',
        'path = "src/tiny.safetensors"',
        'dim = 4',
      ].join('\n') + '\n',
    );
    const r = await runCli(['extract', '--config', toml, '--quiet']);
    expect(r.err).toBe(
      `error: ${toml}: [[sources]] #1 name: ".." is not a folder name (a name made only of dots points at a parent folder); use letters, digits, ".", "_" and "-"\n`,
    );
    expect(r.code).toBe(2);
    rmSync(toml);
  });

  it('a slash in a name is still refused', async () => {
    const toml = config('slash.toml', ['name = "a/../.."']);
    const r = await runCli(['extract', '--config', toml, '--quiet']);
    expect(r.err).toBe(`error: ${toml}: name: "a/../.." must use only letters, digits, ".", "_" and "-" (it names a folder)\n`);
    expect(r.code).toBe(2);
    rmSync(toml);
  });
});
