import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SafetensorsFile,
  SafetensorsWriter,
  bf16BitsToF32,
  bf16ToF16InPlace,
  bf16ToF16Table,
  decodeToF32,
  encodeFromF32,
  encodeHeader,
  f16BitsToF32,
  f32BitsToBf16Bits,
  f32ToF16Bits,
  parseSafetensorsBuffer,
  parseShardIndex,
  writeSafetensors,
} from '../../src/safetensors/node.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;

describe('float conversions', () => {
  it('f16 round-to-nearest-even, subnormals, overflow', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to Inf
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // exact tie → even (0)
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 → even (2)
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    // 1 + 2^-11 is exactly halfway between 1 and 1+2^-10: ties to even (1.0)
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    for (let h = 0; h < 0x7c00; h += 37) expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h); // round trip
  });
  it('bf16 round-to-nearest-even', () => {
    expect(f32BitsToBf16Bits(bitsOf(1))).toBe(0x3f80);
    expect(f32BitsToBf16Bits(0x3f808000)).toBe(0x3f80); // tie, even stays
    expect(f32BitsToBf16Bits(0x3f818000)).toBe(0x3f82); // tie, odd rounds up
    expect(f32BitsToBf16Bits(0x3f808001)).toBe(0x3f81);
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(Number.isNaN(bf16BitsToF32(f32BitsToBf16Bits(bitsOf(NaN))))).toBe(true);
  });
  it('BF16 → F16 in place, two at a time, equals f32 → f16 for every input in either half of a word, at any even offset', () => {
    const table = bf16ToF16Table();
    const ref = encodeFromF32(decodeToF32(new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer), 'BF16'), 'F16');
    expect(Buffer.from(table.buffer).equals(Buffer.from(ref.bytes))).toBe(true);
    // Every value once at an even index (low half) and once at an odd one (high half), plus a dangling element.
    const input = new Uint16Array(2 * 65536 + 1);
    for (let i = 0; i < 65536; i++) {
      input[i] = i;
      input[65536 + ((i + 1) % 65536)] = i;
    }
    input[2 * 65536] = 0x7f7f; // finite, overflows in F16
    const expected = input.map((b) => table[b]!);
    let overflowsRef = 0;
    for (let i = 0; i < input.length; i++) if ((expected[i]! & 0x7fff) === 0x7c00 && (input[i]! & 0x7f80) !== 0x7f80) overflowsRef++;
    expect(overflowsRef).toBeGreaterThan(2);
    for (const offset of [0, 2]) {
      const work = new Uint16Array(new ArrayBuffer(input.byteLength + 4), offset, input.length);
      work.set(input);
      expect(bf16ToF16InPlace(work.buffer, offset, input.byteLength)).toBe(overflowsRef);
      expect(Buffer.from(work.buffer, offset, input.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);
    }
    expect(() => bf16ToF16InPlace(new ArrayBuffer(8), 1, 4)).toThrow(/must be even/);
  });
  it('counts f16 overflows and decodes all dtypes', () => {
    const r = encodeFromF32(new Float32Array([1, 1e6, -1e6, Infinity]), 'F16');
    expect(r.overflows).toBe(2);
    expect([...decodeToF32(r.bytes, 'F16')]).toEqual([1, Infinity, -Infinity, Infinity]);
    expect([...decodeToF32(new Uint8Array(new Int8Array([-3, 4]).buffer), 'I8')]).toEqual([-3, 4]);
    expect([...decodeToF32(new Uint8Array(new Float64Array([0.5]).buffer), 'F64')]).toEqual([0.5]);
    // unaligned views are copied, not misread
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 1);
    expect([...decodeToF32(buf.subarray(1), 'F32')]).toEqual([1.5, -2]);
  });
});

