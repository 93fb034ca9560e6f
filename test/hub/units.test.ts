/** Pure pieces of the hub client and the extract conversions, with exact expected values. */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_HUB_URL, hubClientFromEnv, resolveUrl } from '../../src/hub/client.ts';
import { parseRetryAfter, isRetryableStatus, hubErrorFor } from '../../src/hub/errors.ts';
import { parseContentRange } from '../../src/hub/range.ts';
import { backoffDelay } from '../../src/hub/retry.ts';
import { normaliseEtag } from '../../src/hub/http.ts';
import { rangeClientTls, rawGet, readBodyInto } from '../../src/hub/node-http.ts';
import { createServer as createHttpsServer } from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer } from 'node:net';
import { chunkConverter } from '../../src/sources/write-matrix.ts';
import { chunkFingerprint } from '../../src/hub/chunk-fingerprint.ts';
import { randomF32 } from '../helpers/hub-server.ts';
import { detectEmbeddingTensor } from '../../src/sources/detect.ts';
import { decodeToF32, encodeFromF32 } from '../../src/safetensors/dtype.ts';

describe('hub client settings', () => {
  it('HF_ENDPOINT (trailing slash dropped), HF_TOKEN, defaults', () => {
    const c = hubClientFromEnv({ HF_ENDPOINT: 'http://127.0.0.1:9/', HF_TOKEN: 'hf_abc' });
    expect([c.hubUrl, c.token]).toEqual(['http://127.0.0.1:9', 'hf_abc']);
    const d = hubClientFromEnv({});
    expect([d.hubUrl, d.token]).toEqual([DEFAULT_HUB_URL, undefined]);
    expect(hubClientFromEnv({ HUGGING_FACE_HUB_TOKEN: 'hf_old' }).token).toBe('hf_old');
    expect(() => hubClientFromEnv({ HF_ENDPOINT: 'not a url' })).toThrow('HF_ENDPOINT "not a url" is not a URL');
  });
  it('resolve URLs encode each path segment', () => {
    const c = hubClientFromEnv({ HF_ENDPOINT: 'https://hub.example' });
    expect(resolveUrl(c, 'org/m', 'refs/pr/1', 'sub dir/model #1.safetensors')).toBe(
      'https://hub.example/org/m/resolve/refs%2Fpr%2F1/sub%20dir/model%20%231.safetensors',
    );
  });
});

describe('HTTP details', () => {
  it('Retry-After in seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
  it('Content-Range parsing', () => {
    expect(parseContentRange('bytes 0-7/5000')).toEqual({ start: 0, end: 7, total: 5000 });
    expect(parseContentRange('bytes */5000')).toBeUndefined();
    expect(parseContentRange(null)).toBeUndefined();
  });
  it('retryable statuses and backoff (Retry-After wins, capped)', () => {
    expect([408, 429, 500, 502, 503].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 416].some(isRetryableStatus)).toBe(false);
    const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 2000 };
    expect(backoffDelay(policy, 1, 1500)).toBe(1500);
    expect(backoffDelay(policy, 1, 99_000)).toBe(2000);
    for (let i = 0; i < 50; i++) {
      const d3 = backoffDelay(policy, 3);
      expect(d3).toBeGreaterThanOrEqual(300);
      expect(d3).toBeLessThanOrEqual(500);
      expect(backoffDelay(policy, 10)).toBeLessThanOrEqual(1250);
    }
  });
  it('ETags lose quotes and the weak prefix', () => {
    expect(normaliseEtag('W/"abc"')).toBe('abc');
    expect(normaliseEtag('"abc"')).toBe('abc');
    expect(normaliseEtag(null)).toBeUndefined();
  });
  it('a plain 401 on a mirror without X-Error-Code still tells what to do', () => {
    const ctx = { repo: 'o/m', file: 'model.safetensors', hubUrl: 'https://m.example', hasToken: false };
    expect(hubErrorFor({ status: 401, headers: new Headers() }, ctx).message).toBe(
      'o/m/model.safetensors: authentication required (HTTP 401); set HF_TOKEN (and accept the licence on https://m.example/o/m if the model is gated)',
    );
  });
});

