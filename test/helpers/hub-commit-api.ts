/**
 * The hub's write side, as @huggingface/hub's createRepo / createBranch / uploadFiles drive it (read from its
 * dist: lib/create-repo, lib/create-branch, lib/commit):
 *   POST /api/repos/create                         {name, organization, visibility, type} → {url, id}; 409 if it exists
 *   POST /api/models/{repo}/branch/{branch}         new branch at main's commit; 409 if it exists
 *   POST /api/models/{repo}/preupload/{branch}      {files: [{path, size, sample}]} → uploadMode lfs | regular
 *   POST /{repo}.git/info/lfs/objects/batch         basic transfer: an upload href per object not yet stored
 *   PUT  /_lfs/{oid}                                the object's bytes (checked against its sha256 and size)
 *   POST /api/models/{repo}/commit/{branch}         NDJSON: header, file (base64), lfsFile (oid), deletedFile
 * Every write but the presigned LFS upload needs a Bearer token. A commit becomes the branch's new head through
 * `addRepo`, with its own file tree: downloads at the branch (or the commit id) see exactly the committed files,
 * while other branches and earlier commits keep serving theirs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { ServedFile, TestRepo } from './hub-server.ts';

export interface CommitRecord {
  repo: string;
  branch: string;
  summary: string;
  /** Paths added or updated, in commit order. */
  files: string[];
  /** Paths that went through LFS. */
  lfs: string[];
  commit: string;
}

export interface CreatedRepo {
  id: string;
  visibility?: string;
}

export interface CommitApiHost {
  url: () => string;
  getRepo: (id: string) => { repo: TestRepo; commit: string } | undefined;
  addRepo: (repo: TestRepo) => void;
}

