/**
 * A GGUF file in a hub repo (`hf_model_id` + `gguf_file`): resolve the revision to a commit, parse the header and
 * tensor infos with Range requests only, then fetch only the token matrix's bytes through the verified, resumable
 * chunked download (src/hub/chunked-download.ts), decoding each chunk's whole blocks into the output file.
 */
import type { HubClient } from '../../hub/client.ts';
import { fetchSmallFile } from '../../hub/small-file.ts';
import { DTYPE_BYTES } from '../../safetensors/dtype.ts';
import { UserError } from '../../util/errors.ts';
import type { SourceResult, SourceSide } from '../extract.ts';
import { openHubSource, SIDE_FILES, type HubSource } from '../hub.ts';
import { downloadHubMatrix, refuseNonFiniteRows } from '../hub-matrix.ts';
import { sourceResult, type SourceJob } from '../source-job.ts';
import { readGgufHeader, type GgufHeader } from './header.ts';
import { openRemoteGguf } from './remote-source.ts';
import { ggufChunkConverter, ggufFacts, ggufMatrix, ggufOutputMetadata } from './source-matrix.ts';
import { tokenizerForGguf } from './source-tokenizer.ts';

export async function extractGgufFromHub(job: SourceJob, client: HubClient): Promise<SourceResult> {
  const { source, where, opts } = job;
  const hub = await openHubSource(client, source, opts);
  const { repo, resolved, fetched, explainMoved } = hub;
  const file = source.gguf_file!;
  if (resolved.files.length > 0 && !resolved.files.includes(file)) {
    const ggufs = resolved.files.filter((f) => /\.gguf$/i.test(f));
    throw new UserError(
      `${where.configFile}: ${where.table} gguf_file: ${repo}@${resolved.commit.slice(0, 12)} has no "${file}" (its GGUF files: ${ggufs.slice(0, 12).join(', ') || 'none'})`,
    );
  }
  const remote = await openRemoteGguf(client, repo, resolved.commit, file).catch(explainMoved);
  const label = `${repo}/${file}`;
  let header;
  try {
    header = await readGgufHeader(remote);
  } finally {
    fetched.bytes += remote.bytesRead();
  }
  const m = ggufMatrix(header, label, source, where);
  opts.log(`${source.name}: tensor ${m.tensor.info.name} ${m.layout.name} [${m.tensor.vocab}, ${m.dim}] in ${file} (header: ${remote.bytesRead()} bytes)`);
  const metadata = ggufOutputMetadata(m, { repo, revision: resolved.commit, kind: 'hub' }, { gguf_file: file });
  const side = await hubTokenizer(client, hub, job, header, label);

  const result = await downloadHubMatrix({
    client,
    job,
    remote,
    srcStart: m.tensor.info.fileOffset,
    srcLength: m.rows * m.tensor.rowBytes,
    // A chunk holds whole ggml blocks, so each one decodes on its own.
    srcElemBytes: m.layout.bytes,
    dstElemBytes: m.layout.values * DTYPE_BYTES[opts.dtype],
    transform: ggufChunkConverter(m, opts.dtype, `${label}: tensor "${m.tensor.info.name}"`),
    storedDtype: m.layout.name,
    rows: m.rows,
    dim: m.dim,
    metadata,
    // Dequantized rows land in the output dtype; a block whose scale is NaN makes NaN rows, refused before the rename.
    checkRows: (partial, start) =>
      refuseNonFiniteRows(partial, { start, rows: m.rows, dim: m.dim, dtype: opts.dtype, converted: m.layout.name !== opts.dtype, path: job.outPath }),
  }).catch(explainMoved);
  fetched.bytes += result.bytesDownloaded;
  return sourceResult(job, {
    ...ggufFacts(m),
    kind: 'hub',
    repo,
    revision: resolved.commit,
    shard: file,
    bytes_downloaded: fetched.bytes,
    bytes_resumed: result.bytesResumed,
    shard_bytes: remote.size,
    overflows: result.overflows,
    skipped: result.skipped,
    side,
  });
}

/** The repo's small side files, then the tokenizer the source uses, checked: a missing one shows up before gigabytes are fetched. */
async function hubTokenizer(client: HubClient, hub: HubSource, job: SourceJob, header: GgufHeader, label: string): Promise<SourceSide> {
  const { repo, resolved, count, explainMoved } = hub;
  const found: SourceSide = {};
  for (const f of SIDE_FILES) {
    if (resolved.files.length > 0 && !resolved.files.includes(f)) continue;
    const b = await fetchSmallFile(client, repo, resolved.commit, f, count).catch(explainMoved);
    if (b) found[f] = b;
  }
  const lookedIn = `${repo}@${resolved.commit.slice(0, 12)}`;
  const tok = await tokenizerForGguf({ source: job.source, where: job.where, header, file: label, found, lookedIn, client: () => client, count });
  job.opts.checkSide(tok.side, tok.from, job.source.name);
  return tok.side;
}
