/**
 * Non-finite values. A model whose rows hold NaN/±Inf is refused at load, in every format `load` reads, with one
 * line naming the file, the tensor and the count; JSON outputs never carry NaN/Infinity (values refuse, measurements
 * write null); a .npy with non-finite rows is never written; an extracted source matrix with NaN rows leaves no
 * output. Layouts are those of test/helpers/hub-model-repos.ts (model2vec's `StaticModel.save_pretrained`,
 * sentence-transformers' `StaticEmbedding.save`, WordLlama's `<config>_<dim>.safetensors`, ours).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeModel } from '../helpers/embed-model.ts';
import { modelRepoFiles, writeRepoFiles, type RepoFormat } from '../helpers/hub-model-repos.ts';
import { tinyTokenizerJson } from '../helpers/hub-server.ts';
import { memoryMatrix } from '../helpers/memory-matrix.ts';
import { parseSafetensorsBuffer } from '../../src/safetensors/bytes.ts';
import { writeSafetensors } from '../../src/safetensors/writer.ts';
import { writeJsonAtomic } from '../../src/util/atomic.ts';
import { findNonFinite, measurementsJson, valuesJson, valuesRowJson } from '../../src/util/json-safe.ts';
import { NonFiniteRows } from '../../src/util/non-finite.ts';
import { writeMatrixFromBytes, writeMatrixFromRows } from '../../src/sources/write-matrix.ts';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hostile-nonfinite-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Overwrite value `col` of each listed row of every 2-D float tensor in a safetensors file with `value`. */
function poisonRows(file: string, rows: number[], value: number, col = 1): void {
  const bytes = new Uint8Array(readFileSync(file));
  const st = parseSafetensorsBuffer(bytes, file);
  for (const [name, t] of st.header.tensors) {
    if (t.shape.length !== 2) continue;
    const view = new DataView(bytes.buffer, bytes.byteOffset + st.header.dataStart + t.begin);
    const dim = t.shape[1]!;
    for (const r of rows) {
      if (t.dtype === 'F32') view.setFloat32((r * dim + col) * 4, value, true);
      else if (t.dtype === 'F16') view.setUint16((r * dim + col) * 2, Number.isNaN(value) ? 0x7e00 : value > 0 ? 0x7c00 : 0xfc00, true);
      else throw new Error(`${name}: poisonRows handles F32/F16 only`);
    }
  }
  writeFileSync(file, bytes);
}

/** Every model file of each layout (relative to the repo folder): all are poisoned, whichever `load` picks. */
const MODEL_FILE: Record<RepoFormat, string[]> = {
  ours: ['tiny_16.safetensors', 'tiny_32.safetensors', 'tiny_64.safetensors'],
  wordllama: ['tiny_32.safetensors', 'tiny_64.safetensors'],
  model2vec: ['model.safetensors'],
  'sentence-transformers': ['0_StaticEmbedding/model.safetensors'],
};

describe('a model with NaN/±Inf rows is refused at load, in every format', () => {
  const cases: [RepoFormat, string, string][] = [
    ['ours', 'tiny_64.safetensors', 'embedding.weight'],
    ['wordllama', 'tiny_64.safetensors', 'embedding.weight'],
    ['model2vec', 'model.safetensors', 'embeddings'],
    ['sentence-transformers', join('0_StaticEmbedding', 'model.safetensors'), 'embedding.weight'],
  ];
  for (const [format, picked, tensor] of cases) {
    it(`${format}: embed --json exits 2 with one line naming the file, tensor, count and first row`, async () => {
      const dir = writeRepoFiles(join(work, `refuse-${format}`), modelRepoFiles(format).files);
      for (const f of MODEL_FILE[format]) poisonRows(join(dir, f), [5, 9, 30], NaN);
      poisonRows(join(dir, picked), [12], Infinity, 0);
      const r = await runCli(['embed', '--model', dir, '--text', 'w5 w6', '--json']);
      expect(r.out).toBe('');
      expect(r.code).toBe(2);
      const file = join(dir, picked);
      expect(r.err).toBe(
        `error: ${file}: tensor "${tensor}": 4 of 40 rows hold NaN or ±Inf (first: row 5); the model is corrupt (a failed conversion or a diverged training): rebuild it, e.g. pipeline save from a good checkpoint\n`,
      );
    });
  }

  it('ours in f16 (held as f16 bits) and with --dim: the same refusal', async () => {
    const tokFile = join(work, 'tiny-tokenizer.json');
    writeFileSync(tokFile, tinyTokenizerJson(40));
    const g = await makeModel({ tokenizer: tokFile, nVocab: 40, dim: 8, name: 'half', dir: join(work, 'f16') });
    poisonRows(g.file, [39], -Infinity, 7);
    for (const extra of [[], ['--dim', '4']]) {
      const r = await runCli(['embed', '--model', g.dir, '--text', 'w3', ...extra]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        new RegExp(`^error: ${g.file.replace(/[.]/g, '\\.')}: tensor "embedding\\.weight": 1 of 40 rows hold NaN or ±Inf \\(first: row 39\\);[^\\n]*\\n$`),
      );
    }
  });

  it('vocabulary-quantized model2vec: a NaN token scale ("weights") is refused', async () => {
    const dir = join(work, 'm2v-quantized');
    mkdirSync(dir, { recursive: true });
    const rows = 6;
    const embeddings = new Int8Array(rows * 4).map((_, i) => (i % 7) - 3);
    const mapping = new Int32Array(40).map((_, i) => i % rows);
    const weights = new Float32Array(40).fill(0.5);
    weights[17] = NaN;
    await writeSafetensors(join(dir, 'model.safetensors'), [
      { name: 'embeddings', dtype: 'I8', shape: [rows, 4], data: new Uint8Array(embeddings.buffer) },
      { name: 'mapping', dtype: 'I32', shape: [40], data: new Uint8Array(mapping.buffer) },
      { name: 'weights', dtype: 'F32', shape: [40], data: new Uint8Array(weights.buffer) },
    ]);
    writeFileSync(join(dir, 'tokenizer.json'), tinyTokenizerJson(40));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'model2vec', normalize: true }));
    const r = await runCli(['similarity', '--model', dir, 'w3', 'w17', '--json']);
    expect(r.out).toBe('');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `error: ${join(dir, 'model.safetensors')}: tensor "weights": 1 of 40 token scales are NaN or ±Inf (first: token 17); the model is corrupt: rebuild it\n`,
    );
  });
});