export interface CommitApi {
  commits: CommitRecord[];
  created: CreatedRepo[];
  /** LFS objects received (PUTs that stored bytes). */
  lfsUploads: string[];
  /** Answer the request when it is a write-API call; false leaves it to the download side. */
  handle(req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<boolean>;
}

/** Files at or above this size, and any .safetensors, go through LFS (the hub's rule is similar: binary or big). */
const LFS_MIN_BYTES = 10 * 1024 * 1024;

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const reply = (res: ServerResponse, status: number, json: unknown, code?: string) => {
  res.writeHead(status, { 'content-type': 'application/json', ...(code ? { 'x-error-code': code } : {}) });
  res.end(JSON.stringify(json));
};

export function createCommitApi(host: CommitApiHost): CommitApi {
  const lfsObjects = new Map<string, Uint8Array>();
  const api: CommitApi = {
    commits: [],
    created: [],
    lfsUploads: [],
    async handle(req, res, parts) {
      if (req.method !== 'POST' && req.method !== 'PUT') return false;
      const isWrite =
        (parts[0] === 'api' && (parts[1] === 'repos' || (parts[1] === 'models' && ['branch', 'preupload', 'commit'].includes(parts[4]!)))) ||
        parts[0] === '_lfs' ||
        (parts[1]?.endsWith('.git') && parts[2] === 'info');
      if (!isWrite) return false;
      // The LFS upload href is presigned (like S3): no token on it.
      if (parts[0] !== '_lfs' && !req.headers.authorization?.startsWith('Bearer hf_')) {
        reply(res, 401, { error: 'Invalid username or password.' });
        return true;
      }
      const data = await body(req);
      if (parts[0] === 'api' && parts[1] === 'repos' && parts[2] === 'create') {
        const b = JSON.parse(data.toString('utf8')) as { name: string; organization?: string; visibility?: string; type?: string };
        const id = `${b.organization}/${b.name}`;
        if (host.getRepo(id)) {
          reply(res, 409, { error: 'You already created this model repo', url: `${host.url()}/${id}` });
          return true;
        }
        host.addRepo({ id, files: {} });
        api.created.push({ id, visibility: b.visibility });
        reply(res, 200, { url: `${host.url()}/${id}`, name: id, id });
        return true;
      }
      if (parts[0] === '_lfs') {
        const oid = parts[1]!;
        if (createHash('sha256').update(data).digest('hex') !== oid) {
          reply(res, 400, { error: `content does not hash to ${oid}` });
          return true;
        }
        lfsObjects.set(oid, new Uint8Array(data));
        api.lfsUploads.push(oid);
        res.writeHead(200, { etag: `"${oid}"` });
        res.end();
        return true;
      }
      if (parts[2] === 'info') {
        const b = JSON.parse(data.toString('utf8')) as { objects: { oid: string; size: number }[]; transfers: string[] };
        reply(res, 200, {
          transfer: 'basic',
          objects: b.objects.map((o) => ({
            oid: o.oid,
            size: o.size,
            authenticated: true,
            ...(lfsObjects.has(o.oid) ? {} : { actions: { upload: { href: `${host.url()}/_lfs/${o.oid}`, expires_in: 3600 } } }),
          })),
        });
        return true;
      }
      const id = `${parts[2]}/${parts[3]}`;
      const branch = parts.slice(5).join('/');
      const st = host.getRepo(id);
      if (!st) {
        reply(res, 404, { error: 'Repository not found' }, 'RepoNotFound');
        return true;
      }
      const revisions = st.repo.revisions ?? {};
      if (parts[4] === 'branch') {
        if (branch === 'main' || branch in revisions) {
          reply(res, 409, { error: `Reference ${branch} already exists` });
          return true;
        }
        host.addRepo({ ...st.repo, commit: st.commit, revisions: { ...revisions, [branch]: st.commit } });
        reply(res, 200, {});
        return true;
      }
      if (branch !== 'main' && !(branch in revisions)) {
        reply(res, 404, { error: `Invalid rev id: ${branch}` }, 'RevisionNotFound');
        return true;
      }
      if (parts[4] === 'preupload') {
        const b = JSON.parse(data.toString('utf8')) as { files: { path: string; size: number }[] };
        reply(res, 200, {
          files: b.files.map((f) => ({
            path: f.path,
            uploadMode: f.size >= LFS_MIN_BYTES || f.path.endsWith('.safetensors') ? 'lfs' : 'regular',
            shouldIgnore: false,
          })),
        });
        return true;
      }
      // commit: the branch head's tree is the base; the new commit becomes that branch's head.
      const head = branch === 'main' ? st.commit : revisions[branch]!;
      const trees = st.repo.trees ?? {};
      const lines = data
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
      const files: Record<string, ServedFile> = { ...(head === st.commit ? st.repo.files : (trees[head] ?? st.repo.files)) };
      const record: CommitRecord = { repo: id, branch, summary: '', files: [], lfs: [], commit: randomBytes(20).toString('hex') };
      for (const { key, value } of lines) {
        if (key === 'header') record.summary = String(value.summary ?? '');
        else if (key === 'file') {
          files[String(value.path)] = { data: new Uint8Array(Buffer.from(String(value.content), 'base64')) };
          record.files.push(String(value.path));
        } else if (key === 'lfsFile') {
          const obj = lfsObjects.get(String(value.oid));
          if (!obj || obj.byteLength !== value.size) {
            reply(res, 422, { error: `LFS object ${String(value.oid)} of ${String(value.path)} was not uploaded` });
            return true;
          }
          files[String(value.path)] = { data: obj };
          record.files.push(String(value.path));
          record.lfs.push(String(value.path));
        } else if (key === 'deletedFile') delete files[String(value.path)];
        else {
          reply(res, 400, { error: `unknown commit line key "${key}"` });
          return true;
        }
      }
      // The previous main head keeps its tree, so its commit id still serves what it held.
      if (branch === 'main') host.addRepo({ ...st.repo, files, commit: record.commit, trees: { ...trees, [st.commit]: st.repo.files } });
      else host.addRepo({ ...st.repo, commit: st.commit, trees: { ...trees, [record.commit]: files }, revisions: { ...revisions, [branch]: record.commit } });
      api.commits.push(record);
      reply(res, 200, { success: true, commitOid: record.commit, commitUrl: `${host.url()}/${id}/commit/${record.commit}` });
      return true;
    },
  };
  return api;
}
