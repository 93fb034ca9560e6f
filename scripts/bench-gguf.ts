/**
 * Benchmark of GGUF extraction:
 *
 *   - dequantization throughput per stored type: stored bytes → output f16 through the converter extract uses
 *     (ggml block decoding to float32, then round-to-nearest-even), in rows/s and stored MB/s, on 8 MB chunks of
 *     pseudo-random blocks (the decoders do the same work whatever the values);
 *   - the remote bytes ratio: `extract` of a GGUF file from the loopback hub server (redirect mode, as the real
 *     hub), bytes the server sent / (token matrix bytes + header bytes), and the header's share.
 *
 * Usage: nice npx tsx scripts/bench-gguf.ts [--dim 2048] [--vocab 32000] [--seconds 2]
 * Prints Markdown tables on stdout (with the load average), progress on stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/load.ts';
import { extract } from '../src/sources/extract.ts';
import { GGML_TYPE, SUPPORTED_TYPES, blockLayout, type GgmlTypeName } from '../src/sources/gguf/dequantize.ts';
import { GGUF_VALUE_TYPE, readGgufHeader } from '../src/sources/gguf/header.ts';
import { ggufChunkConverter, ggufMatrix } from '../src/sources/gguf/source-matrix.ts';
import { testGguf } from '../test/helpers/gguf-models.ts';
import { memorySource, writeGguf } from '../test/helpers/gguf-writer.ts';
import { randomF32, startHubServer, tinyTokenizerJson } from '../test/helpers/hub-server.ts';

const { values } = parseArgs({
  options: {
    dim: { type: 'string', default: '2048' },
    vocab: { type: 'string', default: '32000' },
    seconds: { type: 'string', default: '2' },
  },
});
const DIM = Number(values.dim);
const VOCAB = Number(values.vocab);
const SECONDS = Number(values.seconds);
const CHUNK = 8 * 1024 * 1024;
const where = { configFile: 'bench.toml', table: '[model]', vocabTable: '[model]' };
const source = (rows: number) => ({ name: 'bench', revision: 'main', dim: DIM, n_vocab: rows, drop_extra_rows: false });

/** Pseudo-random stored bytes, except f16 scales kept finite and small (random bits would often be Inf/NaN). */
function randomBlocks(type: GgmlTypeName, rows: number): Uint8Array {
  const layout = blockLayout(GGML_TYPE[type], 'bench');
  const bytes = new Uint8Array((rows * DIM * layout.bytes) / layout.values);
  const f = randomF32(bytes.byteLength / 4, 5);
  bytes.set(new Uint8Array(f.buffer));
  if (type === 'F32') return new Uint8Array(randomF32(rows * DIM, 5).buffer);
  // F16/BF16 and the f16 scales of every block: bytes 0x2f/0x3c keep values in [2^-4, 2).
  if (type === 'F16' || type === 'BF16') {
    for (let i = 1; i < bytes.byteLength; i += 2) bytes[i] = type === 'F16' ? 0x3c : 0x3f;
  } else {
    for (let o = 0; o < bytes.byteLength; o += layout.bytes) for (let k = 1; k < Math.min(layout.bytes, 4); k += 2) bytes[o + k] = 0x2f;
  }
  return bytes;
}

async function throughput(type: GgmlTypeName) {
  const layout = blockLayout(GGML_TYPE[type], 'bench');
  const rowBytes = (DIM / layout.values) * layout.bytes;
  const rows = Math.max(1, Math.floor(CHUNK / rowBytes));
  const data = randomBlocks(type, rows);
  // The real path: a GGUF header parsed, the matrix checked, the converter extract uses.
  const file = writeGguf(
    [{ key: 'general.architecture', type: GGUF_VALUE_TYPE.STRING, value: 'llama' }],
    [{ name: 'token_embd.weight', dims: [DIM, rows], type: GGML_TYPE[type], data }],
  );
  const header = await readGgufHeader(memorySource(file));
  const m = ggufMatrix(header, 'bench.gguf', source(rows), where);
  const convert = ggufChunkConverter(m, 'F16', 'bench');
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    // The downloader hands the converter its pooled buffer; BF16 → F16 converts in place, so copy first.
    convert(data.slice());
    done++;
  }
  const s = (performance.now() - t0) / 1000;
  return { type, rowsPerSecond: (done * rows) / s, mbPerSecond: (done * data.byteLength) / s / 1e6, outMbPerSecond: (done * rows * DIM * 2) / s / 1e6 };
}

