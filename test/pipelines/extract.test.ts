/**
 * `pipeline extract` as a user runs it (child process): killed mid-download and re-run, it resumes without
 * fetching any verified chunk again and nothing partial looks complete; --json, --help and error exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SafetensorsFile } from '../../src/safetensors/file.ts';
import { decodeToF32 } from '../../src/safetensors/dtype.ts';
import { expectedRows, testGguf } from '../helpers/gguf-models.ts';
import { startHubServer, writeSparseSafetensors, matrixBytes, tinyTokenizerJson, type HubServer } from '../helpers/hub-server.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pipeline.js');
const ROWS = 512;
const DIM = 1024; // BF16: 1 MiB tensor = 64 chunks of 16 KiB
const CHUNK = 16 * 1024;
let tmp: string;
let server: HubServer;
let emb: Uint8Array;
let dataStart: number;
let configPath: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'extract-cli-'));
  server = await startHubServer({ redirect: true });
  emb = matrixBytes(ROWS, DIM, 'BF16', 21);
  const shard = join(tmp, 'shard.safetensors');
  writeSparseSafetensors(shard, [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: emb },
    { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'BF16', shape: [8192, 4096] }, // 64 MiB sparse filler
  ]);
  const f = await SafetensorsFile.open(shard);
  dataStart = f.header.dataStart;
  await f.close();
  server.addRepo({
    id: 'org/resumable',
    gated: true,
    allowedTokens: ['hf_cli'],
    files: { 'model.safetensors': { disk: shard }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
  });
  configPath = join(tmp, 'resumable.toml');
  writeFileSync(configPath, `[model]\nhf_model_id = "org/resumable"\ndim = ${DIM}\nn_vocab = ${ROWS}\npad_token = "<eos>"\n`);
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({ ...process.env, HF_ENDPOINT: server.url, HF_TOKEN: 'hf_cli', ...extra });

function runCli(args: string[], e = env()) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: e });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

const chunkOf = (start: number) => (start - dataStart) / CHUNK;

describe('pipeline extract (CLI)', () => {
  it('killed mid-download, then re-run: resumes, re-fetches no verified chunk, output exact', async () => {
    const out = join(tmp, 'out-kill');
    const args = ['extract', '--config', configPath, '--out-dir', out, '--chunk-size', '16k', '--concurrency', '2', '--dtype', 'f32'];
    server.delayMs = 60;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: env(), stdio: 'ignore' });
    const sidecar = join(out, 'resumable.safetensors.partial.json');
    let verified: number[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if (!existsSync(sidecar)) continue;
      try {
        verified = Object.keys(JSON.parse(readFileSync(sidecar, 'utf8')).done).map(Number);
      } catch {
        continue; // caught between write and rename of a temp file: never happens with rename, but be safe
      }
      if (verified.length >= 12) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    expect(verified.length).toBeGreaterThanOrEqual(12);
    expect(verified.length).toBeLessThan(64);
    // Nothing looks complete: no final file, only the .partial pair.
    expect(existsSync(join(out, 'resumable.safetensors'))).toBe(false);
    expect(readdirSync(out).filter((n) => n.endsWith('.safetensors'))).toEqual([]);
    const recorded = Object.keys(JSON.parse(readFileSync(sidecar, 'utf8')).done).map(Number);
    for (const v of verified) expect(recorded).toContain(v);

    server.delayMs = 0;
    server.resetStats();
    const r = await runCli([...args, '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.sources[0].bytes_resumed).toBe(recorded.length * CHUNK);
    const fetched = server.requests.filter((q) => q.server === 'cdn' && q.status === 206 && q.start! >= dataStart).map((q) => chunkOf(q.start!));
    for (const c of recorded) expect(fetched).not.toContain(c);
    expect(new Set([...fetched, ...recorded]).size).toBe(64);
    const f = await SafetensorsFile.open(join(out, 'resumable.safetensors'));
    const t = f.tensor('embedding');
    const got = Buffer.from(await f.readBytes(t, 0, t.end - t.begin));
    await f.close();
    expect(got.equals(Buffer.from(decodeToF32(emb, 'BF16').buffer))).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['extract.json', 'resumable.safetensors', 'tokenizer.json']);
  });

  it('prints output paths on stdout and facts on stderr', async () => {
    const out = join(tmp, 'out-plain');
    const r = await runCli(['extract', '--config', configPath, '--out-dir', out, '--chunk-size', '256k']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([join(out, 'resumable.safetensors'), join(out, 'tokenizer.json'), join(out, 'extract.json')]);
    expect(r.stderr).toMatch(/resumable: \[512, 1024\] from org\/resumable \(BF16 → F16, 1\.05 MB downloaded of a 68\.2 MB shard/);
    // Not a TTY: plain progress lines with bytes, percentage, rate and ETA, then the final line.
    expect(r.stderr).toMatch(/^resumable 1\.05 MB\/1\.05 MB 100\.0% [\d.]+ [kMG]?B\/s ETA \d+s \(done in \d+s\)$/m);
    expect(r.stderr).toMatch(/^resumable: tensor model\.embed_tokens\.weight \(known name\) BF16 \[512,1024\] in model\.safetensors$/m);
  });

  it('--from model.gguf: Q4_K rows dequantized through the CLI; a GGUF without a tokenizer is one line, exit code 2', async () => {
    const dir = join(tmp, 'gguf');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.gguf'), testGguf({ type: 'Q4_K', vocab: ROWS, dim: DIM }));
    const cfg = join(tmp, 'gguf.toml');
    writeFileSync(cfg, `[model]\nhf_model_id = "org/m-GGUF"\ngguf_file = "m-Q4_K_M.gguf"\ndim = ${DIM}\nn_vocab = ${ROWS}\npad_token = "<eos>"\n`);
    const out = join(tmp, 'out-gguf');
    const missing = await runCli(['extract', '--config', cfg, '--from', join(dir, 'model.gguf'), '--out-dir', out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n').at(-1)).toMatch(
      /^error: .*gguf\.toml: \[model\]: no tokenizer\.json for the GGUF source "gguf" \(looked in .*\); set tokenizer_repo = /,
    );
    writeFileSync(join(dir, 'tokenizer.json'), tinyTokenizerJson(ROWS));
    const r = await runCli(['extract', '--config', cfg, '--from', join(dir, 'model.gguf'), '--out-dir', out, '--dtype', 'f32']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/gguf: \[512, 1024\] from org\/m-GGUF \(Q4_K → dequantized F32, 294\.9 kB read from local files/);
    const f = await SafetensorsFile.open(join(out, 'gguf.safetensors'));
    const t = f.tensor('embedding');
    const got = decodeToF32(await f.readBytes(t, 0, t.end - t.begin), 'F32');
    await f.close();
    expect(got).toEqual(expectedRows('Q4_K', ROWS, DIM));
  });

  it('gated repo without token: one line on stderr, exit code 2', async () => {
    const r = await runCli(['extract', '--config', configPath, '--out-dir', join(tmp, 'out-gated')], env({ HF_TOKEN: '' }));
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(lines.some((l) => /^\s+at /.test(l))).toBe(false);
    expect(lines.at(-1)).toMatch(/^error: org\/resumable is a gated model \(HTTP 401\): accept the licence on .*\/org\/resumable, then set HF_TOKEN/);
  });

  it('bad flags are one-line errors', async () => {
    const a = await runCli(['extract', '--config', configPath, '--dtype', 'f8']);
    expect([a.code, a.stderr.trim()]).toEqual([2, 'error: extract: --dtype expects f16, f32 or bf16, got "f8"']);
    const b = await runCli(['extract', '--config', configPath, '--chunk-size', '10']);
    expect([b.code, b.stderr.trim()]).toEqual([2, 'error: extract: --chunk-size must be at least 4096 bytes, got "10"']);
    const c = await runCli(['extract']);
    expect([c.code, c.stderr.trim()]).toEqual([2, 'error: extract: --config NAME is required (see: pipeline extract --help)']);
  });

  it('--help documents every flag', () => {
    const r = spawnSync(process.execPath, [BIN, 'extract', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const flag of [
      '--config',
      '--from',
      '--out-dir',
      '--dtype',
      '--concurrency',
      '--chunk-size',
      '--force',
      '--fsync',
      '--quiet',
      '--json',
      'HF_ENDPOINT',
      'HF_TOKEN',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });
});
