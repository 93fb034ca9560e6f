/**
 * Byte-range GETs for the bulk tensor bytes: a small HTTP/1.1 client on `net`/`tls` sockets whose reads land
 * directly in the caller's chunk buffer (the sockets' `onread` option), with keep-alive connection reuse.
 *
 * Why not `fetch` or `node:http`: Node 20's fetch (undici) hands a body over as WHATWG stream reads, one new
 * Uint8Array and promise per read; `node:http` allocates a fresh 64 KB Buffer per socket read. Either way a
 * 1 GB tensor becomes ~16000 short-lived buffers, a copy of every byte and, measured on the 2-core VM,
 * ~0.5-0.9 s of garbage collection per GB (benchmarks/extract.md). Here the kernel copies the body straight
 * into the pooled (shared) chunk buffer: no allocation, no copy, no GC per byte. The rules are those of
 * `hubGet` (http.ts), both from redirect.ts: redirects followed by hand with Authorization only on hops to the
 * hub's own origin, 5xx/408/429 → TransientError (Retry-After kept), 401/403/404 → HubError; every stall (no
 * bytes for `idleTimeoutMs`, headers included) is a TransientError too. Small files and the repo API still use
 * fetch.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { HubClient } from './client.ts';
import { TransientError, type ErrorContext } from './errors.ts';
import { followRedirects, statusError } from './redirect.ts';

/** Response heads larger than this are refused (real ones are < 4 kB; a signed CDN Location is < 2 kB). */
const MAX_HEAD = 64 * 1024;
/** A refused response whose declared body is at most this is read and dropped so its connection can be reused. */
const DRAIN_LIMIT = 64 * 1024;
/** Idle keep-alive connections kept per origin. */
const MAX_IDLE = 16;

/** Extra TLS options for every https connection (tests add their self-signed CA here). */
export const rangeClientTls: Pick<ConnectionOptions, 'ca'> = {};

type State = 'head' | 'paused' | 'body' | 'drain' | 'idle' | 'dead';

/** One keep-alive connection. Reads go to `head` while parsing a response head, then into the body target. */
class Connection {
  readonly socket: Socket;
  state: State = 'idle';
  readonly head = Buffer.allocUnsafe(MAX_HEAD);
  headLen = 0;
  /** Body bytes that arrived with the head: head[bodyStart, headLen). */
  bodyStart = 0;
  target: Uint8Array | undefined;
  got = 0;
  /** Bytes left to drop in 'drain'. */
  dropLeft = 0;
  private readonly scratch = Buffer.allocUnsafe(16 * 1024);
  /** Event sink of the request currently using this connection. */
  onEvent: ((e: 'data' | 'head' | 'done' | 'error', err?: Error) => void) | undefined;