async function remoteRatio(type: 'Q8_0' | 'Q4_K') {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-gguf-'));
  const server = await startHubServer({ redirect: true });
  try {
    // A token matrix between 32 MB of other tensors, and 64k merge strings in the metadata (as real files carry).
    const merges = {
      key: 'tokenizer.ggml.merges',
      type: GGUF_VALUE_TYPE.ARRAY,
      itemType: GGUF_VALUE_TYPE.STRING,
      value: Array.from({ length: 65536 }, (_, i) => `tok ${i}`),
    };
    const bytes = testGguf({ type, vocab: VOCAB, dim: DIM, fillerRows: Math.floor((32 << 20) / (DIM * 4)), extraMeta: [merges] });
    const header = await readGgufHeader(memorySource(bytes));
    const embd = header.tensors.find((t) => t.name === 'token_embd.weight')!;
    server.addRepo({
      id: 'bench/m-GGUF',
      files: { 'm.gguf': { data: bytes }, 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(VOCAB)) } },
    });
    const config = parseConfig(
      { model: { hf_model_id: 'bench/m-GGUF', gguf_file: 'm.gguf', dim: DIM, n_vocab: VOCAB, pad_token: '<pad>' } },
      join(tmp, 'bench.toml'),
    );
    server.resetStats();
    const t0 = performance.now();
    await extract({ config, outDir: join(tmp, 'out'), quiet: true, env: { HF_ENDPOINT: server.url } });
    const seconds = (performance.now() - t0) / 1000;
    const gguf = server.requests.filter((r) => r.file === 'm.gguf' && r.status === 206);
    const headerBytes = gguf.filter((r) => r.end! < embd.fileOffset).reduce((a, r) => a + r.end! - r.start! + 1, 0);
    const tensorBytes = embd.byteLength!;
    const ggufSent = gguf.reduce((a, r) => a + r.end! - r.start! + 1, 0);
    return {
      type,
      fileBytes: bytes.byteLength,
      dataOffset: header.dataOffset,
      headerBytes,
      tensorBytes,
      ggufSent,
      ratio: ggufSent / (tensorBytes + headerBytes),
      seconds,
    };
  } finally {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

const load = loadavg().map((x) => x.toFixed(2));
process.stderr.write(`bench-gguf: dim ${DIM}, ${SECONDS} s per type, load ${load.join(' ')}\n`);
const rows = [];
for (const type of SUPPORTED_TYPES) {
  const r = await throughput(type);
  process.stderr.write(`${type}: ${r.mbPerSecond.toFixed(0)} MB/s stored\n`);
  rows.push(r);
}
const remote = [await remoteRatio('Q8_0'), await remoteRatio('Q4_K')];
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
const out = [
  `Machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, Node ${process.version}; load average at start ${load.join(', ')} (end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(', ')}).`,
  '',
  `Dequantization to f16, one thread, rows of ${DIM} values, 8 MB chunks:`,
  '',
  '| type | rows/s | stored MB/s | f16 out MB/s |',
  '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.type} | ${fmt(r.rowsPerSecond)} | ${r.mbPerSecond.toFixed(0)} | ${r.outMbPerSecond.toFixed(0)} |`),
  '',
  `Remote extract from the loopback hub (redirects to a CDN port), ${VOCAB} × ${DIM} token matrix after 32 MB of other tensors:`,
  '',
  '| type | file | header (data offset) | header bytes read | matrix bytes | GGUF bytes sent | sent / (matrix + header read) | seconds |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...remote.map(
    (r) =>
      `| ${r.type} | ${(r.fileBytes / 1e6).toFixed(1)} MB | ${r.dataOffset} | ${r.headerBytes} | ${r.tensorBytes} | ${r.ggufSent} | ${r.ratio.toFixed(4)} | ${r.seconds.toFixed(1)} |`,
  ),
];
process.stdout.write(out.join('\n') + '\n');
