/**
 * Corrupted bytes inside a range: the test hub's `corrupt` fault answers a well-formed 206 with one byte flipped, so
 * status, Content-Range, length and ETag all check out. Without --verify that byte reaches the output (the
 * documented limit: a range has no hash of its own). With --verify the whole shard is streamed again and hashed
 * against the hub's sha256 (its LFS oid, X-Linked-Etag): the flipped byte is rewritten from the verified pass, and
 * when the verifying pass itself is corrupted the run stops with both hashes and no output, and the next run repairs
 * it. The shard is served from memory, so its ETag is the real sha256 of its bytes, as the hub's oid is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { matrixBytes, startHubServer, tinyTokenizerJson, writeSparseSafetensors, type HubServer } from '../helpers/hub-server.ts';

const ROWS = 256;
const DIM = 256;
let tmp: string;
let server: HubServer;
let toml: string;
let shard: Uint8Array;
let tensor: Uint8Array;
/** Absolute offset of the byte the fault flips: inside the embedding tensor, in its third 4 kB chunk. */
let flipAt: number;
/** Where the tensor's bytes start in the output file (its header length). */
let outData: (file: Uint8Array) => Uint8Array;
const prevEndpoint = process.env.HF_ENDPOINT;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hostile-corrupt-'));
  tensor = matrixBytes(ROWS, DIM, 'BF16', 11);
  const path = join(tmp, 'model.safetensors');
  writeSparseSafetensors(path, [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: tensor },
    { name: 'model.norm.weight', dtype: 'BF16', shape: [DIM], data: matrixBytes(1, DIM, 'BF16', 12) },
  ]);
  shard = new Uint8Array(readFileSync(path));
  const dataStart = 8 + Number(new DataView(shard.buffer).getBigUint64(0, true));
  flipAt = dataStart + 2 * 4096 + 777;
  outData = (file) => file.subarray(8 + Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true)));
  server = await startHubServer();
  server.addRepo({
    id: 'org/flaky',
    files: { 'model.safetensors': { data: shard }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(ROWS)) } },
  });
  process.env.HF_ENDPOINT = server.url;
  toml = join(tmp, 'flaky.toml');
  writeFileSync(toml, ['[model]', 'hf_model_id = "org/flaky"', `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<eos>"'].join('\n') + '\n');
});
afterAll(async () => {
  await server.close();
  if (prevEndpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = prevEndpoint;
  rmSync(tmp, { recursive: true, force: true });
});

const extractArgs = (out: string, ...more: string[]) => ['extract', '--config', toml, '--out-dir', out, '--dtype', 'bf16', '--chunk-size', '4096', ...more];

describe('one flipped byte inside a range', () => {
  it('without --verify it reaches the output (the documented limit)', async () => {
    const out = join(tmp, 'plain');
    server.faults.push({ kind: 'corrupt', times: 1, atByte: flipAt });
    const r = await runCli(extractArgs(out, '--quiet'));
    expect(r.code).toBe(0);
    const got = outData(new Uint8Array(readFileSync(join(out, 'flaky.safetensors'))));
    const wrong = [...got.keys()].filter((i) => got[i] !== tensor[i]);
    expect(wrong).toEqual([2 * 4096 + 777]);
  });

  it('--verify rewrites it from the hashed second pass: the output is bit-exact', async () => {
    const out = join(tmp, 'verified');
    server.faults.push({ kind: 'corrupt', times: 1, atByte: flipAt });
    const r = await runCli(extractArgs(out, '--verify'));
    expect(r.code).toBe(0);
    expect(server.faults.every((f) => f.times === 0)).toBe(true);
    expect(r.err).toContain(`verify: org/flaky/model.safetensors: 1 bytes of the first download differed from the verified file and were rewritten\n`);
    const got = outData(new Uint8Array(readFileSync(join(out, 'flaky.safetensors'))));
    expect(Buffer.from(got).equals(Buffer.from(tensor))).toBe(true);
  });

  it('a corrupted verifying pass stops with both hashes and no output; the next --verify run repairs it', async () => {
    const out = join(tmp, 'twice');
    server.faults.push({ kind: 'corrupt', times: 2, atByte: flipAt });
    const bad = Uint8Array.from(shard);
    bad[flipAt] = bad[flipAt]! ^ 0xff;
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const r = await runCli(extractArgs(out, '--verify', '--quiet'));
    expect(r.err).toBe(
      `error: org/flaky/model.safetensors: sha256 of the downloaded file is ${sha(bad)}, the hub's is ${sha(shard)}: bytes were corrupted on the way; nothing was written, run again (verified chunks are kept)\n`,
    );
    expect(r.code).toBe(1);
    expect(existsSync(join(out, 'flaky.safetensors'))).toBe(false);

    server.resetStats();
    const again = await runCli(extractArgs(out, '--verify', '--quiet'));
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    const got = outData(new Uint8Array(readFileSync(join(out, 'flaky.safetensors'))));
    expect(Buffer.from(got).equals(Buffer.from(tensor))).toBe(true);
  });
});
