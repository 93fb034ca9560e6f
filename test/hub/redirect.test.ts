/** The redirect policy shared by hubGet (fetch) and rawHubGet (raw range client): src/hub/redirect.ts. */
import { describe, expect, it } from 'vitest';
import { HubError, TransientError } from '../../src/hub/errors.ts';
import { MAX_REDIRECTS, followRedirects, statusError } from '../../src/hub/redirect.ts';

const client = { hubUrl: 'https://hub.example', token: 'secret' };

function answer(status: number, headers: Record<string, string> = {}) {
  return { status, headers: new Headers(headers) };
}

describe('followRedirects', () => {
  it('follows 302/307 (relative Location resolved), Authorization only on the hub origin, drops each redirect', async () => {
    const sent: { url: string; headers: Record<string, string> }[] = [];
    const dropped: number[] = [];
    const script = [
      answer(307, { location: '/b/file?x=1', 'x-repo-commit': 'abc' }),
      answer(302, { location: 'https://cdn.example/signed?sig=1' }),
      answer(200, { etag: '"e"' }),
    ];
    const out = await followRedirects(
      client,
      'https://hub.example/a/file',
      { range: 'bytes=0-7' },
      async (url, headers) => {
        sent.push({ url, headers });
        return script[sent.length - 1]!;
      },
      (r) => void dropped.push(r.status),
    );
    expect(sent.map((s) => s.url)).toEqual(['https://hub.example/a/file', 'https://hub.example/b/file?x=1', 'https://cdn.example/signed?sig=1']);
    expect(sent.map((s) => s.headers.authorization)).toEqual(['Bearer secret', 'Bearer secret', undefined]);
    for (const s of sent) expect(s.headers).toMatchObject({ 'accept-encoding': 'identity', range: 'bytes=0-7' });
    expect(dropped).toEqual([307, 302]);
    expect(out.r.status).toBe(200);
    expect(out.finalUrl).toBe('https://cdn.example/signed?sig=1');
    expect(out.hubHeaders.get('x-repo-commit')).toBe('abc');
  });

  it('returns 304 and error statuses as they are, without a token when there is none', async () => {
    for (const status of [304, 404, 503]) {
      const seen: Record<string, string>[] = [];
      const out = await followRedirects(
        { hubUrl: 'https://hub.example' },
        'https://hub.example/f',
        {},
        async (_u, h) => (seen.push(h), answer(status)),
        () => {},
      );
      expect(out.r.status).toBe(status);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.authorization).toBeUndefined();
    }
  });

  it('a redirect without Location and too many redirects are TransientErrors', async () => {
    await expect(
      followRedirects(
        client,
        'https://hub.example/f',
        {},
        async () => answer(302),
        () => {},
      ),
    ).rejects.toThrow(new TransientError('https://hub.example/f: HTTP 302 redirect without a Location header'));
    let n = 0;
    const loop = followRedirects(
      client,
      'https://hub.example/f',
      {},
      async () => (n++, answer(301, { location: '/f' })),
      () => {},
    );
    await expect(loop).rejects.toBeInstanceOf(TransientError);
    await expect(loop).rejects.toThrow(`https://hub.example/f: more than ${MAX_REDIRECTS} redirects`);
    expect(n).toBe(MAX_REDIRECTS + 1);
  });
});

describe('statusError', () => {
  const ctx = { repo: 'org/model', file: 'model.safetensors', hubUrl: 'https://hub.example', hasToken: true };
  it('retryable statuses are TransientErrors with Retry-After; the rest HubErrors', () => {
    const t = statusError(answer(429, { 'retry-after': '2' }), 'https://cdn.example/x', ctx);
    expect(t).toBeInstanceOf(TransientError);
    expect(t.message).toBe('model.safetensors: HTTP 429 from cdn.example');
    expect((t as TransientError).retryAfterMs).toBe(2000);
    const h = statusError(answer(404), 'https://hub.example/x', ctx);
    expect(h).toBeInstanceOf(HubError);
    expect((h as HubError).status).toBe(404);
  });
});
