/**
 * A hub source: resolve the revision to a commit, find the embedding tensor (index → shard, or the single
 * model.safetensors), read only that shard's header, then download only the tensor's rows as validated,
 * resumable, parallel byte ranges converted straight into the output file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseShardIndex } from '../safetensors/shard-index.ts';
import { tokenizerPath } from '../layout/weights-dir.ts';
import { DTYPE_BYTES, type DType } from '../safetensors/dtype.ts';
import { UserError } from '../util/errors.ts';
import type { HubClient } from '../hub/client.ts';
import { readRemoteHeader } from '../hub/remote-header.ts';
import { downloadHubMatrix, refuseNonFiniteRows } from './hub-matrix.ts';
import { movedRevisionError, resolveRepo, type ResolvedRepo } from '../hub/repo.ts';
import { fetchSmallFile } from '../hub/small-file.ts';
import { detectEmbeddingTensor } from './detect.ts';
import { checkSourceTensor, chunkConverter, outputMetadata } from './write-matrix.ts';
import type { ExtractOptions, SourceResult, SourceSide } from './extract.ts';
import type { SourceConfig } from '../config/types.ts';
import { sourceResult, type SourceJob } from './source-job.ts';

/** What `openHubSource` gives every hub adapter. */
export type HubSource = Awaited<ReturnType<typeof openHubSource>>;

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';
/** Small files copied beside the matrix when the repo has them. */
export const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'config.json'] as const;

/** Locate the shard holding the embedding tensor; returns the shard name and the tensor name (if known yet). */
async function locateShard(
  client: HubClient,
  r: ResolvedRepo,
  source: SourceConfig,
  count: (n: number) => void,
): Promise<{ shard: string; tensor?: string; how?: string }> {
  const root = r.files.filter((f) => !f.includes('/'));
  if (r.files.length === 0 || r.files.includes(INDEX_FILE)) {
    const bytes = await fetchSmallFile(client, r.repo, r.commit, INDEX_FILE, count);
    if (bytes) {
      const where = `${r.repo}/${INDEX_FILE}`;
      const index = parseShardIndex(new TextDecoder().decode(bytes), where);
      const det = detectEmbeddingTensor(index.weightMap.keys(), where, source.tensor);
      const shard = index.weightMap.get(det.name)!;
      if (r.files.length > 0 && !r.files.includes(shard)) {
        throw new UserError(`${where} puts "${det.name}" in ${shard}, but ${r.repo}@${r.commit.slice(0, 12)} has no such file`);
      }
      return { shard, tensor: det.name, how: det.how };
    }
  }
  if (r.files.length === 0 || r.files.includes(SINGLE_FILE)) return { shard: SINGLE_FILE };
  const candidates = root.filter((f) => f.endsWith('.safetensors'));
  if (candidates.length === 1) return { shard: candidates[0]! };
  throw new UserError(
    candidates.length === 0
      ? `${r.repo}@${r.revision} has no safetensors weights (files: ${root.slice(0, 12).join(', ') || 'none'}); only safetensors checkpoints can be range-downloaded`
      : `${r.repo}@${r.revision} has several safetensors files (${candidates.join(', ')}) and no ${INDEX_FILE}; set path = "..." to a downloaded file instead`,
  );
}

/**
 * The tokenizer of a repo that ships none: every later stage needs one (and its pad token must be checked before
 * the matrix is fetched), so it is a tokenizer.json the user put into the output folder, or a one-line refusal
 * saying how to make one.
 */
function suppliedTokenizer(repo: string, resolved: ResolvedRepo, outPath: string): Uint8Array {
  const supplied = tokenizerPath(dirname(outPath));
  if (existsSync(supplied)) return readFileSync(supplied);
  const only = resolved.files.includes('tokenizer.model') ? ', only tokenizer.model (sentencepiece)' : '';
  throw new UserError(
    `${repo}@${resolved.commit.slice(0, 12)} has no tokenizer.json${only}; save one with transformers (AutoTokenizer.from_pretrained("${repo}").save_pretrained(DIR)), copy DIR/tokenizer.json to ${supplied} and run extract again`,
  );
}

/**
 * What every hub adapter starts with: the source's revision resolved to one commit (logged), a byte counter for
 * everything fetched, and `explainMoved`, which turns a failure caused by the branch moving mid-download into the
 * message naming both commits.
 */