describe('chunk conversion', () => {
  const allBf16 = new Uint16Array(65536).map((_, i) => i);
  const bytes = new Uint8Array(allBf16.buffer);
  it('BF16 → F16 direct path equals f32 → f16 round-to-nearest-even for all 65536 inputs, overflows counted', () => {
    const ref = encodeFromF32(decodeToF32(bytes, 'BF16'), 'F16');
    const input = bytes.slice();
    const direct = chunkConverter('BF16', 'F16')(input);
    // Same width: converted in place (the downloader reuses its chunk buffers).
    expect(direct.bytes.buffer).toBe(input.buffer);
    expect(Buffer.from(direct.bytes).equals(Buffer.from(ref.bytes))).toBe(true);
    expect(direct.overflows).toBe(ref.overflows);
    expect(direct.overflows).toBeGreaterThan(0);
  });
  it('BF16 → F32 is the bits shifted: exact', () => {
    const direct = chunkConverter('BF16', 'F32')(bytes);
    expect(Buffer.from(direct.bytes).equals(Buffer.from(decodeToF32(bytes, 'BF16').buffer))).toBe(true);
  });
  it('same dtype passes bytes through; odd byte offsets are handled', () => {
    expect(chunkConverter('F16', 'F16')(bytes).bytes).toBe(bytes);
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    const view = shifted.subarray(1);
    expect(Buffer.from(chunkConverter('BF16', 'F16')(view).bytes).equals(Buffer.from(chunkConverter('BF16', 'F16')(bytes.slice()).bytes))).toBe(true);
  });
});

describe('embedding tensor detection', () => {
  it('known names win over suffix matches; lm_head and vision towers are never chosen', () => {
    expect(detectEmbeddingTensor(['lm_head.weight', 'model.embed_tokens.weight'], 'x')).toEqual({ name: 'model.embed_tokens.weight', how: 'known name' });
    expect(detectEmbeddingTensor(['model.language_model.embed_tokens.weight', 'model.vision_tower.embeddings.patch_embedding.weight'], 'x').name).toBe(
      'model.language_model.embed_tokens.weight',
    );
    expect(detectEmbeddingTensor(['h.0.attn', 'transformer.wte.weight', 'transformer.wpe.weight'], 'x').name).toBe('transformer.wte.weight');
    expect(detectEmbeddingTensor(['bert.embeddings.word_embeddings.weight', 'bert.embeddings.position_embeddings.weight'], 'x').name).toBe(
      'bert.embeddings.word_embeddings.weight',
    );
    expect(detectEmbeddingTensor(['tok_embeddings.weight', 'output.weight'], 'x').name).toBe('tok_embeddings.weight');
    expect(detectEmbeddingTensor(['foo.bar.embed_tokens.weight', 'lm_head.weight'], 'x')).toEqual({ name: 'foo.bar.embed_tokens.weight', how: 'suffix match' });
  });
  it('ambiguity and absence are errors that say to set tensor', () => {
    expect(() => detectEmbeddingTensor(['a.embed_tokens.weight', 'b.embed_tokens.weight'], 'idx')).toThrow(
      'idx: several embedding-like tensors (a.embed_tokens.weight, b.embed_tokens.weight); set tensor = "..." in the config to choose',
    );
    expect(() => detectEmbeddingTensor(['lm_head.weight', 'vision.patch_embedding.weight'], 'idx')).toThrow(
      'idx: no token-embedding tensor found among 2 tensors (lm_head.weight, vision.patch_embedding.weight); set tensor = "..." in the config',
    );
    expect(detectEmbeddingTensor(['lm_head.weight', 'model.embed_tokens.weight'], 'idx', 'lm_head.weight')).toEqual({ name: 'lm_head.weight', how: 'config' });
  });
});

describe('chunk fingerprint (what a resume checks a recorded chunk against)', () => {
  const data = new Uint8Array(randomF32(1 << 18, 5).buffer); // 1 MiB of float32
  it('is stable and depends on the length', () => {
    expect(chunkFingerprint(data)).toBe(chunkFingerprint(data.slice()));
    expect(chunkFingerprint(data)).toMatch(/^[0-9a-f]{40}$/);
    expect(chunkFingerprint(data.subarray(0, data.length - 512))).not.toBe(chunkFingerprint(data));
  });
  it('changes when any 4 KiB page is lost (zeroed) or stale', () => {
    const ref = chunkFingerprint(data);
    for (const page of [0, 1, 100, 255]) {
      const lost = data.slice();
      lost.fill(0, page * 4096, (page + 1) * 4096);
      expect(chunkFingerprint(lost)).not.toBe(ref);
      const stale = data.slice();
      stale.set(data.subarray(0, 4096), page * 4096 + (page === 0 ? 4096 : 0));
      expect(chunkFingerprint(stale)).not.toBe(ref);
    }
  });
});

