/**
 * A local GGUF source (`gguf = ...`, or `--from` / `path =` naming a GGUF file): parse the header, check the token
 * matrix against the config, then decode it block by block in row blocks straight into the extracted file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { SourceConfig } from '../../config/types.ts';
import type { HubClient } from '../../hub/client.ts';
import { EXTRACTED_TENSOR } from '../../layout/tensor-names.ts';
import { SafetensorsWriter } from '../../safetensors/writer.ts';
import { UserError } from '../../util/errors.ts';
import type { ExtractOptions, SourceResult, SourceSide } from '../extract.ts';
import { SIDE_FILES } from '../hub.ts';
import type { SourceWhere } from '../write-matrix.ts';
import { openFileSource } from './file-source.ts';
import { readGgufHeader } from './header.ts';
import { ggufChunkConverter, ggufMatrix, ggufOutputMetadata } from './source-matrix.ts';
import { tokenizerForGguf } from './source-tokenizer.ts';

/** Stored bytes decoded per step (whole rows, at least one). */
const BLOCK_BYTES = 8 * 1024 * 1024;

export async function extractGgufFromFile(
  source: SourceConfig,
  where: SourceWhere,
  fromPath: string,
  outPath: string,
  opts: ExtractOptions,
  client: () => HubClient,
): Promise<SourceResult> {
  const t0 = performance.now();
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
    const found: SourceSide = {};
    for (const f of SIDE_FILES) {
      const p = join(dir, f);
      if (existsSync(p)) found[f] = readFileSync(p);
    }
    const tok = await tokenizerForGguf({ source, where, header, file: path, found, lookedIn: dir, client });
    opts.checkSide(tok.side, tok.from, source.name);
    const skip = await opts.isCurrent(outPath, metadata, opts.dtype);
    let overflows = 0;
    if (skip) {
      opts.log(`${source.name}: ${outPath} is already extracted from this file (use --force to redo)`);
    } else {
      const { rowBytes } = m.tensor;
      const total = m.rows * rowBytes;
      const progress = opts.progress(source.name, total);
      const convert = ggufChunkConverter(m, opts.dtype, `${path}: tensor "${m.tensor.info.name}"`);
      const w = await SafetensorsWriter.create(outPath, [{ name: EXTRACTED_TENSOR, dtype: opts.dtype, shape: [m.rows, m.dim] }], metadata);
      try {
        const block = Math.max(1, Math.floor(BLOCK_BYTES / rowBytes));
        for (let row = 0; row < m.rows; row += block) {
          const count = Math.min(block, m.rows - row);
          const out = convert(await src.read(m.tensor.info.fileOffset + row * rowBytes, count * rowBytes));
          overflows += out.overflows;
          await w.write(out.bytes);
          progress.update((row + count) * rowBytes);
        }
        await w.commit();
      } catch (err) {
        await w.abort();
        throw err;
      }
      progress.finish();
    }
    return {
      name: source.name,
      file: outPath,
      kind: 'local',
      repo: metadata.repo!,
      revision: 'local',
      tensor: m.tensor.info.name,
      source_dtype: m.layout.name,
      dtype: opts.dtype,
      rows: m.rows,
      dim: m.dim,
      shard: path,
      bytes_downloaded: 0,
      bytes_resumed: 0,
      shard_bytes: file.size,
      tensor_bytes: m.tensor.info.byteLength ?? m.tensor.vocab * m.tensor.rowBytes,
      seconds: (performance.now() - t0) / 1000,
      overflows,
      skipped: skip,
      source_format: 'gguf',
      dequantized: m.dequantized,
      side: tok.side,
    };
  } finally {
    await file.close();
  }
}
