import {
  closeSync,
  copyFileSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { encodeHeader } from '../../src/safetensors/header.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatIsCurrent, runConcat, verifySharedTokenizer } from '../../src/concat/concat.ts';
import { ConcatMatrix } from '../../src/concat/concat-matrix.ts';
import { openInputMatrix } from '../../src/concat/open-input.ts';
import { chooseScales } from '../../src/concat/stats.ts';
import { firstTokenizerDifference } from '../../src/concat/tokenizer-diff.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openSafetensorsMatrix } from '../../src/matrix/row-matrix.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { parseTokenizerJson } from '../../src/tokenize/tokenizer.ts';
import { stage } from '../../pipelines/concat.ts';

const LLAMA2 = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama2', 'models', 'tokenizer.json');
const LLAMA3 = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama3', 'models', 'tokenizer.json');
let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'concat-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Deterministic test matrix: value depends on (source, row, col). */
function matrix(rows: number, dim: number, seed: number): Float32Array {
  const a = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dim; c++) a[r * dim + c] = Math.sin(seed * 1000 + r * 7.1 + c * 1.3) * (seed + 1);
  return a;
}

interface Src {
  name: string;
  dim: number;
  rows: number;
  extra?: string;
}

/** A config with sources, their extracted files and tokenizers; returns the config and the raw matrices. */
async function setup(name: string, nVocab: number, sources: Src[], tokenizers: string[] = []) {
  const dir = join(root, name);
  const out = join(dir, 'weights', name);
  mkdirSync(out, { recursive: true });
  const toml = [
    `name = "${name}"`,
    '[model]',
    `n_vocab = ${nVocab}`,
    'pad_token = "<unk>"',
    ...sources.flatMap((s) => ['[[sources]]', `name = "${s.name}"`, `path = "src/${s.name}.safetensors"`, `dim = ${s.dim}`, ...(s.extra ? [s.extra] : [])]),
  ].join('\n');
  writeFileSync(join(dir, `${name}.toml`), toml);
  const data: Float32Array[] = [];
  for (const [i, s] of sources.entries()) {
    const m = matrix(s.rows, s.dim, i);
    data.push(m);
    await writeSafetensors(join(out, `${s.name}.safetensors`), [{ name: 'embedding', dtype: 'F32', shape: [s.rows, s.dim], data: m }], { format: 'pt' });
  }
  tokenizers.forEach((t, i) => copyFileSync(t, join(out, `${sources[i]!.name}.tokenizer.json`)));
  return { config: loadConfig(join(dir, `${name}.toml`)), out, data };
}

/** Naive reference: the whole concatenation in memory. */
function naive(data: Float32Array[], dims: number[], rows: number, scales: number[]): Float32Array {
  const dim = dims.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let off = 0;
    data.forEach((m, i) => {
      for (let c = 0; c < dims[i]!; c++) out[r * dim + off + c] = m[r * dims[i]! + c]! * scales[i]!;
      off += dims[i]!;
    });
  }
  return out;
}

async function readAll(m: { rows: number; dim: number; readRows: (s: number, c: number) => Promise<Float32Array> }, block: number) {
  const out = new Float32Array(m.rows * m.dim);
  for (let s = 0; s < m.rows; s += block) {
    const c = Math.min(block, m.rows - s);
    out.set((await m.readRows(s, c)).subarray(0, c * m.dim), s * m.dim);
  }
  return out;
}

