/**
 * Outputs never replace a file the pipeline did not write: every writing stage (extract, concat, train, save, run,
 * export) refuses an output folder holding someone else's files (a project's README.md and config.json, a hub
 * model's folder) with one line naming them, unless --force; folders the pipeline wrote (or fed by hand with a
 * matrix and a tokenizer) are written as before. The rule lives in src/layout/ownership.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeModel, TOKENIZERS } from '../helpers/embed-model.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { OWNER_FILE } from '../../src/layout/file-names.ts';

const ROWS = 32000;
const DIM = 4;
let tmp: string;
let toml: string;
let twoToml: string;

const README = '# my project\n';
const CONFIG = '{"architectures":["LlamaForCausalLM"]}\n';

/** A folder as a user or another tool left it: a README.md and a config.json the pipeline never wrote. */
function foreignFolder(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'README.md'), README);
  writeFileSync(join(dir, 'config.json'), CONFIG);
  return dir;
}

function refusal(dir: string, shown: string, flag = '--out-dir'): string {
  return `error: ${dir} holds files the pipeline did not write (${shown}); choose a new or empty folder (${flag}), or pass --force to write into it (files with the pipeline's names are replaced)\n`;
}

function untouched(dir: string): void {
  expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe(README);
  expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(CONFIG);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hostile-foreign-'));
  await writeSafetensors(join(tmp, 'tiny.safetensors'), [
    { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [ROWS, DIM], data: new Float32Array(ROWS * DIM).fill(0.25) },
  ]);
  copyFileSync(TOKENIZERS.llama2, join(tmp, 'tokenizer.json'));
  toml = join(tmp, 'tiny.toml');
  writeFileSync(toml, ['[model]', 'path = "tiny.safetensors"', `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<unk>"'].join('\n') + '\n');
  twoToml = join(tmp, 'two.toml');
  writeFileSync(
    twoToml,
    [
      '[model]',
      `n_vocab = ${ROWS}`,
      'pad_token = "<unk>"',
      '[[sources]]',
      'name = "a"',
      'path = "tiny.safetensors"',
      `dim = ${DIM}`,
      '[[sources]]',
      'name = "b"',
      'path = "tiny.safetensors"',
      `dim = ${DIM}`,
    ].join('\n') + '\n',
  );
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a foreign output folder is refused by every writing stage', () => {
  for (const stage of ['extract', 'train', 'save', 'run'] as const) {
    it(`${stage}: one line naming the foreign files; nothing replaced, nothing added`, async () => {
      const dir = foreignFolder(`foreign-${stage}`);
      const r = await runCli([stage, '--config', toml, '--out-dir', dir, '--quiet']);
      expect(r.err).toBe(refusal(dir, 'README.md, config.json'));
      expect(r.code).toBe(2);
      untouched(dir);
      expect(readdirSync(dir).sort()).toEqual(['README.md', 'config.json']);
    });
  }

  it('concat: refused the same way', async () => {
    const dir = foreignFolder('foreign-concat');
    for (const s of ['a', 'b']) copyFileSync(join(tmp, 'tiny.safetensors'), join(dir, `${s}.safetensors`));
    copyFileSync(join(tmp, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const r = await runCli(['concat', '--config', twoToml, '--out-dir', dir, '--quiet']);
    expect(r.err).toBe(refusal(dir, 'README.md, config.json'));
    expect(r.code).toBe(2);
    untouched(dir);
    expect(existsSync(join(dir, 'concat.json'))).toBe(false);
  });

  it('save --save-dir: the folder it writes is checked, named by its flag', async () => {
    const dir = foreignFolder('foreign-save-dir');
    const r = await runCli(['save', '--config', toml, '--out-dir', join(tmp, 'never-made'), '--save-dir', dir, '--quiet']);
    expect(r.err).toBe(refusal(dir, 'README.md, config.json', '--save-dir'));
    expect(r.code).toBe(2);
    untouched(dir);
  });

  it('export --out: a hub model folder with a README.md is refused; --force writes into it', async () => {
    const model = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 8, name: 'tiny' });
    const dir = join(tmp, 'foreign-export');
    mkdirSync(dir);
    writeFileSync(join(dir, 'README.md'), README);
    writeFileSync(join(dir, '.gitattributes'), '*.safetensors filter=lfs\n');
    const r = await runCli(['export', '--model', model.dir, '--format', 'model2vec', '--out', dir, '--quiet']);
    expect(r.err).toBe(refusal(dir, '.gitattributes, README.md', '--out'));
    expect(r.code).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['.gitattributes', 'README.md']);

    const forced = await runCli(['export', '--model', model.dir, '--format', 'model2vec', '--out', dir, '--force', '--quiet']);
    expect(forced.err).toBe('');
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe(README);
    expect(readdirSync(dir).sort()).toEqual(['.gitattributes', OWNER_FILE, 'README.md', 'config.json', 'model.safetensors', 'modules.json', 'tokenizer.json']);
    // An export into a folder an export wrote (here: marked by --force) needs no --force again.
    const again = await runCli(['export', '--model', model.dir, '--format', 'model2vec', '--out', dir, '--quiet']);
    expect(again.code).toBe(0);
  });
});

describe('--force, and folders that are ours', () => {
  it('extract --force writes into a foreign folder, keeps its files, and marks it so the next stage needs no --force', async () => {
    const dir = foreignFolder('forced');
    const r = await runCli(['extract', '--config', toml, '--out-dir', dir, '--force', '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    untouched(dir);
    expect(readdirSync(dir).sort()).toEqual([OWNER_FILE, 'README.md', 'config.json', 'extract.json', 'tiny.safetensors', 'tokenizer.json']);
    const again = await runCli(['extract', '--config', toml, '--out-dir', dir, '--quiet']);
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
  });

  it('a folder fed by hand (matrix + tokenizer.json) and one holding our saved config.json + README.md are ours', async () => {
    const hand = join(tmp, 'hand');
    mkdirSync(hand);
    copyFileSync(join(tmp, 'tiny.safetensors'), join(hand, 'other.safetensors'));
    copyFileSync(join(tmp, 'tokenizer.json'), join(hand, 'tokenizer.json'));
    const r = await runCli(['extract', '--config', toml, '--out-dir', hand, '--quiet']);
    expect(r.code).toBe(0);
    expect(readdirSync(hand).sort()).toEqual(['extract.json', 'other.safetensors', 'tiny.safetensors', 'tokenizer.json']);

    const saved = join(tmp, 'saved');
    mkdirSync(saved);
    writeFileSync(join(saved, 'config.json'), JSON.stringify({ model_type: 'wordllama-ts', name: 'tiny' }) + '\n');
    writeFileSync(join(saved, 'README.md'), '# tiny\n');
    const s = await runCli(['extract', '--config', toml, '--out-dir', saved, '--quiet']);
    expect(s.err).toBe('');
    expect(s.code).toBe(0);
    expect(existsSync(join(saved, OWNER_FILE))).toBe(false);
  });
});