  constructor(
    readonly origin: string,
    url: URL,
    private readonly pool: Pool,
  ) {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.protocol === 'https:') {
      // TLS decrypts into its own buffers: feed them through the same state machine (one copy, as any client).
      this.socket = tlsConnect({ ...rangeClientTls, host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, ALPNProtocols: ['http/1.1'] });
      this.socket.on('data', (b: Buffer) => this.consume(b));
    } else {
      this.socket = netConnect({ host, port, onread: { buffer: () => this.readTarget(), callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) } });
    }
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => this.die(err));
    this.socket.on('end', () => this.die(new Error('connection closed by the server')));
    this.socket.on('close', () => this.die(new Error('connection closed')));
  }

  /** Bytes received while paused (after the head, before the caller chose what to do with the body). */
  private pending: Buffer | undefined;

  /**
   * Where the next socket read should land. Node asks for it right after each read (and once at connect), so a
   * read may still land in the previous choice after a state change: `consume` then copies it once.
   */
  private readTarget(): Uint8Array {
    if (this.state === 'head' && this.headLen < MAX_HEAD) return this.head.subarray(this.headLen);
    if (this.state === 'body' && this.target && this.got < this.target.byteLength) return this.target.subarray(this.got);
    return this.scratch;
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    this.consume(buf.subarray(0, n));
    return this.state !== 'paused';
  }

  /** Account for received bytes: in place when they landed where they belong (the common case), else copied there. */
  private consume(b: Uint8Array): void {
    while (b.byteLength > 0 && this.state !== 'dead') {
      if (this.state === 'paused') {
        this.pending = Buffer.from(b); // a copy: `b` may be the scratch buffer, reused by the next read
        this.socket.pause();
        return;
      }
      const t = this.readTarget();
      const n = Math.min(t.byteLength, b.byteLength);
      if (t.buffer !== b.buffer || t.byteOffset !== b.byteOffset) t.set(b.subarray(0, n));
      b = b.subarray(n);
      this.step(n);
    }
  }

  /** Continue reading after a pause. */
  private resumeReading(): void {
    const p = this.pending;
    this.pending = undefined;
    if (p) this.consume(p);
    if (this.state !== 'dead' && this.state !== 'paused') this.socket.resume();
  }

  /** `n` more bytes are in place for the current state. */
  private step(n: number): void {
    switch (this.state) {
      case 'head': {
        if (this.headLen >= MAX_HEAD) return this.fail(new TransientError(`response head larger than ${MAX_HEAD} bytes`));
        this.headLen += n;
        const end = this.head.subarray(0, this.headLen).indexOf('\r\n\r\n');
        if (end >= 0) {
          this.bodyStart = end + 4;
          this.state = 'paused';
          this.onEvent?.('head');
        }
        return;
      }
      case 'body':
        // Past the end of the target, bytes land in scratch: the server sent more than it announced.
        if (this.got >= this.target!.byteLength) return this.fail(new TransientError(`server sent more than the ${this.target!.byteLength} bytes announced`));
        this.got += n;
        this.onEvent?.(this.got === this.target!.byteLength ? 'done' : 'data');
        return;
      case 'drain':
        this.dropLeft -= n;
        if (this.dropLeft < 0) this.fail(new TransientError('server sent more than the body it announced'));
        else if (this.dropLeft === 0) this.release();
        return;
      default:
        // Bytes nobody asked for (idle connection): the connection is unusable.
        return this.fail(new TransientError('unexpected bytes on an idle connection'));
    }
  }

  /** Parse the head: status and headers. */
  parseHead(): { status: number; headers: Headers } {
    const text = this.head.toString('latin1', 0, this.bodyStart - 4);
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new TransientError(`malformed HTTP status line "${(lines[0] ?? '').slice(0, 80)}"`);
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new TransientError(`malformed HTTP header line "${line.slice(0, 80)}"`);
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    return { status: Number(m[1]), headers };
  }

  /** Start receiving the body into `target` (exactly its length); bytes that came with the head go first. */
  startBody(target: Uint8Array): void {
    const early = this.head.subarray(this.bodyStart, this.headLen);
    if (early.byteLength > target.byteLength) return this.fail(new TransientError(`server sent more than the ${target.byteLength} bytes announced`));
    target.set(early, 0);
    this.target = target;
    this.got = early.byteLength;
    this.state = 'body';
    if (this.got === target.byteLength) this.onEvent?.('done');
    else this.resumeReading();
  }

  /** Drop the rest of a refused response: read it when small and announced (keeps the connection), else close. */
  discard(contentLength: number | undefined): void {
    const early = this.headLen - this.bodyStart;
    if (contentLength === undefined || contentLength > DRAIN_LIMIT || early > contentLength) return this.fail(undefined);
    this.dropLeft = contentLength - early;
    this.state = 'drain';
    if (this.dropLeft === 0) this.release();
    else this.resumeReading();
  }

  /** The response is complete: back to the pool for the next request. */
  release(): void {
    this.onEvent = undefined;
    this.target = undefined;
    this.state = 'idle';
    this.pool.put(this);
  }

  begin(request: string, onEvent: NonNullable<Connection['onEvent']>): void {
    this.state = 'head';
    this.headLen = 0;
    this.bodyStart = 0;
    this.onEvent = onEvent;
    this.pending = undefined;
    this.socket.write(request, 'latin1');
    this.socket.resume();
  }

  /** Close the connection; the current request (if any) gets `err`. */
  fail(err: Error | undefined): void {
    const sink = this.onEvent;
    this.onEvent = undefined;
    this.state = 'dead';
    this.pool.remove(this);
    this.socket.destroy();
    if (err) sink?.('error', err);
  }

  private die(err: Error): void {
    if (this.state === 'dead') return;
    this.fail(err);
  }
}

class Pool {
  private readonly idle = new Map<string, Connection[]>();

  take(url: URL): { conn: Connection; reused: boolean } {
    const list = this.idle.get(url.origin);
    const conn = list?.pop();
    if (conn) return { conn, reused: true };
    return { conn: new Connection(url.origin, url, this), reused: false };
  }

  put(conn: Connection): void {
    const list = this.idle.get(conn.origin) ?? [];
    this.idle.set(conn.origin, list);
    if (list.length >= MAX_IDLE) return conn.fail(undefined);
    list.push(conn);
    conn.socket.unref(); // an idle connection never keeps the process alive
    conn.socket.resume(); // notice the server closing it (or sending stray bytes) while idle
  }

  remove(conn: Connection): void {
    const list = this.idle.get(conn.origin);
    const i = list?.indexOf(conn) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }
}

const pool = new Pool();

export interface RawResponse {
  status: number;
  headers: Headers;
  conn: Connection;
}

