/**
 * A hub-compatible HTTP server on 127.0.0.1 for tests, serving repos the tests generate:
 *   GET  /api/models/{repo}/revision/{rev}     (what @huggingface/hub's modelInfo calls: sha, siblings, gated, cardData, tags)
 *   GET  /{repo}/resolve/{rev}/{file}          Range → 206 / 416, ETag, X-Repo-Commit, X-Linked-Etag/-Size
 * Errors as the real hub sends them (X-Error-Code RepoNotFound / GatedRepo / RevisionNotFound / EntryNotFound;
 * an unknown repo is 401 without a token, 404 with one; a gated repo 401 without token, 403 with a token that has
 * not accepted the licence). With `redirect: true` large files go resolve → 307 (same origin, relative Location)
 * → 302 to a second "CDN" server on another port that rejects any request carrying Authorization, like S3.
 * Faults can be injected per data request; every body byte sent is counted.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, mkdirSync, openSync, closeSync, writeSync, ftruncateSync, statSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { encodeHeader } from '../../src/safetensors/header.ts';
import { createCommitApi, type CommitApi } from './hub-commit-api.ts';
import { DTYPE_BYTES, f32ToF16Bits, type DType } from '../../src/safetensors/dtype.ts';

export interface ServedFile {
  /** On-disk file (sparse files welcome) or in-memory bytes. */
  disk?: string;
  data?: Uint8Array;
  /** `resolve/` answers 302 to this Location instead of serving the file (a hostile or broken hub, e.g. `file:///etc/passwd`). */
  redirect?: string;
}

export interface TestRepo {
  id: string;
  commit?: string;
  files: Record<string, ServedFile>;
  gated?: boolean;
  /** Tokens that accepted the licence of a gated repo. */
  allowedTokens?: string[];
  /** Extra revision names → commit. */
  revisions?: Record<string, string>;
  /** Licence id of the repo's card: model info then carries `cardData.license` and a `license:<id>` tag, as the hub's does. */
  license?: string;
  /** File trees of other commits (earlier heads, branch heads): a revision naming such a commit serves its tree, any other serves `files`. */
  trees?: Record<string, Record<string, ServedFile>>;
}

/**
 * `expired`: the CDN answers 403 as S3/CloudFront do for a signed URL past its expiry (hub requests are not hit).
 * `corrupt`: a well-formed 206 whose body has one byte flipped (at `atByte`, else the range's first byte), as a
 * broken proxy or bad RAM on the way would deliver it: status, Content-Range, length and ETag all check out.
 */
export type FaultKind = 'drop' | 'short' | 'lying-length' | '500' | '429' | 'whole' | 'wrong-range' | 'stall' | 'expired' | 'corrupt';

export interface Fault {
  kind: FaultKind;
  /** How many matching requests it hits. */
  times: number;
  /** Restrict to data requests of this file / overlapping this absolute byte offset. */
  file?: string;
  atByte?: number;
  /** Seconds in Retry-After for 429. */
  retryAfter?: number;
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  status: number;
  auth: boolean;
  file?: string;
  start?: number;
  end?: number;
}

export interface HubServer {
  url: string;
  cdnUrl: string;
  /** Body bytes sent by both servers. */
  bytesSent: number;
  requests: LoggedRequest[];
  faults: Fault[];
  /** Delay before answering each data (Range) request, ms: lets a test kill a client mid-download. */
  delayMs: number;
  addRepo(repo: TestRepo): void;
  /** The write side (createRepo / uploadFiles): what was created and committed. */
  commitApi: CommitApi;
  resetStats(): void;
  close(): Promise<void>;
}

interface Tree {
  files: Record<string, ServedFile>;
  etags: Map<string, string>;
  sizes: Map<string, number>;
}

interface RepoState {
  repo: TestRepo;
  commit: string;
  /** Commit → its tree; `head` is the tree of `commit` (and of every revision without a tree of its own). */
  trees: Map<string, Tree>;
  head: Tree;
}

