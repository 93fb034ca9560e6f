/**
 * A local GGUF source (`gguf = ...`, or `--from` / `path =` naming a GGUF file): parse the header, check the token
 * matrix against the config, then decode it block by block in row blocks straight into the extracted file.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { HubClient } from '../../hub/client.ts';
import { EXTRACTED_TENSOR } from '../../layout/tensor-names.ts';
import { SafetensorsWriter } from '../../safetensors/writer.ts';
import { UserError } from '../../util/errors.ts';
import type { SourceResult } from '../extract.ts';
import { localSideFiles } from '../local.ts';
import { refuseNonFinite } from '../write-matrix.ts';
import { NonFiniteRows } from '../../util/non-finite.ts';
import { localSourceResult, type SourceJob } from '../source-job.ts';
import { openFileSource } from './file-source.ts';
import { readGgufHeader, type ByteSource } from './header.ts';
import { ggufChunkConverter, ggufFacts, ggufMatrix, ggufOutputMetadata, type GgufMatrix } from './source-matrix.ts';
import { tokenizerForGguf } from './source-tokenizer.ts';

/** Stored bytes decoded per step (whole rows, at least one). */
const BLOCK_BYTES = 8 * 1024 * 1024;

export async function extractGgufFromFile(job: SourceJob, fromPath: string, client: () => HubClient): Promise<SourceResult> {
  const { source, where, outPath, opts } = job;
  const path = resolve(fromPath);
  if (!existsSync(path) || !statSync(path).isFile()) throw new UserError(`${path}: no such GGUF file (from gguf = ..., path = ... or --from)`);
  const file = await openFileSource(path);
  try {
    const src = { ...file, name: path };
    const header = await readGgufHeader(src);
    const m = ggufMatrix(header, path, source, where);
    opts.log(`${source.name}: tensor ${m.tensor.info.name} ${m.layout.name} [${m.tensor.vocab}, ${m.dim}] in ${path}`);
    const metadata = ggufOutputMetadata(m, { repo: source.hf_model_id ?? path, revision: 'local', kind: 'local' }, { path });
    const dir = dirname(path);
    const tok = await tokenizerForGguf({ source, where, header, file: path, found: localSideFiles(dir), lookedIn: dir, client });
    opts.checkSide(tok.side, tok.from, source.name);
    const skip = await opts.isCurrent(outPath, metadata, opts.dtype);
    let overflows = 0;
    if (skip) opts.log(`${source.name}: ${outPath} is already extracted from this file (use --force to redo)`);
    else overflows = await decodeRows(src, m, metadata, job);
    return localSourceResult(job, {
      ...ggufFacts(m),
      kind: 'local',
      repo: metadata.repo!,
      shard: path,
      shard_bytes: file.size,
      overflows,
      skipped: skip,
      side: tok.side,
    });
  } finally {
    await file.close();
  }
}

/** Decode the token matrix in row blocks of about BLOCK_BYTES straight into the output file; returns the f16 overflows. */
async function decodeRows(src: ByteSource, m: GgufMatrix, metadata: Record<string, string>, job: SourceJob): Promise<number> {
  const { outPath, opts, source } = job;
  const { rowBytes } = m.tensor;
  const progress = opts.progress(source.name, m.rows * rowBytes);
  const convert = ggufChunkConverter(m, opts.dtype, `${src.name}: tensor "${m.tensor.info.name}"`);
  const w = await SafetensorsWriter.create(outPath, [{ name: EXTRACTED_TENSOR, dtype: opts.dtype, shape: [m.rows, m.dim] }], metadata);
  let overflows = 0;
  // Rows are checked as they are decoded (a ggml block with a NaN scale decodes to NaN): after a narrowing
  // conversion ±Inf may be an f16 overflow, counted apart, so only NaN counts there.
  const nonFinite = new NonFiniteRows(m.dim);
  const converted = m.layout.name !== opts.dtype;
  try {
    const block = Math.max(1, Math.floor(BLOCK_BYTES / rowBytes));
    for (let row = 0; row < m.rows; row += block) {
      const count = Math.min(block, m.rows - row);
      const out = convert(await src.read(m.tensor.info.fileOffset + row * rowBytes, count * rowBytes));
      overflows += out.overflows;
      if (converted && opts.dtype !== 'F32') nonFinite.addNaNBytes(out.bytes, opts.dtype, row);
      else nonFinite.addBytes(out.bytes, opts.dtype, row);
      await w.write(out.bytes);
      progress.update((row + count) * rowBytes);
    }
    refuseNonFinite(nonFinite, m.rows, outPath);
    await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
  progress.finish();
  return overflows;
}