export interface RawHubResponse extends RawResponse {
  /** Headers of the first (hub) response: X-Repo-Commit, X-Linked-Etag live here. */
  hubHeaders: Headers;
  finalUrl: string;
}

function networkError(url: URL, err: unknown): TransientError {
  if (err instanceof TransientError) return err;
  const e = err as NodeJS.ErrnoException;
  return new TransientError(`${url.host}: ${e?.code ? `${e.code} ` : ''}${e?.message ?? String(err)}`);
}

function headerValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`HTTP header value contains a line break: ${JSON.stringify(value)}`);
  return value;
}

/** One GET, no redirect handling; resolves with the status and headers (body not read yet). */
export async function rawGet(url: string, headers: Record<string, string>, idleTimeoutMs: number): Promise<RawResponse> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported URL scheme ${u.protocol} in ${url}`);
  let request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: keep-alive\r\n`;
  for (const [k, v] of Object.entries(headers)) request += `${k}: ${headerValue(v)}\r\n`;
  request += '\r\n';
  for (let attempt = 0; ; attempt++) {
    const { conn, reused } = pool.take(u);
    conn.socket.ref();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => conn.fail(new TransientError(`${u.host}: no response for ${idleTimeoutMs} ms`)), idleTimeoutMs);
        conn.begin(request, (e, err) => {
          if (e === 'data') return;
          clearTimeout(timer);
          if (e === 'error') reject(networkError(u, err));
          else resolve();
        });
      });
    } catch (err) {
      // A kept-alive connection the server closed meanwhile fails before any byte: try a fresh one at once.
      if (reused && attempt === 0 && conn.headLen === 0) continue;
      throw err;
    }
    try {
      const { status, headers: h } = conn.parseHead();
      return { status, headers: h, conn };
    } catch (err) {
      conn.fail(undefined);
      throw networkError(u, err);
    }
  }
}

function contentLength(headers: Headers): number | undefined {
  const cl = headers.get('content-length');
  if (cl === null || !/^\d+$/.test(cl.trim())) return undefined;
  return Number(cl);
}

/** Refuse a response without reading a large body (a 200 to a Range request may be the whole 5 GB file). */
export function discard(r: RawResponse): void {
  if (r.headers.get('transfer-encoding') || r.headers.get('connection')?.toLowerCase() === 'close') return r.conn.fail(undefined);
  r.conn.discard(contentLength(r.headers));
}

/** GET following redirects by hand (Authorization only on the hub's origin); non-2xx → HubError/TransientError. */
export async function rawHubGet(client: HubClient, url: string, headers: Record<string, string>, ctx: ErrorContext): Promise<RawHubResponse> {
  const { r, hubHeaders, finalUrl } = await followRedirects(client, url, headers, (current, h) => rawGet(current, h, client.idleTimeoutMs), discard);
  if (r.status >= 200 && r.status < 300) return { ...r, hubHeaders, finalUrl };
  discard(r);
  throw statusError(r, finalUrl, ctx);
}

/**
 * Receive a body of exactly `out.byteLength` bytes (its Content-Length) into `out`, aborting on a stall longer
 * than `idleTimeoutMs`. Fewer bytes (connection closed or reset) or more is a TransientError.
 */
export function readBodyInto(r: RawResponse, out: Uint8Array, idleTimeoutMs: number, what: string, onBytes?: (n: number) => void): Promise<Uint8Array> {
  const conn = r.conn;
  if (r.headers.get('transfer-encoding')) {
    conn.fail(undefined);
    return Promise.reject(new TransientError(`${what}: chunked transfer encoding instead of a Content-Length`));
  }
  if (out.byteLength === 0) {
    conn.release();
    return Promise.resolve(out);
  }
  if (conn.state !== 'paused') return Promise.reject(new TransientError(`${what}: connection closed before the body`));
  const keepAlive = r.headers.get('connection')?.toLowerCase() !== 'close';
  return new Promise((resolve, reject) => {
    let reported = 0;
    const timer = setTimeout(() => conn.fail(new TransientError(`${what}: no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
    conn.onEvent = (e, err) => {
      if (e === 'error') {
        clearTimeout(timer);
        const m = (err as Error)?.message ?? String(err);
        return reject(
          err instanceof TransientError && m.startsWith(what) ? err : new TransientError(`${what}: ${m} after ${conn.got} of ${out.byteLength} bytes`),
        );
      }
      if (onBytes) {
        onBytes(conn.got - reported);
        reported = conn.got;
      }
      if (e === 'done') {
        clearTimeout(timer);
        if (keepAlive) conn.release();
        else conn.fail(undefined);
        resolve(out);
      } else timer.refresh();
    };
    conn.startBody(out);
  });
}
