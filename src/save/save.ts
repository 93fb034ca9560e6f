/**
 * The library behind `pipeline save`: read the best (or given) checkpoint, project the whole vocabulary block
 * by block through the input matrix, and write per Matryoshka dim `<config>_<dim>.safetensors` (F16
 * `embedding.weight` [n_vocab, dim]) plus `tokenizer.json`, `config.json` and a model card `README.md`.
 * Writers stream in parallel (one pass over the input for all dims); every file appears atomically. int8 needs
 * each matrix's largest value before its first code is written, so it projects twice: once for the ranges,
 * once to write.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openInputMatrix } from '../concat/open-input.ts';
import type { ModelConfig } from '../config/types.ts';
import { SafetensorsFile } from '../safetensors/file.ts';
import { SafetensorsWriter } from '../safetensors/writer.ts';
import { loadTokenizerFile } from '../tokenize/node.ts';
import { requireTokenId } from '../tokenize/tokenizer.ts';
import { readModelCheckpoint, type LoadedCheckpoint } from '../model/checkpoint.ts';
import type { ModelParams } from '../model/params.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { createProgress } from '../util/progress.ts';
import { modelCard } from './model-card.ts';
import { jsProjector, tfProjector, truncateColumns, type BlockProjector } from './project.ts';
import { SAVED_TENSOR } from '../layout/tensor-names.ts';
import { SAVED_MODEL_TYPE, buildSavedModelConfig, isSavedModelConfig, type SavedDtype } from '../layout/saved-config.ts';
import { encodeInt8, int8Step, maxAbs } from '../export/rows.ts';
import { CHECKPOINT_MODEL_FILE, CONCAT_FILE, savedFileDim, savedFileName } from '../layout/file-names.ts';
import { padTokenFor } from '../layout/extract-record.ts';
import {
  checkpointModelPath,
  extractFactsPath,
  modelCardPath,
  modelConfigPath,
  savedModelPath,
  sourceConfigPath,
  sourcePath,
  tokenizerConfigPath,
  tokenizerPath,
} from '../layout/weights-dir.ts';

export { SAVED_TENSOR };

export interface SaveOptions {
  config: ModelConfig;
  /** weights/<config>: holds checkpoints/, the extracted sources, tokenizer.json. */
  outDir: string;
  /** Where the model files go (default: outDir). */
  saveDir?: string;
  /** Dims to write (default: [save] dims, else the checkpoint's Matryoshka dims). */
  dims?: number[];
  /** "best" (default), "last", or a path to a checkpoint folder / model.safetensors. */
  checkpoint?: string;
  blockRows?: number;
  /**
   * Storage type of the rows: f16 (default, WordLlama's), f32 (exact, twice the size) or int8 (half of f16: one
   * step per file, model2vec's rule, kept in config.json's `scales`; costs a second projection pass).
   */
  dtype?: SavedDtype;
  /** "js" (plain loop), or a TF.js backend choice: auto (default) | node | wasm | cpu. */
  backend?: string;
  quiet?: boolean;
  log?: (message: string) => void;
}

export interface SavedFile {
  dim: number;
  path: string;
  bytes: number;
}

export interface SaveResult {
  saveDir: string;
  files: SavedFile[];
  configPath: string;
  readmePath: string;
  step: number;
  seconds: number;
  overflows: number;
  /** How the projection ran ("js", "wasm", ...). */
  engine: string;
}

export { savedFileName };

/** Resolve "best" | "last" | a path to the checkpoint's model.safetensors. */
export function checkpointPath(outDir: string, which = 'best'): string {
  if (which === 'best' || which === 'last') return checkpointModelPath(outDir, which);
  const p = resolve(which);
  return p.endsWith('.safetensors') ? p : join(p, CHECKPOINT_MODEL_FILE);
}