describe('concat', () => {
  it('concatenates sources with a shared tokenizer; block reads equal the naive concatenation', async () => {
    const { config, out, data } = await setup(
      'same',
      50,
      [
        { name: 'a', dim: 3, rows: 50 },
        { name: 'b', dim: 5, rows: 50, extra: 'scale = 0.5' },
        { name: 'c', dim: 2, rows: 50 },
      ],
      [LLAMA2, LLAMA2, LLAMA2],
    );
    const res = await runConcat({ config, outDir: out, quiet: true, blockRows: 7 });
    const d = JSON.parse(readFileSync(join(out, 'concat.json'), 'utf8'));
    expect(d).toMatchObject({ rows: 50, dim: 10, tokenizer_fingerprint: res.descriptor.tokenizer_fingerprint });
    expect(d.sources.map((s: { file: string; dim: number; scale: number; scale_mode: string }) => [s.file, s.dim, s.scale, s.scale_mode])).toEqual([
      ['a.safetensors', 3, 1, 'none'],
      ['b.safetensors', 5, 0.5, 'fixed'],
      ['c.safetensors', 2, 1, 'none'],
    ]);
    // mean_row_norm is the exact mean of row norms.
    const norm = (m: Float32Array, dim: number) => {
      let s = 0;
      for (let r = 0; r < 50; r++) s += Math.hypot(...m.subarray(r * dim, r * dim + dim));
      return s / 50;
    };
    expect(d.sources[1].mean_row_norm).toBeCloseTo(norm(data[1]!, 5), 4);
    const m = await openInputMatrix(config, out);
    expect([m.rows, m.dim]).toEqual([50, 10]);
    const expected = naive(data, [3, 5, 2], 50, [1, 0.5, 1]);
    expect(await readAll(m, 7)).toEqual(expected);
    expect(await readAll(m, 50)).toEqual(expected);
    await m.close();
    expect(concatIsCurrent(config, out)).toBe(true);
  });

  it('scales mean_norm sources to equal mean row norms', async () => {
    const { config, out, data } = await setup('norm', 40, [
      { name: 'a', dim: 4, rows: 40, extra: 'scale_mode = "mean_norm"' },
      { name: 'b', dim: 6, rows: 40, extra: 'scale_mode = "mean_norm"' },
    ]);
    const res = await runConcat({ config, outDir: out, quiet: true });
    const [a, b] = res.descriptor.sources;
    expect(a!.mean_row_norm * a!.scale).toBeCloseTo(b!.mean_row_norm * b!.scale, 5);
    expect(a!.mean_row_norm * a!.scale).toBeCloseTo((a!.mean_row_norm + b!.mean_row_norm) / 2, 5);
    const m = await openInputMatrix(config, out);
    expect(await readAll(m, 9)).toEqual(naive(data, [4, 6], 40, [a!.scale, b!.scale]));
    await m.close();
    expect(chooseScales([undefined, 2, 'mean_norm'], [1, 2, 3])).toEqual([1, 2, 2 / 3]);
  });

  it('refuses different tokenizers and names the first difference', async () => {
    const changed = JSON.parse(readFileSync(LLAMA2, 'utf8'));
    const tokens = Object.entries(changed.model.vocab as Record<string, number>);
    const [tok500] = tokens.find(([, id]) => id === 500)!;
    delete changed.model.vocab[tok500];
    changed.model.vocab['▁zzzz_changed'] = 500;
    const changedPath = join(root, 'changed-tokenizer.json');
    writeFileSync(changedPath, JSON.stringify(changed));
    const { config, out } = await setup(
      'diff',
      20,
      [
        { name: 'a', dim: 2, rows: 20 },
        { name: 'b', dim: 2, rows: 20 },
      ],
      [LLAMA2, changedPath],
    );
    expect(() => verifySharedTokenizer(config, out)).toThrow(
      new RegExp(
        `tokenizers differ between .*a\\.tokenizer\\.json and .*b\\.tokenizer\\.json \\(token 500: ${JSON.stringify(tok500).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} vs "▁zzzz_changed"\\)`,
      ),
    );
    await expect(runConcat({ config, outDir: out, quiet: true })).rejects.toThrow(/token 500/);
    const l2 = parseTokenizerJson(readFileSync(LLAMA2, 'utf8'), 'l2');
    const l3 = parseTokenizerJson(readFileSync(LLAMA3, 'utf8'), 'l3');
    expect(firstTokenizerDifference(l2, l3)).toMatch(/^token 0: "<unk>" vs "!"$/);
    expect(firstTokenizerDifference(l2, parseTokenizerJson(readFileSync(LLAMA2, 'utf8'), 'x'))).toBeUndefined();
    const merges = parseTokenizerJson(readFileSync(LLAMA2, 'utf8'), 'm');
    (merges.model.merges as unknown[]).splice(3, 1);
    expect(firstTokenizerDifference(l2, merges)).toMatch(/^merge #4: /);
  });

  it('aligns padded sources to n_vocab only with drop_extra_rows', async () => {
    const bad = await setup('pad-bad', 30, [
      { name: 'a', dim: 2, rows: 30 },
      { name: 'b', dim: 3, rows: 33 },
    ]);
    await expect(runConcat({ config: bad.config, outDir: bad.out, quiet: true })).rejects.toThrow(
      /b\.safetensors: 33 rows but n_vocab is 30; set drop_extra_rows = true for "b"/,
    );
    const short = await setup('pad-short', 30, [
      { name: 'a', dim: 2, rows: 30 },
      { name: 'b', dim: 3, rows: 29 },
    ]);
    await expect(runConcat({ config: short.config, outDir: short.out, quiet: true })).rejects.toThrow(/b\.safetensors: 29 rows, fewer than n_vocab 30/);
    const ok = await setup('pad-ok', 30, [
      { name: 'a', dim: 2, rows: 30 },
      { name: 'b', dim: 3, rows: 33, extra: 'drop_extra_rows = true' },
    ]);
    const res = await runConcat({ config: ok.config, outDir: ok.out, quiet: true, blockRows: 8 });
    expect(res.descriptor.sources[1]).toMatchObject({ source_rows: 33, dim: 3 });
    const m = await openInputMatrix(ok.config, ok.out);
    expect(m.rows).toBe(30);
    expect(await readAll(m, 8)).toEqual(naive([ok.data[0]!, ok.data[1]!.subarray(0, 90)], [2, 3], 30, [1, 1]));
    await expect(m.readRows(28, 3)).rejects.toThrow(/outside 30 rows/);
    await m.close();
  });

  it('materializes one safetensors equal to the descriptor view, and refuses stale descriptors', async () => {
    const { config, out, data } = await setup('mat', 25, [
      { name: 'a', dim: 3, rows: 25 },
      { name: 'b', dim: 4, rows: 25, extra: 'scale = 2' },
    ]);
    const res = await runConcat({ config, outDir: out, quiet: true, materialize: true, dtype: 'F32', blockRows: 6 });
    const file = await openSafetensorsMatrix(res.materialized!, 'embedding');
    expect(await readAll(file, 25)).toEqual(naive(data, [3, 4], 25, [1, 2]));
    await file.close();
    // A re-extracted source makes the descriptor stale.
    utimesSync(join(out, 'a.safetensors'), new Date(), new Date(Date.now() + 5000));
    expect(concatIsCurrent(config, out)).toBe(false);
    await expect(openInputMatrix(config, out)).rejects.toThrow(/a\.safetensors changed after concat ran; run: pipeline concat --config mat/);
  });

  it('reads a supercat-sized concatenation (256000 × 10496: past 2^31 values) by row blocks from sparse sources', async () => {
    const rows = 256000;
    const dims = [2304, 3584, 4608];
    const dir = join(root, 'supercat');
    const out = join(dir, 'weights');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(dir, 'supercat.toml'),
      `name = "supercat"\n[model]\nn_vocab = ${rows}\npad_token = "<eos>"\n` +
        dims.map((d, i) => `[[sources]]\nname = "s${i}"\npath = "x${i}"\ndim = ${d}\n`).join(''),
    );
    const config = loadConfig(join(dir, 'supercat.toml'));
    // BF16 files (1.2 + 1.8 + 2.4 GB) that are holes except the first 2 and the last 3 rows.
    // Multiples of 1/4 below 8: exact in bf16.
    const edge = (i: number, r: number, c: number) => ((i + 1) * 4 + (r % 7) + (c % 5)) / 4;
    for (const [i, d] of dims.entries()) {
      const { bytes, dataLength } = encodeHeader([{ name: 'embedding', dtype: 'BF16', shape: [rows, d] }], { format: 'pt' });
      const path = join(out, `s${i}.safetensors`);
      const fd = openSync(path, 'w');
      writeSync(fd, bytes, 0, bytes.byteLength, 0);
      for (const r of [0, 1, rows - 3, rows - 2, rows - 1]) {
        const row = new Uint16Array(d);
        const f = new Float32Array(1);
        const u = new Uint32Array(f.buffer);
        for (let c = 0; c < d; c++) {
          f[0] = edge(i, r, c);
          row[c] = u[0]! >>> 16;
        }
        writeSync(fd, new Uint8Array(row.buffer), 0, d * 2, bytes.byteLength + r * d * 2);
      }
      ftruncateSync(fd, bytes.byteLength + dataLength);
      closeSync(fd);
    }
    // The descriptor as concat writes it (without its full norm pass over 5.4 GB of holes).
    const sources = dims.map((d, i) => {
      const st = statSync(join(out, `s${i}.safetensors`));
      return {
        file: `s${i}.safetensors`,
        tensor: 'embedding',
        dim: d,
        scale: i === 1 ? 0.5 : 1,
        mean_row_norm: 1,
        scale_mode: i === 1 ? 'fixed' : 'none',
        source_rows: rows,
        bytes: st.size,
        mtime_ms: st.mtimeMs,
      };
    });
    writeFileSync(
      join(out, 'concat.json'),
      JSON.stringify({ format: 'wordllama-ts/concat', version: 1, config: 'supercat', rows, dim: 10496, sources, tokenizer_fingerprint: null }),
    );
    const m = await openInputMatrix(config, out);
    expect([m.rows, m.dim]).toEqual([rows, 10496]);
    expect(m.rows * m.dim).toBeGreaterThan(2 ** 31);
    const expectRows = (block: Float32Array, start: number, count: number) => {
      for (let r = 0; r < count; r++) {
        let off = 0;
        dims.forEach((d, i) => {
          for (const c of [0, 1, d - 1]) {
            const row = start + r;
            const stored = row < 2 || row >= rows - 3 ? edge(i, row, c) : 0;
            expect(block[r * 10496 + off + c]).toBe(stored * (i === 1 ? 0.5 : 1));
          }
          off += d;
        });
      }
    };
    expectRows(await m.readRows(rows - 5, 5), rows - 5, 5);
    expectRows(await m.readRows(0, 3), 0, 3);
    expectRows(await m.readRows(131072, 2), 131072, 2);
    await m.close();
  });

  it('ConcatMatrix fills a reused output buffer', async () => {
    const mk = (dim: number, v: number) => ({
      rows: 4,
      dim,
      label: `m${v}`,
      readRows: async (s: number, c: number, o?: Float32Array) => {
        const a = o ?? new Float32Array(c * dim);
        for (let i = 0; i < c * dim; i++) a[i] = v * 100 + s * dim + i;
        return a;
      },
      close: async () => {},
    });
    const cm = new ConcatMatrix(
      [
        { matrix: mk(1, 1), scale: 1 },
        { matrix: mk(2, 2), scale: -1 },
      ],
      4,
      'cm',
    );
    const buf = new Float32Array(100);
    const got = await cm.readRows(1, 2, buf);
    expect(got).toBe(buf);
    expect(Array.from(buf.subarray(0, 6))).toEqual([101, -202, -203, 102, -204, -205]);
  });

  it('runs as a CLI stage and refuses single-source configs', async () => {
    const { config, out } = await setup('cli', 10, [
      { name: 'a', dim: 2, rows: 10 },
      { name: 'b', dim: 2, rows: 10 },
    ]);
    expect(await stage.run(['--config', config.file, '--out-dir', out, '--quiet'])).toBe(0);
    expect(concatIsCurrent(config, out)).toBe(true);
    const dir = join(root, 'single');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 's.toml'), '[model]\nn_vocab = 10\npad_token = "<unk>"\npath = "x.safetensors"\ndim = 2\n');
    await expect(stage.run(['--config', join(dir, 's.toml'), '--out-dir', dir, '--quiet'])).rejects.toThrow(/has a single source: nothing to concatenate/);
    await expect(stage.run(['--out-dir', dir])).rejects.toThrow(/--config NAME is required/);
  });
});