describe('range client (src/hub/node-http.ts) on a raw TCP server', () => {
  /** A server that answers every request with `body` (206), writing the answer in `piece`-byte writes. */
  async function rawServer(body: Uint8Array, piece: number) {
    let connections = 0;
    const sockets = new Set<import('node:net').Socket>();
    const server = createNetServer((s) => {
      connections++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      let buf = '';
      s.on('data', async (d) => {
        buf += d.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          const head = `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-${body.length - 1}/${body.length}\r\nContent-Length: ${body.length}\r\nX-Linked-Etag: "e1"\r\n\r\n`;
          const all = Buffer.concat([Buffer.from(head, 'latin1'), body]);
          for (let i = 0; i < all.length; i += piece) {
            s.write(all.subarray(i, i + piece));
            if (piece < 64) await new Promise((r) => setImmediate(r));
          }
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/f`;
    return {
      url,
      connections: () => connections,
      closeIdle: () => sockets.forEach((s) => s.end()),
      close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
    };
  }

  it('an answer arriving a few bytes at a time: head parsed, body exact', async () => {
    const body = new Uint8Array(5000).map((_, i) => (i * 31) & 255);
    const srv = await rawServer(body, 7);
    try {
      const r = await rawGet(srv.url, { range: 'bytes=0-4999' }, 5000);
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe('bytes 0-4999/5000');
      expect(r.headers.get('x-linked-etag')).toBe('"e1"');
      const out = await readBodyInto(r, new Uint8Array(5000), 5000, 'x');
      expect(Buffer.from(out).equals(Buffer.from(body))).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('keeps the connection alive between requests and replaces one the server closed while idle', async () => {
    const body = new Uint8Array(3 << 20).map((_, i) => (i * 7) & 255);
    const srv = await rawServer(body, 1 << 20);
    try {
      const get = async () => {
        const r = await rawGet(srv.url, { range: `bytes=0-${body.length - 1}` }, 5000);
        const out = await readBodyInto(r, new Uint8Array(new SharedArrayBuffer(body.length)), 5000, 'x');
        expect(Buffer.from(out).equals(Buffer.from(body))).toBe(true);
      };
      await get();
      await get();
      expect(srv.connections()).toBe(1);
      srv.closeIdle();
      await new Promise((r) => setTimeout(r, 50));
      await get();
      expect(srv.connections()).toBe(2);
    } finally {
      await srv.close();
    }
  });
});

describe('range client over TLS (self-signed certificate made with openssl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-tls-'));
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'k.pem'),
      '-out',
      join(dir, 'c.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const run = made.status === 0 ? it : it.skip;
  if (made.status !== 0) console.warn('openssl not available: skipping the TLS range-client test');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  run('https: certificate checked against the CA, body exact, connection reused', async () => {
    const cert = readFileSync(join(dir, 'c.pem'));
    const data = new Uint8Array(12 << 20).map((_, i) => (i * 13) & 255);
    let connections = 0;
    const srv = createHttpsServer({ key: readFileSync(join(dir, 'k.pem')), cert }, (req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')!;
      const a = Number(m[1]),
        b = Number(m[2]);
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${data.length}`, 'content-length': String(b - a + 1) });
      res.end(data.subarray(a, b + 1));
    });
    srv.on('secureConnection', () => connections++);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(srv.address() as import('node:net').AddressInfo).port}/f`;
    try {
      // Without the CA the certificate is refused (a network error, never silently accepted).
      await expect(rawGet(url, { range: 'bytes=0-9' }, 5000)).rejects.toThrow(/self.signed|certificate/i);
      rangeClientTls.ca = cert;
      const out = new Uint8Array(new SharedArrayBuffer(8 << 20));
      for (const start of [0, 3_000_000]) {
        const r = await rawGet(url, { range: `bytes=${start}-${start + out.length - 1}` }, 5000);
        expect(r.status).toBe(206);
        await readBodyInto(r, out, 5000, 'x');
        expect(Buffer.from(out).equals(Buffer.from(data.subarray(start, start + out.length)))).toBe(true);
      }
      expect(connections).toBe(1); // one handshake completed (the refused one never did), kept alive for both requests
    } finally {
      delete rangeClientTls.ca;
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });
});