const LFS_THRESHOLD = 10 * 1024; // files bigger than this redirect to the CDN in redirect mode

function fileSize(f: ServedFile): number {
  return f.data ? f.data.byteLength : statSync(f.disk!).size;
}

function fileEtag(f: ServedFile, path: string, commit: string): string {
  if (f.data) return createHash('sha256').update(f.data).digest('hex');
  const st = statSync(f.disk!);
  return createHash('sha256').update(`${path}:${st.size}:${st.mtimeMs}:${commit}`).digest('hex');
}

export async function startHubServer(opts: { redirect?: boolean } = {}): Promise<HubServer> {
  const repos = new Map<string, RepoState>();
  const byEtag = new Map<string, { tree: Tree; path: string }>();
  const server: HubServer = {
    url: '',
    cdnUrl: '',
    bytesSent: 0,
    requests: [],
    faults: [],
    delayMs: 0,
    addRepo(repo) {
      const commit = repo.commit ?? randomBytes(20).toString('hex');
      const st = { repo, commit, trees: new Map<string, Tree>() } as RepoState;
      const tree = (files: Record<string, ServedFile>, at: string): Tree => {
        const t: Tree = { files, etags: new Map(), sizes: new Map() };
        for (const [p, f] of Object.entries(files)) {
          const etag = fileEtag(f, p, at);
          t.etags.set(p, etag);
          t.sizes.set(p, fileSize(f));
          byEtag.set(etag, { tree: t, path: p });
        }
        return t;
      };
      st.head = tree(repo.files, commit);
      st.trees.set(commit, st.head);
      for (const [c, files] of Object.entries(repo.trees ?? {})) if (c !== commit) st.trees.set(c, tree(files, c));
      repos.set(repo.id, st);
    },
    commitApi: undefined as unknown as CommitApi,
    resetStats() {
      server.bytesSent = 0;
      server.requests = [];
    },
    close: async () => {
      await Promise.all(
        [hub, cdn].map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      );
    },
  };

  const log = (e: LoggedRequest) => server.requests.push(e);
  server.commitApi = createCommitApi({ url: () => server.url, getRepo: (id) => repos.get(id), addRepo: (r) => server.addRepo(r) });

  const errorReply = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': message });
    res.end(JSON.stringify({ error: message }));
  };

  /** Access rules of the real hub; returns false after answering when access is denied. */
  const checkAccess = (req: IncomingMessage, res: ServerResponse, st: RepoState | undefined, _id: string): st is RepoState => {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (!st) {
      if (token) errorReply(res, 404, 'RepoNotFound', 'Repository not found');
      else errorReply(res, 401, 'RepoNotFound', 'Repository not found');
      return false;
    }
    return true;
  };
  const checkGated = (req: IncomingMessage, res: ServerResponse, st: RepoState): boolean => {
    if (!st.repo.gated) return true;
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (!token) {
      errorReply(
        res,
        401,
        'GatedRepo',
        `Access to model ${st.repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
      return false;
    }
    if (!(st.repo.allowedTokens ?? []).includes(token)) {
      errorReply(
        res,
        403,
        'GatedRepo',
        `Access to model ${st.repo.id} is restricted and you are not in the authorized list. Visit https://huggingface.co/${st.repo.id} to ask for access.`,
      );
      return false;
    }
    return true;
  };
  const commitOf = (st: RepoState, rev: string): string | undefined => {
    if (rev === 'main' || rev === 'HEAD' || rev === st.commit) return st.commit;
    // A revision's commit is itself a revision (downloads go to resolve/<commit>/...), and so is an earlier head.
    if (Object.values(st.repo.revisions ?? {}).includes(rev) || st.trees.has(rev)) return rev;
    return st.repo.revisions?.[rev];
  };
  const treeOf = (st: RepoState, commit: string): Tree => st.trees.get(commit) ?? st.head;

  /** Serve file bytes honouring Range and injected faults. */
  const serveData = async (req: IncomingMessage, res: ServerResponse, tree: Tree, path: string, which: 'hub' | 'cdn', extra: Record<string, string>) => {
    const f = tree.files[path]!;
    const size = tree.sizes.get(path)!;
    const etag = tree.etags.get(path)!;
    const range = req.headers.range;
    const entry: LoggedRequest = { server: which, method: req.method!, path: req.url!, range, status: 0, auth: Boolean(req.headers.authorization), file: path };
    log(entry);
    let start = 0;
    let end = size - 1;
    let partial = false;
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m || Number(m[1]) >= size) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      start = Number(m[1]);
      end = m[2] ? Math.min(size - 1, Number(m[2])) : size - 1;
      partial = true;
    }
    entry.start = start;
    entry.end = end;
    if (server.delayMs > 0 && partial) await new Promise((r) => setTimeout(r, server.delayMs));
    const fault = server.faults.find(
      (x) =>
        x.times > 0 &&
        partial &&
        (x.kind !== 'expired' || which === 'cdn') &&
        (x.file === undefined || x.file === path) &&
        (x.atByte === undefined || (x.atByte >= start && x.atByte <= end)),
    );
    if (fault) fault.times--;
    const headers: Record<string, string> = { etag: `"${etag}"`, 'accept-ranges': 'bytes', ...extra };
    let length = end - start + 1;
    let sendBytes = length;
    let status = partial ? 206 : 200;
    switch (fault?.kind) {
      case '500':
        entry.status = 500;
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
        return;
      case 'expired':
        entry.status = 403;
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
        return;
      case '429':
        entry.status = 429;
        res.writeHead(429, { 'retry-after': String(fault.retryAfter ?? 1), 'content-type': 'text/plain' });
        res.end('slow down');
        return;
      case 'whole':
        status = 200;
        start = 0;
        end = size - 1;
        length = sendBytes = size;
        break;
      case 'wrong-range':
        start = Math.min(start + 2, size - length);
        end = start + length - 1;
        break;
      case 'lying-length':
        sendBytes = Math.floor(length / 2);
        break;
      case 'drop':
      case 'short':
      case 'stall':
        sendBytes = Math.floor(length / 2);
        break;
    }
    entry.status = status;
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    headers['content-length'] = String(fault?.kind === 'lying-length' ? sendBytes : length);
    headers['content-type'] = 'application/octet-stream';
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const finish = () => {
      if (fault?.kind === 'stall') return; // half the body, then silence until the client gives up
      if (fault?.kind === 'drop') res.socket?.destroy();
      else if (fault?.kind === 'short') res.socket?.end();
      else res.end();
    };
    if (sendBytes === 0) return finish();
    // The one byte a `corrupt` fault flips, as an offset into this body.
    const flipAt = fault?.kind === 'corrupt' ? (fault.atByte ?? start) - start : -1;
    const flip = (chunk: Uint8Array, chunkStart: number): Uint8Array => {
      if (flipAt < chunkStart || flipAt >= chunkStart + chunk.byteLength) return chunk;
      const copy = Uint8Array.from(chunk);
      copy[flipAt - chunkStart] = copy[flipAt - chunkStart]! ^ 0xff;
      return copy;
    };
    if (f.data) {
      const slice = flip(f.data.subarray(start, start + sendBytes), 0);
      server.bytesSent += slice.byteLength;
      res.write(slice, () => finish());
      return;
    }
    const stream = createReadStream(f.disk!, { start, end: start + sendBytes - 1, highWaterMark: 1 << 20 });
    let streamed = 0;
    stream.on('data', (chunk) => {
      server.bytesSent += chunk.length;
      const out = flip(chunk as Buffer, streamed);
      streamed += chunk.length;
      if (!res.write(out)) stream.pause();
    });
    res.on('drain', () => stream.resume());
    res.on('close', () => stream.destroy());
    stream.on('end', finish);
    stream.on('error', () => res.destroy());
  };

  const hub = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url!, 'http://x');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      if (await server.commitApi.handle(req, res, parts)) return;
      // /api/models/{owner}/{name}/revision/{rev}
      if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision') {
        const id = `${parts[2]}/${parts[3]}`;
        const st = repos.get(id);
        log({ server: 'hub', method: req.method!, path: req.url!, status: 0, auth: Boolean(req.headers.authorization) });
        if (!checkAccess(req, res, st, id)) return;
        const commit = commitOf(st, parts.slice(5).join('/'));
        if (!commit) return errorReply(res, 404, 'RevisionNotFound', `Invalid rev id: ${parts.slice(5).join('/')}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            _id: createHash('md5').update(id).digest('hex').slice(0, 24),
            id,
            sha: commit,
            private: false,
            gated: st.repo.gated ? 'manual' : false,
            downloads: 0,
            likes: 0,
            lastModified: '2024-07-31T00:00:00.000Z',
            pipeline_tag: 'text-generation',
            siblings: Object.keys(treeOf(st, commit).files).map((rfilename) => ({ rfilename })),
            ...(st.repo.license ? { cardData: { license: st.repo.license }, tags: ['safetensors', `license:${st.repo.license}`] } : { tags: ['safetensors'] }),
          }),
        );
        return;
      }
      // /{owner}/{name}/resolve/{rev}/{file...}  and the same-origin hop /_hop/{owner}/{name}/{commit}/{file...}
      const hop = parts[0] === '_hop';
      const p = hop ? parts.slice(1) : parts;
      if (hop || p[2] === 'resolve') {
        const id = `${p[0]}/${p[1]}`;
        const rev = hop ? p[2]! : p[3]!;
        const file = (hop ? p.slice(3) : p.slice(4)).join('/');
        const st = repos.get(id);
        if (!checkAccess(req, res, st, id)) {
          log({ server: 'hub', method: req.method!, path: req.url!, status: res.statusCode, auth: Boolean(req.headers.authorization) });
          return;
        }
        if (!checkGated(req, res, st)) {
          log({ server: 'hub', method: req.method!, path: req.url!, status: res.statusCode, auth: Boolean(req.headers.authorization) });
          return;
        }
        const commit = commitOf(st, rev);
        if (!commit) return errorReply(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
        const tree = treeOf(st, commit);
        if (!(file in tree.files)) return errorReply(res, 404, 'EntryNotFound', `${file} does not exist on "${rev}"`);
        const size = tree.sizes.get(file)!;
        const etag = tree.etags.get(file)!;
        const hubHeaders = { 'x-repo-commit': commit, 'x-linked-etag': `"${etag}"`, 'x-linked-size': String(size) };
        const forced = st.repo.files[file]!.redirect;
        if (forced !== undefined) {
          log({ server: 'hub', method: req.method!, path: req.url!, range: req.headers.range, status: 302, auth: Boolean(req.headers.authorization) });
          res.writeHead(302, { location: forced, ...hubHeaders });
          res.end();
          return;
        }
        if (opts.redirect && size > LFS_THRESHOLD) {
          log({
            server: 'hub',
            method: req.method!,
            path: req.url!,
            range: req.headers.range,
            status: hop ? 302 : 307,
            auth: Boolean(req.headers.authorization),
          });
          if (!hop) {
            // Relative Location, as the hub sends for same-site redirects.
            res.writeHead(307, { location: `/_hop/${id}/${commit}/${file}`, ...hubHeaders });
          } else {
            res.writeHead(302, { location: `${server.cdnUrl}/blob/${etag}?X-Amz-Signature=${randomBytes(8).toString('hex')}`, ...hubHeaders });
          }
          res.end();
          return;
        }
        await serveData(req, res, tree, file, 'hub', hubHeaders);
        return;
      }
      log({ server: 'hub', method: req.method!, path: req.url!, status: 404, auth: Boolean(req.headers.authorization) });
      res.writeHead(404);
      res.end('not found');
    })().catch((err) => {
      res.destroy(err as Error);
    });
  });

  const cdn = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url!, 'http://x');
      const m = /^\/blob\/([0-9a-f]+)$/.exec(url.pathname);
      if (req.headers.authorization) {
        log({ server: 'cdn', method: req.method!, path: req.url!, status: 400, auth: true });
        res.writeHead(400, { 'content-type': 'application/xml' });
        res.end('<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
        return;
      }
      const hit = m ? byEtag.get(m[1]!) : undefined;
      if (!hit || !url.searchParams.get('X-Amz-Signature')) {
        log({ server: 'cdn', method: req.method!, path: req.url!, status: 403, auth: false });
        res.writeHead(403);
        res.end('AccessDenied');
        return;
      }
      await serveData(req, res, hit.tree, hit.path, 'cdn', {});
    })().catch((err) => res.destroy(err as Error));
  });

  const listen = (s: Server) =>
    new Promise<string>((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
  server.url = await listen(hub);
  server.cdnUrl = await listen(cdn);
  return server;
}

// ---------------------------------------------------------------------------------------------------------
// Repo generation

export interface TensorDef {
  name: string;
  dtype: DType;
  shape: number[];
  /** Bytes of the tensor; absent = zeros left as a hole (sparse filler). */
  data?: Uint8Array;
}

/** Write a safetensors file whose tensors without `data` stay sparse holes (a 1 GB filler costs no disk). */
export function writeSparseSafetensors(path: string, tensors: TensorDef[], metadata: Record<string, string> = { format: 'pt' }): number {
  mkdirSync(dirname(path), { recursive: true });
  const { bytes, dataLength } = encodeHeader(tensors, metadata);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, bytes, 0, bytes.byteLength, 0);
    let offset = bytes.byteLength;
    for (const t of tensors) {
      const size = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
      if (t.data) {
        if (t.data.byteLength !== size) throw new Error(`${t.name}: ${t.data.byteLength} bytes for ${size}`);
        let off = 0;
        while (off < size) off += writeSync(fd, t.data, off, Math.min(size - off, 1 << 28), offset + off);
      }
      offset += size;
    }
    ftruncateSync(fd, bytes.byteLength + dataLength);
  } finally {
    closeSync(fd);
  }
  return bytes.byteLength + dataLength;
}

/** Deterministic pseudo-random floats (mulberry32) in [-scale, scale). */
export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** A matrix's bytes in `dtype` (BF16 by truncating random f32 bits: every bf16 value is exact in f32). */
export function matrixBytes(rows: number, dim: number, dtype: 'F32' | 'F16' | 'BF16', seed: number): Uint8Array {
  const f = randomF32(rows * dim, seed, 0.5);
  if (dtype === 'F32') return new Uint8Array(f.buffer);
  const out = new Uint16Array(rows * dim);
  const bits = new Uint32Array(f.buffer);
  for (let i = 0; i < out.length; i++) out[i] = dtype === 'BF16' ? bits[i]! >>> 16 : f32ToF16Bits(f[i]!);
  return new Uint8Array(out.buffer);
}

/**
 * A small real tokenizer.json (WordLevel, whitespace) with `n` ids: specials <pad>=0, <eos>=1, <unk>=2, then
 * words w3..w{n-1}. Loads through @huggingface/tokenizers like any hub tokenizer.
 */
export function tinyTokenizerJson(n: number): string {
  const vocab: Record<string, number> = { '<pad>': 0, '<eos>': 1, '<unk>': 2 };
  for (let i = 3; i < n; i++) vocab[`w${i}`] = i;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '<eos>'), special(2, '<unk>')],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  });
}