/**
 * A finite model whose pooled values overflow float32: model2vec rows of 1e30 scaled by 1e30 (a mean of 1e60).
 * No load check can see this; the writers must.
 */
async function overflowingModel(normalize: boolean): Promise<string> {
  const dir = join(work, `overflow-${normalize}`);
  mkdirSync(dir, { recursive: true });
  const embeddings = new Float32Array(40 * 4).fill(1e30);
  const weights = new Float32Array(40).fill(1);
  weights[7] = 1e30;
  await writeSafetensors(join(dir, 'model.safetensors'), [
    { name: 'embeddings', dtype: 'F32', shape: [40, 4], data: new Uint8Array(embeddings.buffer) },
    { name: 'weights', dtype: 'F32', shape: [40], data: new Uint8Array(weights.buffer) },
  ]);
  writeFileSync(join(dir, 'tokenizer.json'), tinyTokenizerJson(40));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'model2vec', normalize }));
  return dir;
}

describe('outputs never carry NaN/Infinity', () => {
  it('embed --json refuses a row that overflowed, naming the row and value, before writing its batch', async () => {
    const dir = await overflowingModel(false);
    const ok = await runCli(['embed', '--model', dir, '--text', 'w3 w4', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual({ dim: 4, embeddings: [[1e30, 1e30, 1e30, 1e30].map(Math.fround)] });
    const r = await runCli(['embed', '--model', dir, '--text', 'w3', '--text', 'w7', '--json']);
    expect(r.out).toBe('');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'error: embed --json: embeddings[1][0] is Infinity, which JSON cannot represent (a broken model or an overflow); the output stops here\n',
    );
  });

  it('embed --output .npy refuses non-finite rows and leaves no file or temp', async () => {
    const dir = await overflowingModel(true);
    const outDir = join(work, 'npy-out');
    const out = join(outDir, 'vectors.npy');
    const r = await runCli(['embed', '--model', dir, '--text', 'w3', '--text', 'w4', '--text', 'w7', '--output', out, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: embed --output ${out}: row 2 holds NaN or ±Inf; no file written\n`);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('similarity --json refuses a NaN similarity', async () => {
    const dir = await overflowingModel(true);
    const r = await runCli(['similarity', '--model', dir, 'w3', 'w7', '--json']);
    expect(r.out).toBe('');
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: similarity --json: similarity is NaN, which JSON cannot represent (a broken model or an overflow); the output stops here\n');
  });

  it('the serializer: values refuse with the path, measurements write null', async () => {
    expect(findNonFinite({ a: 1, b: [0, { c: Float32Array.of(1, NaN) }] })).toEqual({ path: 'b[1].c[1]', value: NaN });
    expect(findNonFinite([1, 2, { x: 'NaN' }])).toBeUndefined();
    expect(findNonFinite(-Infinity)).toEqual({ path: '(value)', value: -Infinity });
    expect(() =>
      valuesJson(
        {
          rows: [
            [1, 2],
            [3, -Infinity],
          ],
        },
        'out',
      ),
    ).toThrow('out: rows[1][1] is -Infinity, which JSON cannot represent (a broken model or an overflow); the output stops here');
    expect(valuesJson({ x: [1.5, -2] }, 'out', 1)).toBe('{\n "x": [\n  1.5,\n  -2\n ]\n}');
    expect(valuesRowJson(Float32Array.of(0.5, -1, 3), 'out', 'e[0]')).toBe('[0.5,-1,3]');
    expect(() => valuesRowJson([0, NaN], 'out', 'e[4]')).toThrow('out: e[4][1] is NaN');
    expect(measurementsJson({ spearman: NaN, scores: [0.5, Infinity, -Infinity], n: 3 })).toBe('{"spearman":null,"scores":[0.5,null,null],"n":3}');
    const file = join(work, 'results.json');
    await writeJsonAtomic(file, { results: [{ score: NaN }] });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ results: [{ score: null }] });
  });
});

describe('non-finite rows are counted by bit pattern in every float dtype', () => {
  it('F64, F32, F16 and BF16 rows; finite extremes and subnormals pass', () => {
    const dim = 3;
    // rows: finite, NaN, finite extreme, +Inf, subnormal, -Inf
    const f64 = Float64Array.of(1, 2, 3, 0, NaN, 0, 1.7e308, -1.7e308, 0, 0, Infinity, 0, 5e-324, 0, 0, 0, 0, -Infinity);
    const check = (bytes: Uint8Array, dtype: 'F64' | 'F32' | 'F16' | 'BF16') => {
      const found = new NonFiniteRows(dim);
      found.addBytes(bytes, dtype, 10);
      return [found.count, found.first];
    };
    expect(check(new Uint8Array(f64.buffer), 'F64')).toEqual([3, 11]);
    const f32 = Float32Array.of(1, 2, 3, 0, NaN, 0, 3.4e38, -3.4e38, 0, 0, Infinity, 0, 1e-45, 0, 0, 0, 0, -Infinity);
    expect(check(new Uint8Array(f32.buffer), 'F32')).toEqual([3, 11]);
    // F16: 0x7bff is the largest finite, 0x0001 the smallest subnormal, 0x7e00 NaN, 0x7c00/0xfc00 ±Inf.
    const f16 = Uint16Array.of(0x3c00, 0, 0, 0, 0x7e00, 0, 0x7bff, 0xfbff, 0, 0, 0x7c00, 0, 0x0001, 0, 0, 0, 0, 0xfc00);
    expect(check(new Uint8Array(f16.buffer), 'F16')).toEqual([3, 11]);
    const bf16 = Uint16Array.of(0x3f80, 0, 0, 0, 0x7fc0, 0, 0x7f7f, 0xff7f, 0, 0, 0x7f80, 0, 0x0001, 0, 0, 0, 0, 0xff80);
    expect(check(new Uint8Array(bf16.buffer), 'BF16')).toEqual([3, 11]);
    // Unaligned input is copied, not misread.
    const shifted = new Uint8Array(f32.byteLength + 1);
    shifted.set(new Uint8Array(f32.buffer), 1);
    expect(check(shifted.subarray(1), 'F32')).toEqual([3, 11]);
  });
});

describe('extract: a source matrix with NaN rows leaves no output', () => {
  const meta = { format: 'pt', repo: 'test/x', revision: 'r', tensor: 't', source_dtype: 'F32', shape: '[6,4]', source_kind: 'local' };

  it('from rows (TF.js, concat): fails with the first row and the count after the whole stream', async () => {
    const dir = join(work, 'extract-rows');
    const data = Float32Array.from({ length: 6 * 4 }, (_, i) => i / 10);
    data[2 * 4 + 3] = NaN;
    data[5 * 4] = Infinity;
    const path = join(dir, 'src.safetensors');
    await expect(writeMatrixFromRows(memoryMatrix(data, 6, 4), path, 6, 'F16', meta)).rejects.toThrow(
      `${path}: the source matrix is broken: 2 of 6 rows hold NaN or ±Inf (first: row 2); nothing was written (use another revision or source)`,
    );
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });

  it('from bytes (local safetensors), in BF16 and F64, and a finite F32 → F16 overflow is not a non-finite row', async () => {
    const dir = join(work, 'extract-bytes');
    const path = join(dir, 'src.safetensors');
    const bf16 = new Uint16Array(6 * 4).fill(0x3f80);
    bf16[4 * 4 + 1] = 0xff80;
    const reader = (bytes: Uint8Array) => async (start: number, length: number) => bytes.subarray(start, start + length);
    await expect(writeMatrixFromBytes(reader(new Uint8Array(bf16.buffer)), 'BF16', 4, path, 6, 'F16', meta)).rejects.toThrow(
      `${path}: the source matrix is broken: 1 of 6 rows hold NaN or ±Inf (first: row 4)`,
    );
    const f64 = new Float64Array(6 * 4).fill(0.25);
    f64[0] = NaN;
    f64[23] = NaN;
    await expect(writeMatrixFromBytes(reader(new Uint8Array(f64.buffer)), 'F64', 4, path, 6, 'F32', meta)).rejects.toThrow(
      `${path}: the source matrix is broken: 2 of 6 rows hold NaN or ±Inf (first: row 0)`,
    );
    expect(readdirSync(dir)).toEqual([]);
    const big = new Float32Array(6 * 4).fill(1e6); // finite, but beyond float16: counted as overflows, not refused
    const res = await writeMatrixFromBytes(reader(new Uint8Array(big.buffer)), 'F32', 4, path, 6, 'F16', meta);
    expect(res.overflows).toBe(24);
    expect(readdirSync(dir)).toEqual(['src.safetensors']);
  });
});