/** Dims to save: explicit, else `[save] dims`, else the checkpoint's Matryoshka dims; all ≤ the projection. */
export function chooseDims(config: ModelConfig, ckpt: LoadedCheckpoint, explicit?: number[]): number[] {
  let dims = explicit;
  let where = '--dims';
  if (!dims && config.save.dims !== undefined) {
    dims = config.save.dims;
    where = `${config.file}: [save] dims`;
  }
  dims ??= ckpt.meta.matryoshka_dims.length > 0 ? ckpt.meta.matryoshka_dims : [ckpt.params.dimOut];
  const over = dims.filter((d) => d > ckpt.params.dimOut);
  if (over.length > 0) throw new UserError(`${where}: ${over.join(', ')} exceed the trained projection width ${ckpt.params.dimOut}`);
  return [...new Set(dims)].sort((a, b) => b - a);
}

/** Provenance of the inputs: extract.json facts, else the sources' safetensors metadata. */
async function sourceProvenance(config: ModelConfig, outDir: string): Promise<Record<string, unknown>[]> {
  let facts: Record<string, unknown>[] = [];
  const factsPath = extractFactsPath(outDir);
  if (existsSync(factsPath)) {
    try {
      facts = (JSON.parse(readFileSync(factsPath, 'utf8')) as { sources?: Record<string, unknown>[] }).sources ?? [];
    } catch {
      facts = [];
    }
  }
  const out: Record<string, unknown>[] = [];
  for (const s of config.sources) {
    const fact = facts.find((f) => f.name === s.name);
    let meta: Record<string, string> = {};
    const file = sourcePath(outDir, s.name);
    if (existsSync(file)) {
      const f = await SafetensorsFile.open(file);
      meta = f.header.metadata;
      await f.close();
    }
    out.push({
      name: s.name,
      repo: meta.repo ?? fact?.repo ?? s.hf_model_id ?? s.tfjs_model ?? s.path,
      revision: meta.revision ?? fact?.revision ?? s.revision,
      tensor: meta.tensor ?? fact?.tensor ?? s.tensor,
      source_dtype: meta.source_dtype ?? fact?.source_dtype,
      source_kind: meta.source_kind ?? fact?.kind,
      ...(meta.dequantized === 'true' ? { dequantized_from: meta.source_dtype } : {}),
      dim: s.dim,
      // Recorded by extract from the hub's model info (cardData.license); absent for local files.
      license: typeof fact?.license === 'string' ? fact.license : undefined,
    });
  }
  return out;
}

/**
 * The projection engine: "js" forces the plain loop; otherwise TF.js on the chosen backend (D's backend
 * selection: tfjs-node, else wasm, else cpu). The pure-JS cpu backend is no faster than the plain loop, so
 * "auto" uses the loop when only cpu is available.
 */
export async function createProjector(params: ModelParams, backend = 'auto'): Promise<BlockProjector> {
  if (backend === 'js') return jsProjector(params);
  const { selectBackend } = await import('../tfjs/backend.ts');
  const b = await selectBackend(backend);
  if (b.name === 'cpu' && backend === 'auto') return jsProjector(params);
  return tfProjector(b.tf, params, b.name);
}