export async function openHubSource(client: HubClient, source: SourceConfig, opts: ExtractOptions) {
  const repo = source.hf_model_id!;
  const fetched = { bytes: 0 };
  const count = (n: number) => {
    fetched.bytes += n;
  };
  const resolved = await resolveRepo(client, repo, source.revision);
  opts.log(`${source.name}: ${repo}@${source.revision} → commit ${resolved.commit.slice(0, 12)}`);
  const explainMoved = async (err: unknown): Promise<never> => {
    throw await movedRevisionError(client, resolved, err);
  };
  return { repo, resolved, fetched, count, explainMoved };
}

/** The embedding tensor of a hub repo: its shard (index → shard, or the single file), the shard's header, the tensor's entry. */
async function remoteTensor(client: HubClient, hub: HubSource, job: SourceJob) {
  const { source, where, opts } = job;
  const { repo, resolved, fetched, count, explainMoved } = hub;
  const located = await locateShard(client, resolved, source, count).catch(explainMoved);
  const remote = await readRemoteHeader(client, repo, resolved.commit, located.shard).catch(explainMoved);
  fetched.bytes += remote.bytes;
  const shardLabel = `${repo}/${located.shard}`;
  const det = located.tensor ? { name: located.tensor, how: located.how } : detectEmbeddingTensor(remote.header.tensors.keys(), shardLabel, source.tensor);
  const t = remote.header.tensors.get(det.name);
  if (!t) throw new UserError(`${shardLabel}: the index puts "${det.name}" in this shard but its header has no such tensor`);
  opts.log(`${source.name}: tensor ${det.name} (${det.how}) ${t.dtype} ${JSON.stringify(t.shape)} in ${located.shard}`);
  const rows = checkSourceTensor(t.shape, t.dtype, source, where, `${shardLabel}#${det.name}`);
  return { shard: located.shard, remote, name: det.name, t, rows, dim: t.shape[1]! };
}

export async function extractFromHub(job: SourceJob, client: HubClient): Promise<SourceResult> {
  const { source, outPath, opts } = job;
  const hub = await openHubSource(client, source, opts);
  const { repo, resolved, fetched, count, explainMoved } = hub;
  const { shard, remote, name, t, rows, dim } = await remoteTensor(client, hub, job);
  const srcBytes = DTYPE_BYTES[t.dtype as DType];
  const provenance = { repo, revision: resolved.commit, tensor: name, source_dtype: t.dtype, source_kind: 'hub' as const };
  const metadata = outputMetadata(provenance, rows, dim);

  // Small side files first: a gated/missing tokenizer shows up before gigabytes are fetched.
  const side: SourceSide = {};
  for (const f of SIDE_FILES) {
    const b = await fetchSmallFile(client, repo, resolved.commit, f, count).catch(explainMoved);
    if (b) side[f] = b;
  }
  if (!side['tokenizer.json']) side['tokenizer.json'] = suppliedTokenizer(repo, resolved, outPath);
  opts.checkSide(side, `${repo}/tokenizer.json`, source.name);

  const result = await downloadHubMatrix({
    client,
    job,
    remote: {
      url: remote.url,
      ctx: { repo, revision: resolved.commit, file: shard, hubUrl: client.hubUrl, hasToken: Boolean(client.token) },
      redirect: remote.redirect,
      size: remote.fileSize,
      etag: remote.etag,
    },
    srcStart: remote.header.dataStart + t.begin,
    srcLength: rows * dim * srcBytes,
    srcElemBytes: srcBytes,
    dstElemBytes: DTYPE_BYTES[opts.dtype],
    transform: chunkConverter(t.dtype as DType, opts.dtype),
    storedDtype: t.dtype,
    rows,
    dim,
    metadata,
    // The chunks were converted on their way in, so the rows are checked in the file they landed in (read back
    // from the page cache, before the rename): a NaN row would poison every mean it enters.
    checkRows: (partial, start) => refuseNonFiniteRows(partial, { start, rows, dim, dtype: opts.dtype, converted: t.dtype !== opts.dtype, path: outPath }),
  }).catch(explainMoved);
  fetched.bytes += result.bytesDownloaded;
  return sourceResult(job, {
    kind: 'hub',
    repo,
    revision: resolved.commit,
    tensor: name,
    source_dtype: t.dtype,
    rows,
    dim,
    shard,
    bytes_downloaded: fetched.bytes,
    bytes_resumed: result.bytesResumed,
    shard_bytes: remote.fileSize,
    tensor_bytes: t.end - t.begin,
    overflows: result.overflows,
    skipped: result.skipped,
    side,
    // The source's licence as its card states it: extract.json keeps it for the model card save writes.
    license: resolved.license,
  });
}
