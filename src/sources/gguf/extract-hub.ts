/**
 * A GGUF file in a hub repo (`hf_model_id` + `gguf_file`): resolve the revision to a commit, parse the header and
 * tensor infos with Range requests only, then fetch only the token matrix's bytes through the verified, resumable
 * chunked download (src/hub/chunked-download.ts), decoding each chunk's whole blocks into the output file.
 */
import type { SourceConfig } from '../../config/types.ts';
import type { HubClient } from '../../hub/client.ts';
import { fetchSmallFile } from '../../hub/small-file.ts';
import { DTYPE_BYTES } from '../../safetensors/dtype.ts';
import { UserError } from '../../util/errors.ts';
import type { ExtractOptions, SourceResult, SourceSide } from '../extract.ts';
import { openHubSource, SIDE_FILES } from '../hub.ts';
import { downloadHubMatrix } from '../hub-matrix.ts';
import { outputHeader, type SourceWhere } from '../write-matrix.ts';
import { readGgufHeader } from './header.ts';
import { openRemoteGguf } from './remote-source.ts';
import { ggufChunkConverter, ggufMatrix, ggufOutputMetadata } from './source-matrix.ts';
import { tokenizerForGguf } from './source-tokenizer.ts';

export async function extractGgufFromHub(
  source: SourceConfig,
  where: SourceWhere,
  outPath: string,
  opts: ExtractOptions,
  client: HubClient,
): Promise<SourceResult> {
  const t0 = performance.now();
  const { repo, resolved, fetched, count, explainMoved } = await openHubSource(client, source, opts);
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

  // Small side files first: a missing tokenizer shows up before gigabytes are fetched.
  const found: SourceSide = {};
  for (const f of SIDE_FILES) {
    if (resolved.files.length > 0 && !resolved.files.includes(f)) continue;
    const b = await fetchSmallFile(client, repo, resolved.commit, f, count).catch(explainMoved);
    if (b) found[f] = b;
  }
  const tok = await tokenizerForGguf({
    source,
    where,
    header,
    file: label,
    found,
    lookedIn: `${repo}@${resolved.commit.slice(0, 12)}`,
    client: () => client,
    count,
  });
  opts.checkSide(tok.side, tok.from, source.name);

  const skip = await opts.isCurrent(outPath, metadata, opts.dtype);
  let result = { bytesDownloaded: 0, bytesResumed: 0, overflows: 0, chunks: 0 };
  const srcLength = m.rows * m.tensor.rowBytes;
  if (skip) {
    opts.log(`${source.name}: ${outPath} is already extracted from this commit (use --force to redo)`);
  } else {
    result = await downloadHubMatrix({
      client,
      opts,
      sourceName: source.name,
      remote,
      srcStart: m.tensor.info.fileOffset,
      srcLength,
      // A chunk holds whole ggml blocks, so each one decodes on its own.
      srcElemBytes: m.layout.bytes,
      dstElemBytes: m.layout.values * DTYPE_BYTES[opts.dtype],
      transform: ggufChunkConverter(m, opts.dtype, `${label}: tensor "${m.tensor.info.name}"`),
      storedDtype: m.layout.name,
      outPath,
      outHeader: outputHeader(m.rows, m.dim, opts.dtype, metadata),
      identity: { ...metadata, dtype: opts.dtype, shard: file },
    }).catch(explainMoved);
    fetched.bytes += result.bytesDownloaded;
  }
  return {
    name: source.name,
    file: outPath,
    kind: 'hub',
    repo,
    revision: resolved.commit,
    tensor: m.tensor.info.name,
    source_dtype: m.layout.name,
    dtype: opts.dtype,
    rows: m.rows,
    dim: m.dim,
    shard: file,
    bytes_downloaded: fetched.bytes,
    bytes_resumed: result.bytesResumed,
    shard_bytes: remote.size,
    tensor_bytes: m.tensor.info.byteLength ?? m.tensor.vocab * m.tensor.rowBytes,
    seconds: (performance.now() - t0) / 1000,
    overflows: result.overflows,
    skipped: skip,
    source_format: 'gguf',
    dequantized: m.dequantized,
    side: tok.side,
  };
}
