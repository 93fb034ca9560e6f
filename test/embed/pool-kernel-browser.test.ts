/**
 * The pooling kernel on a browser's main thread (headless Debian Chromium): its .wasm (over 4 KB, the limit
 * old Chromium versions put on synchronous compilation there) compiles with `new WebAssembly.Module` as
 * pool-kernel.ts does, and pools float16 rows, through a mapping and scales, to the same f32 bits as Node's
 * poolIds. Skips when /usr/bin/chromium is absent.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Browser } from 'playwright-core';
import { POOL_WASM_BASE64 } from '../../src/embed/kernels/pool-wasm.generated.ts';
import { poolIds } from '../../src/embed/pool.ts';
import { encodeFromF32 } from '../../src/safetensors/dtype.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { CHROMIUM, chromiumIt, launchChromium } from '../helpers/chromium.ts';

const it = chromiumIt('pooling kernel in the browser');
let browser: Browser | undefined;
beforeAll(async () => {
  if (existsSync(CHROMIUM)) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

it('compiles synchronously on the main thread and pools to the same bits as poolIds', async () => {
  const rows = 64;
  const dim = 40; // a 16-column block, two 4-column blocks and no 1-column tail: 40 = 2·16 + 2·4
  const r = mulberry32(5);
  const values = Float32Array.from({ length: rows * dim }, () => r() * 2 - 1);
  const f16 = new Uint16Array(encodeFromF32(values, 'F16').bytes.buffer.slice(0));
  const vocab = 100;
  const mapping = Int32Array.from({ length: vocab }, () => Math.floor(r() * rows));
  const scale = Float32Array.from({ length: vocab }, () => r() + 0.5);
  const lengths = [3, 0, 1, 130];
  const ids = Int32Array.from({ length: 134 }, () => Math.floor(r() * vocab));
  const expected = new Float32Array(lengths.length * dim);
  const acc = new Float64Array(dim);
  let at = 0;
  lengths.forEach((n, t) => {
    poolIds({ rows, dim, f16, mapping, scale, ids: vocab }, ids.subarray(at), n, dim, expected, t * dim, acc);
    at += n;
  });
  const page = await browser!.newPage();
  const got = await page.evaluate(
    ({ base64, f16, mapping, scale, ids, lengths, dim }) => {
      const raw = atob(base64);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as {
        memory: WebAssembly.Memory;
        reserve(n: number): number;
        poolF16(...a: number[]): void;
      };
      // rows at 0, mapping, scale, acc, ends, ids, out: 4 KB apart each, enough for this shape.
      const place = (i: number) => 4096 * (i + 1);
      k.reserve(place(8));
      const mem = k.memory.buffer;
      new Uint16Array(mem).set(f16, 0);
      new Int32Array(mem).set(mapping, place(1) >> 2);
      new Float32Array(mem).set(scale, place(2) >> 2);
      let end = 0;
      new Int32Array(mem).set(
        lengths.map((n) => (end += n)),
        place(4) >> 2,
      );
      new Int32Array(mem).set(ids, place(5) >> 2);
      k.poolF16(0, dim * 2, place(5), place(4), lengths.length, place(1), place(2), dim, place(3), place(7));
      return { size: bytes.length, out: Array.from(new Float32Array(k.memory.buffer, place(7), lengths.length * dim)) };
    },
    { base64: POOL_WASM_BASE64, f16: Array.from(f16), mapping: Array.from(mapping), scale: Array.from(scale), ids: Array.from(ids), lengths, dim },
  );
  await page.close();
  expect(got.size).toBeGreaterThan(4096);
  expect(got.out.map((v) => Math.fround(v))).toEqual(Array.from(expected));
});
