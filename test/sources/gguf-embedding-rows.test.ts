import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingTensor, readEmbeddingRows, type RowBlock } from '../../src/sources/gguf/embedding-rows.js';
import { openFileSource } from '../../src/sources/gguf/file-source.js';
import { GGUF_VALUE_TYPE as T, readGgufHeader, type ByteSource } from '../../src/sources/gguf/header.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/safetensors/dtype.js';
import { UserError } from '../../src/util/errors.js';
import { writeGguf, type TensorEntry } from '../helpers/gguf-writer.js';

// token_embd.weight is ggml [ne0 = dim, ne1 = vocab] as llama.cpp's convert_hf_to_gguf.py writes it
// (the HF [vocab, dim] matrix unchanged, dims reversed); blocks follow ggml-common.h block_q8_0 / block_q4_0.

const GGML = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, IQ2_XXS: 16 } as const;
const DIM = 64;
const VOCAB = 5;

/** Exact expected value of token r, column c for each stored type. */
const expected = {
  F32: (r: number, c: number) => r * 100 + c * 0.125 - 3,
  F16: (r: number, c: number) => (r * DIM + c) / 4 - 8,
  Q8_0: (r: number, c: number) => (((r * DIM + c) % 21) - 10) * 0.5,
  Q4_0: (r: number, c: number) => {
    const j = c % 32;
    const q = j < 16 ? (r + j) % 16 : (r * 3 + j - 16) % 16;
    return (q - 8) * 2;
  },
} as const;
type StoredType = keyof typeof expected;

function storedRows(type: StoredType): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number): void => void out.push(v & 0xff, v >> 8);
  for (let r = 0; r < VOCAB; r++) {
    if (type === 'F32') {
      const row = Float32Array.from({ length: DIM }, (_, c) => expected.F32(r, c));
      out.push(...new Uint8Array(row.buffer));
    } else if (type === 'F16') {
      for (let c = 0; c < DIM; c++) u16(f32ToF16Bits(expected.F16(r, c)));
    } else if (type === 'Q8_0') {
      for (let b = 0; b < DIM / 32; b++) {
        u16(0x3800); // d = 0.5
        for (let j = 0; j < 32; j++) out.push((((r * DIM + b * 32 + j) % 21) - 10) & 0xff);
      }
    } else {
      for (let b = 0; b < DIM / 32; b++) {
        u16(0x4000); // d = 2
        for (let j = 0; j < 16; j++) out.push(((r + j) % 16) | (((r * 3 + j) % 16) << 4));
      }
    }
  }
  return Uint8Array.from(out);
}

const typeId: Record<StoredType, number> = { F32: GGML.F32, F16: GGML.F16, Q8_0: GGML.Q8_0, Q4_0: GGML.Q4_0 };

function model(type: StoredType, extra: TensorEntry[] = []): Uint8Array {
  const embd: TensorEntry = { name: 'token_embd.weight', dims: [DIM, VOCAB], type: typeId[type], data: storedRows(type) };
  const norm: TensorEntry = { name: 'output_norm.weight', dims: [DIM], type: GGML.F32, data: new Uint8Array(DIM * 4).fill(1) };
  const after: TensorEntry = { name: 'blk.0.ffn_up.weight', dims: [DIM, 3], type: GGML.F32, data: new Uint8Array(DIM * 12).fill(0xff) };
  return writeGguf([{ key: 'general.architecture', type: T.STRING, value: 'llama' }], [norm, embd, after, ...extra]);
}

/** Counts bytes read after the header, so a test can check only the tensor's rows were read. */
function counting(source: ByteSource): ByteSource & { bytes: number } {
  const counted = {
    name: source.name,
    size: source.size,
    bytes: 0,
    read(o: number, n: number) {
      counted.bytes += n;
      return source.read(o, n);
    },
  };
  return counted;
}

