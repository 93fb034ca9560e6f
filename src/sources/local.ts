/**
 * A local source (`--from` or `path = ...`): a safetensors file, or a folder with an index, a single
 * model.safetensors, or shards to search. Copies just the embedding tensor by row blocks, converting dtype,
 * and takes tokenizer.json / tokenizer_config.json / config.json from the same folder when present.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SafetensorsFile } from '../safetensors/file.ts';
import { parseShardIndex } from '../safetensors/shard-index.ts';
import type { DType } from '../safetensors/dtype.ts';
import { UserError } from '../util/errors.ts';
import { detectEmbeddingTensor } from './detect.ts';
import { SIDE_FILES, INDEX_FILE, SINGLE_FILE } from './hub.ts';
import { checkSourceTensor, outputMetadata, writeMatrixFromBytes } from './write-matrix.ts';
import type { SourceResult, SourceSide } from './extract.ts';
import { localSourceResult, type SourceJob } from './source-job.ts';

/** Find the file holding the embedding tensor under `path` and the tensor's name. */
async function locateLocalTensor(path: string, configured?: string): Promise<{ file: string; tensor: string; how: string }> {
  if (!existsSync(path)) throw new UserError(`${path}: no such file or folder (from --from or path = ...)`);
  if (statSync(path).isFile()) {
    const f = await SafetensorsFile.open(path);
    try {
      const det = detectEmbeddingTensor(f.tensorNames, path, configured);
      return { file: path, tensor: det.name, how: det.how };
    } finally {
      await f.close();
    }
  }
  const indexPath = join(path, INDEX_FILE);
  if (existsSync(indexPath)) {
    const index = parseShardIndex(readFileSync(indexPath, 'utf8'), indexPath);
    const det = detectEmbeddingTensor(index.weightMap.keys(), indexPath, configured);
    const shard = join(path, index.weightMap.get(det.name)!);
    if (!existsSync(shard)) {
      throw new UserError(`${indexPath} puts "${det.name}" in ${basename(shard)}, which is missing from ${path}; download that shard`);
    }
    return { file: shard, tensor: det.name, how: det.how };
  }
  const single = join(path, SINGLE_FILE);
  const files = existsSync(single)
    ? [single]
    : readdirSync(path)
        .filter((n) => n.endsWith('.safetensors'))
        .sort()
        .map((n) => join(path, n));
  if (files.length === 0) throw new UserError(`${path}: no .safetensors files (and no ${INDEX_FILE})`);
  const errors: string[] = [];
  for (const file of files) {
    const f = await SafetensorsFile.open(file);
    try {
      const det = detectEmbeddingTensor(f.tensorNames, file, configured);
      return { file, tensor: det.name, how: det.how };
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      errors.push(err.message);
    } finally {
      await f.close();
    }
  }
  throw new UserError(
    files.length === 1
      ? errors[0]!
      : `${path}: none of ${files.length} safetensors files holds a token-embedding tensor${configured ? ` named "${configured}"` : ''}; set tensor = "..."`,
  );
}

/** The side files (tokenizer.json, tokenizer_config.json, config.json) found in a local folder. */
export function localSideFiles(dir: string): SourceSide {
  const side: SourceSide = {};
  for (const f of SIDE_FILES) {
    const p = join(dir, f);
    if (existsSync(p)) side[f] = readFileSync(p);
  }
  return side;
}

export async function extractFromLocal(job: SourceJob, fromPath: string): Promise<SourceResult> {
  const { source, where, outPath, opts } = job;
  const path = resolve(fromPath);
  const loc = await locateLocalTensor(path, source.tensor);
  const file = await SafetensorsFile.open(loc.file);
  try {
    const t = file.tensor(loc.tensor);
    opts.log(`${source.name}: tensor ${loc.tensor} (${loc.how}) ${t.dtype} ${JSON.stringify(t.shape)} in ${loc.file}`);
    const rows = checkSourceTensor(t.shape, t.dtype, source, where, `${loc.file}#${loc.tensor}`);
    const dim = t.shape[1]!;
    const repo = source.hf_model_id ?? path;
    const provenance = { repo, revision: 'local', tensor: loc.tensor, source_dtype: t.dtype, source_kind: 'local' as const };
    const metadata = outputMetadata(provenance, rows, dim, { path: loc.file });
    const dir = statSync(path).isFile() ? dirname(path) : path;
    const side = localSideFiles(dir);
    if (!side['tokenizer.json']) {
      side.note = existsSync(join(dir, 'tokenizer.model'))
        ? `${dir} has no tokenizer.json, only tokenizer.model (sentencepiece); save a tokenizer.json with transformers and put it into the output folder`
        : `${dir} has no tokenizer.json`;
    }
    opts.checkSide(side, `${dir}/tokenizer.json`, source.name);
    const skip = await opts.isCurrent(outPath, metadata, opts.dtype);
    let overflows = 0;
    if (skip) {
      opts.log(`${source.name}: ${outPath} is already extracted from this file (use --force to redo)`);
    } else {
      const rowBytes = (t.end - t.begin) / t.shape[0]!;
      const progress = opts.progress(source.name, rows * rowBytes);
      const read = (start: number, len: number) => file.readBytes(t, start, len);
      const res = await writeMatrixFromBytes(read, t.dtype as DType, dim, outPath, rows, opts.dtype, metadata, (n) => progress.update(n));
      progress.finish();
      overflows = res.overflows;
    }
    const shard_bytes = statSync(loc.file).size;
    const facts = { tensor: loc.tensor, source_dtype: t.dtype, rows, dim, shard: loc.file, shard_bytes, tensor_bytes: t.end - t.begin };
    return localSourceResult(job, { kind: 'local', repo, ...facts, overflows, skipped: skip, side });
  } finally {
    await file.close();
  }
}
