/**
 * Validation gaps, through the real CLI and the test hub: Matryoshka dims wider than the source are refused when the
 * config loads; a hub repo without tokenizer.json fails at extract (before the matrix is fetched) saying how to supply
 * one, and a supplied one is used and checked; a branch that moves to another commit mid-download is named as such
 * (both commits, how to pin `revision`) instead of blaming the config's revision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { matrixBytes, startHubServer, tinyTokenizerJson, writeSparseSafetensors, type HubServer } from '../helpers/hub-server.ts';

const ROWS = 256;
const DIM = 256;
const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);
let tmp: string;
let server: HubServer;
const prevEndpoint = process.env.HF_ENDPOINT;

function toml(file: string, lines: string[]): string {
  const path = join(tmp, file);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hostile-validation-'));
  server = await startHubServer();
  process.env.HF_ENDPOINT = server.url;
});
afterAll(async () => {
  await server.close();
  if (prevEndpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = prevEndpoint;
  rmSync(tmp, { recursive: true, force: true });
});

describe('[matryoshka] dims above the source width', () => {
  it('dims = [512, 64] on a 256-wide source is refused at load, before anything runs', async () => {
    const path = toml('wide.toml', [
      '[model]',
      'path = "none.safetensors"',
      `dim = ${DIM}`,
      `n_vocab = ${ROWS}`,
      'pad_token = "<eos>"',
      '[matryoshka]',
      'dims = [512, 64]',
    ]);
    for (const stage of ['extract', 'train', 'run']) {
      const r = await runCli([stage, '--config', path, '--out-dir', join(tmp, 'wide-out'), '--quiet']);
      expect(r.err).toBe(`error: ${path}: [matryoshka] dims: 512 above the source width 256 (a projection cannot add information); use dims of at most 256\n`);
      expect(r.code).toBe(2);
    }
    expect(existsSync(join(tmp, 'wide-out'))).toBe(false);
  });

  it('a projection_dim above the width of concatenated sources is refused naming that key', async () => {
    const path = toml('wide-proj.toml', [
      '[model]',
      `n_vocab = ${ROWS}`,
      'pad_token = "<eos>"',
      '[[sources]]',
      'name = "a"',
      'path = "a.safetensors"',
      'dim = 100',
      '[[sources]]',
      'name = "b"',
      'path = "b.safetensors"',
      'dim = 28',
      '[matryoshka]',
      'dims = [64]',
      'projection_dim = 256',
    ]);
    const r = await runCli(['extract', '--config', path, '--quiet']);
    expect(r.err).toBe(
      `error: ${path}: [matryoshka] projection_dim: 256 above the source width 128 (a projection cannot add information); use dims of at most 128\n`,
    );
    expect(r.code).toBe(2);
  });
});

describe('a hub repo without tokenizer.json', () => {
  it('fails at extract before the tensor is fetched, naming the file and how to supply it; a supplied tokenizer.json is used and checked', async () => {
    const shard = join(tmp, 'notok.safetensors');
    writeSparseSafetensors(shard, [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: matrixBytes(ROWS, DIM, 'BF16', 9) }]);
    server.addRepo({ id: 'org/notok', commit: OLD, files: { 'model.safetensors': { disk: shard }, 'tokenizer.model': { data: new Uint8Array([1, 2, 3]) } } });
    const path = toml('notok.toml', ['[model]', 'hf_model_id = "org/notok"', `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<eos>"']);
    const out = join(tmp, 'notok-out');
    server.resetStats();
    const r = await runCli(['extract', '--config', path, '--out-dir', out, '--quiet']);
    expect(r.err).toBe(
      `error: org/notok@${OLD.slice(0, 12)} has no tokenizer.json, only tokenizer.model (sentencepiece); save one with transformers (AutoTokenizer.from_pretrained("org/notok").save_pretrained(DIR)), copy DIR/tokenizer.json to ${out}/tokenizer.json and run extract again\n`,
    );
    expect(r.code).toBe(2);
    // Only the shard's header was read: 8 bytes, then its JSON.
    expect(server.requests.filter((q) => q.range !== undefined).map((q) => q.start)).toEqual([0, 8]);
    expect(existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.safetensors')) : []).toEqual([]);

    // Supplied, but with a pad token it lacks: checked like a hub tokenizer, before the matrix is fetched.
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'tokenizer.json'), tinyTokenizerJson(ROWS).replaceAll('<eos>', '<end>'));
    const wrongPad = await runCli(['extract', '--config', path, '--out-dir', out, '--quiet']);
    expect(wrongPad.err).toBe(
      `error: ${path}: [model] pad_token: "<eos>" is not a token of org/notok/tokenizer.json (its special tokens: <pad>, <end>, <unk>)\n`,
    );
    expect(wrongPad.code).toBe(2);

    writeFileSync(join(out, 'tokenizer.json'), tinyTokenizerJson(ROWS));
    const ok = await runCli(['extract', '--config', path, '--out-dir', out, '--quiet']);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe(tinyTokenizerJson(ROWS));
    expect(existsSync(join(out, 'notok.safetensors'))).toBe(true);
  });
});

describe('the branch moves to a new commit mid-download', () => {
  it('says the branch moved, names both commits and how to pin revision', async () => {
    const shard = join(tmp, 'moving.safetensors');
    writeSparseSafetensors(shard, [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: matrixBytes(ROWS, DIM, 'BF16', 4) }]);
    const tokenizer = join(tmp, 'moving-tokenizer.json');
    writeFileSync(tokenizer, tinyTokenizerJson(ROWS));
    const files = { 'model.safetensors': { disk: shard }, 'tokenizer.json': { data: readFileSync(tokenizer) } };
    server.addRepo({ id: 'org/moving', commit: OLD, files });
    const path = toml('moving.toml', ['[model]', 'hf_model_id = "org/moving"', `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<eos>"']);
    server.resetStats();
    server.delayMs = 100;
    // Once the tensor's chunks are being fetched, main moves on: the hub now serves NEW only (a force-push).
    const move = setInterval(() => {
      if (server.requests.filter((q) => q.range !== undefined).length > 4) {
        server.addRepo({ id: 'org/moving', commit: NEW, files });
        clearInterval(move);
      }
    }, 5);
    try {
      const r = await runCli(['extract', '--config', path, '--out-dir', join(tmp, 'moving-out'), '--chunk-size', '4096', '--quiet']);
      expect(r.err).toBe(
        `error: org/moving: "main" moved from commit ${OLD} to ${NEW} during the download; run extract again to take ${NEW.slice(0, 12)}, or set revision = "${NEW}" in the config to pin one commit\n`,
      );
      expect(r.code).toBe(2);
    } finally {
      clearInterval(move);
      server.delayMs = 0;
    }
    const again = await runCli(['extract', '--config', path, '--out-dir', join(tmp, 'moving-out'), '--quiet']);
    expect(again.code).toBe(0);
  });
});