describe('safetensors files', () => {
  it('writes an aligned header with metadata and reads row blocks back', async () => {
    const path = join(dir, 'a.safetensors');
    const data = new Float32Array(7 * 3).map((_, i) => i * 0.25 - 1);
    await writeSafetensors(
      path,
      [
        { name: 'emb', dtype: 'F32', shape: [7, 3], data },
        { name: 'half', dtype: 'F16', shape: [2], data: new Float32Array([0.5, -0.25]) },
      ],
      { repo: 'x/y' },
    );
    const raw = new Uint8Array(await readFile(path));
    const n = Number(new DataView(raw.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const f = await SafetensorsFile.open(path);
    expect(f.header.metadata).toEqual({ repo: 'x/y' });
    expect([...(await f.readRowsF32('emb', 2, 3))]).toEqual([...data.subarray(6, 15)]);
    expect([...(await f.readRowsF32('half', 0, 2))]).toEqual([0.5, -0.25]);
    await expect(f.readRowsF32('emb', 6, 2)).rejects.toThrow(/outside "emb"/);
    await expect(f.readRowsF32('nope', 0, 1)).rejects.toThrow(/no tensor "nope" \(has: emb, half\)/);
    await f.close();
    const mem = parseSafetensorsBuffer(raw);
    expect([...mem.f32('emb')]).toEqual([...data]);
  });

  it('streams in arbitrary blocks and leaves nothing on abort or short write', async () => {
    const path = join(dir, 'b.safetensors');
    const w = await SafetensorsWriter.create(path, [{ name: 't', dtype: 'BF16', shape: [4, 2] }]);
    await w.writeF32(new Float32Array([1, 2, 3]));
    await expect(w.commit()).rejects.toThrow(/only 6 of 16/);
    expect((await readdir(dir)).filter((f) => f.startsWith('b.'))).toEqual([]);
    const w2 = await SafetensorsWriter.create(path, [{ name: 't', dtype: 'BF16', shape: [4, 2] }]);
    await w2.writeF32(new Float32Array([1, 2, 3]));
    await w2.writeF32(new Float32Array([4, 5, 6, 7, 8]));
    await expect(w2.writeF32(new Float32Array([9]))).rejects.toThrow(/all tensors already written/);
    await w2.commit();
    const f = await SafetensorsFile.open(path);
    expect([...(await f.readRowsF32('t', 0, 4))]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await f.close();
  });

  const bad = async (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    await writeFile(p, bytes);
    return SafetensorsFile.open(p);
  };
  const withHeader = (obj: unknown, dataBytes = 0) => {
    const json = new TextEncoder().encode(JSON.stringify(obj));
    const out = new Uint8Array(8 + json.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };

  it('rejects malformed headers with precise messages', async () => {
    await expect(bad('c1', new Uint8Array([1, 2, 3]))).rejects.toThrow(/shorter than 8 bytes/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 10n ** 12n, true);
    await expect(bad('c2', huge)).rejects.toThrow(/header length 1000000000000 is outside/);
    const notJson = withHeader({});
    notJson.set(new TextEncoder().encode('{x'), 8);
    await expect(bad('c3', notJson)).rejects.toThrow(/not valid UTF-8 JSON/);
    await expect(bad('c4', withHeader({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1))).rejects.toThrow(/unknown dtype "F8"/);
    await expect(bad('c5', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4))).rejects.toThrow(/is 8 bytes but data_offsets span 4/);
    await expect(
      bad('c6', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, 8)),
    ).rejects.toThrow(/"b" overlaps/);
    await expect(bad('c7', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8))).rejects.toThrow(/gap before tensor "a"/);
    await expect(bad('c8', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4))).rejects.toThrow(/truncated or corrupt/);
    await expect(bad('c9', withHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4))).rejects.toThrow(/invalid shape/);
  });

  it('encodeHeader refuses duplicate names', () => {
    expect(() =>
      encodeHeader([
        { name: 'a', dtype: 'F32', shape: [1] },
        { name: 'a', dtype: 'F32', shape: [1] },
      ]),
    ).toThrow(/duplicate/);
  });
});

describe('shard index', () => {
  it('accepts plain file names and rejects escapes', () => {
    const ok = parseShardIndex(JSON.stringify({ metadata: { total_size: 10 }, weight_map: { a: 'model-00001-of-00002.safetensors' } }), 'idx');
    expect(ok.weightMap.get('a')).toBe('model-00001-of-00002.safetensors');
    expect(ok.totalSize).toBe(10);
    for (const bad of ['../x.safetensors', 'sub/x.safetensors', '/etc/passwd', '..', 'C:x', 'a\\b']) {
      expect(() => parseShardIndex(JSON.stringify({ weight_map: { a: bad } }), 'idx')).toThrow(/not a plain file name/);
    }
    expect(() => parseShardIndex('{}', 'idx')).toThrow(/missing "weight_map"/);
  });
});