async function collect(blocks: AsyncIterable<RowBlock>): Promise<{ values: number[]; firstRows: number[] }> {
  const values: number[] = [];
  const firstRows: number[] = [];
  for await (const b of blocks) {
    firstRows.push(b.firstRow);
    values.push(...Array.from(b.data));
  }
  return { values, firstRows };
}

const expectedRows = (type: StoredType, start = 0, end = VOCAB): number[] =>
  Array.from({ length: (end - start) * DIM }, (_, i) => expected[type](start + Math.floor(i / DIM), i % DIM));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-rows-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function openModel(bytes: Uint8Array, name: string) {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const file = await openFileSource(path);
  const header = await readGgufHeader(file);
  return { file, header };
}

describe('GGUF token_embd.weight rows', () => {
  for (const type of ['F32', 'F16', 'Q8_0', 'Q4_0'] as const) {
    it(`${type}: exact f32 rows from a local file, in row blocks, reading only the tensor`, async () => {
      const { file, header } = await openModel(model(type), `${type}.gguf`);
      try {
        const tensor = embeddingTensor(header, file.name);
        expect([tensor.dim, tensor.vocab, tensor.typeName]).toEqual([DIM, VOCAB, type]);
        const source = counting(file);
        // Two rows per block: blocks start at rows 0, 2, 4.
        const { values, firstRows } = await collect(readEmbeddingRows(source, tensor, { blockBytes: 2 * tensor.rowBytes + 1 }));
        expect(firstRows).toEqual([0, 2, 4]);
        expect(values).toEqual(expectedRows(type));
        expect(source.bytes).toBe(VOCAB * tensor.rowBytes);
      } finally {
        await file.close();
      }
    });
  }

  it('a row range, as f16 (stored F16 passes through bit for bit, quantized values round to half)', async () => {
    for (const type of ['F16', 'Q8_0'] as const) {
      const { file, header } = await openModel(model(type), `${type}-f16.gguf`);
      try {
        const tensor = embeddingTensor(header, file.name);
        const blocks: RowBlock[] = [];
        for await (const b of readEmbeddingRows(file, tensor, { dtype: 'F16', start: 1, end: 4 })) blocks.push(b);
        expect(blocks.map((b) => [b.firstRow, b.rows])).toEqual([[1, 3]]);
        expect(blocks[0]!.data).toBeInstanceOf(Uint16Array);
        expect(Array.from(blocks[0]!.data, f16BitsToF32)).toEqual(expectedRows(type, 1, 4));
      } finally {
        await file.close();
      }
    }
  });

  it('missing tensor, unsupported type and bad row ranges are one line', async () => {
    const missing = writeGguf([], [{ name: 'output.weight', dims: [DIM, 2], type: GGML.F32, data: new Uint8Array(DIM * 8) }]);
    const { file, header } = await openModel(missing, 'missing.gguf');
    await file.close();
    expect(() => embeddingTensor(header, 'missing.gguf')).toThrow(
      new UserError('missing.gguf: no tensor "token_embd.weight" in this GGUF file (it has 1: output.weight)'),
    );

    const k = writeGguf([], [{ name: 'token_embd.weight', dims: [256, 2], type: GGML.IQ2_XXS, data: new Uint8Array(132) }]);
    const kq = await openModel(k, 'k.gguf');
    await kq.file.close();
    expect(() => embeddingTensor(kq.header, 'k.gguf')).toThrow(
      /^k\.gguf: tensor "token_embd\.weight": tensor type 16 \(IQ2_XXS\) is not supported for dequantization; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K$/,
    );

    const ok = await openModel(model('F32'), 'range.gguf');
    try {
      const tensor = embeddingTensor(ok.header, ok.file.name);
      await expect(collect(readEmbeddingRows(ok.file, tensor, { start: 2, end: 9 }))).rejects.toThrow(
        'range.gguf: row range 2-9 is outside the 5 rows of "token_embd.weight"',
      );
    } finally {
      await ok.file.close();
    }
  });
});