export async function runSave(opts: SaveOptions): Promise<SaveResult> {
  const t0 = performance.now();
  const { config, outDir } = opts;
  const saveDir = resolve(opts.saveDir ?? outDir);
  const quiet = Boolean(opts.quiet);
  const ckptFile = checkpointPath(outDir, opts.checkpoint);
  if (!existsSync(ckptFile)) throw new UserError(`${ckptFile}: checkpoint not found; run: pipeline train --config ${config.name}`);
  const ckpt = await readModelCheckpoint(ckptFile);
  const { params, meta } = ckpt;
  const dims = chooseDims(config, ckpt, opts.dims);
  const tokPath = tokenizerPath(outDir);
  if (!existsSync(tokPath)) throw new UserError(`${tokPath} not found; run: pipeline extract --config ${config.name}`);
  const tokenizer = loadTokenizerFile(tokPath);
  const padToken = padTokenFor(config, outDir);
  const padId = requireTokenId(tokenizer, padToken, `${config.file}: [model]`, 'pad_token');

  const projector = await createProjector(params, opts.backend);
  opts.log?.(`save: projecting with ${projector.engine}`);
  const matrix = await openInputMatrix(config, outDir);
  const writers: { dim: number; w: SafetensorsWriter; buf: Float32Array; wbuf?: Float32Array }[] = [];
  let overflows = 0;
  /** dtype int8: width → step of its codes. */
  const int8Steps: Record<string, number> = {};
  try {
    if (matrix.dim !== params.dimIn) {
      throw new UserError(`${ckptFile}: trained on ${params.dimIn} input columns, but ${matrix.label} has ${matrix.dim}; retrain or use the matching config`);
    }
    const unwhitened = dims.filter((d) => params.whiten && !params.whiten[d]);
    if (unwhitened.length > 0) {
      throw new UserError(
        `${ckptFile}: the model is whitened for dims ${Object.keys(params.whiten!).join(', ')}, not ${unwhitened.join(', ')}; save only those dims (the whitening is fitted per Matryoshka dim)`,
      );
    }
    if (params.tokenDelta && params.tokenDelta.length !== config.n_vocab * params.dimOut) {
      throw new UserError(`${ckptFile}: token_delta has ${params.tokenDelta.length / params.dimOut} rows, but ${config.file} has n_vocab ${config.n_vocab}`);
    }
    if (params.tokenWeights && params.nVocab !== config.n_vocab) {
      throw new UserError(`${ckptFile}: ${params.nVocab} token weights, but ${config.file} has n_vocab ${config.n_vocab}`);
    }
    const rows = config.n_vocab;
    const blockRows = opts.blockRows ?? Math.max(64, Math.floor((1 << 22) / Math.max(params.dimIn, params.dimOut)));
    for (const dim of dims) {
      const metadata = {
        format: 'pt',
        model_type: SAVED_MODEL_TYPE,
        name: config.name,
        dim: String(dim),
        step: String(meta.step),
        binarized: String(meta.binarize !== 'none'),
      };
      const w = await SafetensorsWriter.create(
        savedModelPath(saveDir, config.name, dim),
        [{ name: SAVED_TENSOR, dtype: opts.dtype === 'f32' ? 'F32' : opts.dtype === 'int8' ? 'I8' : 'F16', shape: [rows, dim] }],
        metadata,
      );
      writers.push({ dim, w, buf: new Float32Array(blockRows * dim), wbuf: params.whiten?.[dim] ? new Float32Array(blockRows * dim) : undefined });
    }
    const input = new Float32Array(blockRows * params.dimIn);
    const projected = new Float32Array(blockRows * params.dimOut);
    /** One pass over the vocabulary: every block's final rows of each dim go to `use`. */
    const eachBlock = async (label: string, use: (writer: (typeof writers)[number], values: Float32Array) => Promise<void> | void) => {
      const progress = createProgress(label, { unit: 'rows', total: rows, quiet });
      for (let start = 0; start < rows; start += blockRows) {
        const count = Math.min(blockRows, rows - start);
        const block = await matrix.readRows(start, count, input);
        const full = projector.project(block, start, count, projected);
        for (const writer of writers) {
          const { dim, buf, wbuf } = writer;
          const rowsOut = truncateColumns(full, count, params.dimOut, dim, buf);
          const T = params.whiten?.[dim];
          await use(writer, T ? projector.whiten(rowsOut, count, dim, T, wbuf) : rowsOut);
        }
        progress.update(start + count);
      }
      progress.finish();
    };
    if (opts.dtype === 'int8') {
      const max = new Map<number, number>();
      await eachBlock('save: int8 ranges', ({ dim }, values) => void max.set(dim, maxAbs(values, max.get(dim))));
      for (const d of dims) int8Steps[String(d)] = int8Step(max.get(d) ?? 0);
      await eachBlock('save: projecting', ({ dim, w }, values) => w.write(encodeInt8(values, int8Steps[String(dim)]!)));
    } else {
      await eachBlock('save: projecting', ({ w }, values) => w.writeF32(values));
    }
    for (const { w } of writers) {
      overflows += w.overflows;
      await w.commit();
    }
  } catch (err) {
    for (const { w } of writers) await w.abort();
    throw err;
  } finally {
    projector.dispose();
    await matrix.close();
  }

  // Files of dims no longer saved would contradict config.json (and loaders pick files by dim): remove them.
  for (const f of readdirSync(saveDir)) {
    const dim = savedFileDim(config.name, f);
    if (dim !== undefined && !dims.includes(dim)) rmSync(join(saveDir, f), { force: true });
  }
  // tokenizer.json beside the model (already there when saving into the weights folder).
  if (resolve(tokenizerPath(saveDir)) !== resolve(tokPath)) {
    await writeFileAtomic(tokenizerPath(saveDir), readFileSync(tokPath));
    const tc = tokenizerConfigPath(outDir);
    if (existsSync(tc)) copyFileSync(tc, tokenizerConfigPath(saveDir));
  }
  // extract may have left the source model's config.json here; keep it as source_config.json.
  const configPath = modelConfigPath(saveDir);
  if (existsSync(configPath)) {
    try {
      if (!isSavedModelConfig(JSON.parse(readFileSync(configPath, 'utf8')))) await writeFileAtomic(sourceConfigPath(saveDir), readFileSync(configPath));
    } catch {
      // not JSON: overwritten below
    }
  }
  const sources = await sourceProvenance(config, outDir);
  const files = dims.map((dim) => {
    const path = savedModelPath(saveDir, config.name, dim);
    return { dim, path, bytes: statSync(path).size };
  });
  const evals = meta.eval ?? [];
  const modelConfig = buildSavedModelConfig({
    name: config.name,
    description: config.description,
    dims,
    n_vocab: config.n_vocab,
    pad_token: padToken,
    pad_token_id: padId,
    binarized: meta.binarize !== 'none',
    binarize: meta.binarize,
    normalize: true,
    dtype: opts.dtype ?? 'f16',
    ...(opts.dtype === 'int8' ? { scales: int8Steps } : {}),
    whiten: params.whiten ? ((meta.config.training as { whiten?: number } | undefined)?.whiten ?? true) : undefined,
    whitened_dims: params.whiten ? Object.keys(params.whiten).map(Number) : undefined,
    token_delta: params.tokenDelta !== undefined,
    max_length: config.tokenizer.max_length,
    add_special_tokens: false,
    source: {
      config: config.name,
      dim_in: params.dimIn,
      sources,
      concat: config.sources.length > 1 ? CONCAT_FILE : undefined,
      checkpoint: ckptFile,
      step: meta.step,
      token_weights: meta.token_weights,
      training: meta.config,
    },
    eval: evals,
  });
  await writeJsonAtomic(configPath, modelConfig);
  const readmePath = modelCardPath(saveDir);
  await writeFileAtomic(
    readmePath,
    modelCard({
      name: config.name,
      description: config.description,
      dims,
      nVocab: config.n_vocab,
      dimIn: params.dimIn,
      binarized: meta.binarize !== 'none',
      padToken,
      maxLength: config.tokenizer.max_length,
      sources: sources.map((s) => ({
        name: String(s.name),
        repo: s.repo as string | undefined,
        revision: s.revision as string | undefined,
        dim: s.dim as number,
        license: typeof s.license === 'string' ? s.license : undefined,
        dequantizedFrom: typeof s.dequantized_from === 'string' ? s.dequantized_from : undefined,
      })),
      step: meta.step,
      evals,
      files: files.map((f) => ({ dim: f.dim, file: savedFileName(config.name, f.dim), bytes: f.bytes })),
      dtype: opts.dtype,
      tokenDelta: params.tokenDelta !== undefined,
      whiten: params.whiten ? Number((meta.config.training as { whiten?: number } | undefined)?.whiten ?? 0) || undefined : undefined,
    }),
  );
  return { saveDir, files, configPath, readmePath, step: meta.step, seconds: (performance.now() - t0) / 1000, overflows, engine: projector.engine };
}
