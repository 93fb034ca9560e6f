/**
 * What a `kill -9` of `pipeline extract` costs: extract from the loopback hub server (each range request delayed, so
 * the download is slow enough to kill mid-way), SIGKILL the process once the server has sent `--kill-at` of the
 * tensor, re-run the same command, and count body bytes on the server side:
 *
 *   - sent before the kill, and in the re-run
 *   - resumed: what the re-run found verified in <file>.partial (extract.json bytes_resumed)
 *   - redone: tensor bytes sent before the kill that the re-run fetched again (the chunks in flight, and those
 *     received but not yet recorded: the record is flushed at most every 500 ms)
 *
 * Usage: nice npx tsx scripts/bench-crash.ts [--rows 32000] [--dim 512] [--chunk-size 8M] [--concurrency 4]
 *        [--delay-ms 150] [--kill-at 0.5] [--reps 3]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { matrixBytes, startHubServer, tinyTokenizerJson, writeSparseSafetensors } from '../test/helpers/hub-server.ts';

/** Every option is a string with a default (chunk size and concurrency are passed on to extract as they are). */
const DEFAULTS = { rows: '32000', dim: '512', 'chunk-size': '8M', concurrency: '4', 'delay-ms': '150', 'kill-at': '0.5', reps: '3' };
const { values: given } = parseArgs({ options: Object.fromEntries(Object.keys(DEFAULTS).map((name) => [name, { type: 'string' as const }])) });
const values = { ...DEFAULTS, ...given } as typeof DEFAULTS;
const ROWS = Number(values.rows);
const DIM = Number(values.dim);
const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'pipeline.js');
const MB = 1e6;
const tmp = mkdtempSync(join(tmpdir(), 'bench-crash-'));

const server = await startHubServer({ redirect: true });
try {
  const shard = join(tmp, 'model.safetensors');
  const tensorBytes = ROWS * DIM * 2;
  writeSparseSafetensors(shard, [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [ROWS, DIM], data: matrixBytes(ROWS, DIM, 'BF16', 1) }]);
  server.addRepo({
    id: 'bench/crash',
    files: { 'model.safetensors': { disk: shard }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(Math.min(ROWS, 5000))) } },
  });
  const toml = join(tmp, 'crash.toml');
  writeFileSync(toml, ['[model]', 'hf_model_id = "bench/crash"', `dim = ${DIM}`, `n_vocab = ${ROWS}`, 'pad_token = "<eos>"'].join('\n') + '\n');
  const env = { ...process.env, HF_ENDPOINT: server.url };

  const runs: { before: number; after: number; resumed: number; redone: number }[] = [];
  for (let rep = 0; rep < Number(values.reps); rep++) {
    const out = join(tmp, `out-${rep}`);
    const args = [
      BIN,
      'extract',
      '--config',
      toml,
      '--out-dir',
      out,
      '--dtype',
      'bf16',
      '--chunk-size',
      values['chunk-size'],
      '--concurrency',
      values.concurrency,
      '--quiet',
    ];
    server.resetStats();
    server.delayMs = Number(values['delay-ms']);
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const killAt = Number(values['kill-at']) * tensorBytes;
    await new Promise<void>((done) => {
      const poll = setInterval(() => {
        if (server.bytesSent >= killAt) {
          child.kill('SIGKILL');
          clearInterval(poll);
          done();
        }
      }, 2);
    });
    await exited;
    const before = server.bytesSent;
    server.resetStats();
    server.delayMs = 0;
    const second = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const code = await new Promise<number | null>((r) => second.on('exit', (c) => r(c)));
    if (code !== 0) throw new Error(`re-run exited ${code}`);
    const after = server.bytesSent;
    const facts = JSON.parse(readFileSync(join(out, 'extract.json'), 'utf8')) as { sources: { bytes_resumed: number }[] };
    const resumed = facts.sources[0]!.bytes_resumed;
    // Bytes of the tensor sent twice: everything sent in both runs beyond one copy of the tensor (plus the small
    // files and the shard header, sent again by the re-run by design).
    const overhead = after - (tensorBytes - resumed);
    runs.push({ before, after, resumed, redone: before - resumed - overhead });
    rmSync(out, { recursive: true, force: true });
  }
  const fmt = (n: number) => (n / MB).toFixed(1);
  console.log(`# kill -9 of extract mid-download and re-run`);
  console.log(
    `tensor ${ROWS} x ${DIM} BF16 = ${fmt(tensorBytes)} MB; chunk ${values['chunk-size']}, concurrency ${values.concurrency}, +${values['delay-ms']} ms per range request, killed at ${values['kill-at']} of the tensor sent`,
  );
  console.log(
    `load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log('| run | sent before kill (MB) | resumed (MB) | sent by re-run (MB) | re-downloaded (MB) |');
  console.log('|---|---|---|---|---|');
  runs.forEach((r, i) => console.log(`| ${i + 1} | ${fmt(r.before)} | ${fmt(r.resumed)} | ${fmt(r.after)} | ${fmt(r.redone)} |`));
} finally {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}
