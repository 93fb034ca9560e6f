/**
 * The library behind `pipeline save`: read the best (or given) checkpoint, project the whole vocabulary block
 * by block through the input matrix, and write per Matryoshka dim `<config>_<dim>.safetensors` (F16
 * `embedding.weight` [n_vocab, dim]) plus `tokenizer.json`, `config.json` and a model card `README.md`.
 * The projection pass (project-vocabulary.ts) writes every dim from one pass over the input; every file appears
 * atomically. This file checks the inputs first and writes the files that describe the model afterwards.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openInputMatrix } from '../concat/open-input.ts';
import type { ModelConfig } from '../config/types.ts';
import { SafetensorsFile } from '../safetensors/file.ts';
import { loadTokenizerFile } from '../tokenize/node.ts';
import { requireTokenId } from '../tokenize/tokenizer.ts';
import { readModelCheckpoint, type LoadedCheckpoint } from '../model/checkpoint.ts';
import type { ModelParams } from '../model/params.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import { modelCard } from './model-card.ts';
import { jsProjector, tfProjector, type BlockProjector } from './project.ts';
import { projectVocabulary, type ProjectedVocabulary } from './project-vocabulary.ts';
import { buildSavedModelConfig, isSavedModelConfig, type SavedDtype, type SavedModelConfig } from '../layout/saved-config.ts';
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

/** What save reads before projecting: the checkpoint, the dims to write and the tokenizer (with its pad token). */
interface SaveInputs {
  ckptFile: string;
  ckpt: LoadedCheckpoint;
  dims: number[];
  tokPath: string;
  /** The config's pad_token, else the default extract recorded from the source (GGUF metadata). */
  padToken: string;
  padId: number;
}

/** Check every input exists and fits before anything heavy starts, each missing one named with the stage that makes it. */
async function readSaveInputs(opts: SaveOptions): Promise<SaveInputs> {
  const { config, outDir } = opts;
  const ckptFile = checkpointPath(outDir, opts.checkpoint);
  if (!existsSync(ckptFile)) throw new UserError(`${ckptFile}: checkpoint not found; run: pipeline train --config ${config.name}`);
  const ckpt = await readModelCheckpoint(ckptFile);
  const dims = chooseDims(config, ckpt, opts.dims);
  const tokPath = tokenizerPath(outDir);
  if (!existsSync(tokPath)) throw new UserError(`${tokPath} not found; run: pipeline extract --config ${config.name}`);
  const tokenizer = loadTokenizerFile(tokPath);
  const padToken = padTokenFor(config, outDir);
  const padId = requireTokenId(tokenizer, padToken, `${config.file}: [model]`, 'pad_token');
  return { ckptFile, ckpt, dims, tokPath, padToken, padId };
}

/**
 * Make the save folder hold only this model's files: drop matrices of dims no longer saved, copy the tokenizer
 * beside the model, and keep a source model's config.json (left by extract) as source_config.json.
 */
async function placeCompanionFiles(opts: SaveOptions, saveDir: string, inputs: SaveInputs): Promise<void> {
  const { config, outDir } = opts;
  // Files of dims no longer saved would contradict config.json (and loaders pick files by dim): remove them.
  for (const f of readdirSync(saveDir)) {
    const dim = savedFileDim(config.name, f);
    if (dim !== undefined && !inputs.dims.includes(dim)) rmSync(join(saveDir, f), { force: true });
  }
  // tokenizer.json beside the model (already there when saving into the weights folder).
  if (resolve(tokenizerPath(saveDir)) !== resolve(inputs.tokPath)) {
    await writeFileAtomic(tokenizerPath(saveDir), readFileSync(inputs.tokPath));
    const tc = tokenizerConfigPath(outDir);
    if (existsSync(tc)) copyFileSync(tc, tokenizerConfigPath(saveDir));
  }
  const configPath = modelConfigPath(saveDir);
  if (existsSync(configPath)) {
    try {
      if (!isSavedModelConfig(JSON.parse(readFileSync(configPath, 'utf8')))) await writeFileAtomic(sourceConfigPath(saveDir), readFileSync(configPath));
    } catch {
      // not JSON: overwritten by the saved model's config.json
    }
  }
}

/** What config.json and the model card both describe. */
interface SavedModelFacts {
  opts: SaveOptions;
  inputs: SaveInputs;
  projected: ProjectedVocabulary;
  sources: Record<string, unknown>[];
  files: SavedFile[];
}

/** config.json and README.md of the saved model, from the same facts. */
function describeSavedModel({ opts, inputs, projected, sources, files }: SavedModelFacts): { savedConfig: SavedModelConfig; card: string } {
  const { config } = opts;
  const { params, meta } = inputs.ckpt;
  const whiten = (meta.config.training as { whiten?: number } | undefined)?.whiten;
  const savedConfig = buildSavedModelConfig({
    name: config.name,
    description: config.description,
    dims: inputs.dims,
    n_vocab: config.n_vocab,
    pad_token: inputs.padToken,
    pad_token_id: inputs.padId,
    binarized: meta.binarize !== 'none',
    binarize: meta.binarize,
    normalize: true,
    dtype: opts.dtype ?? 'f16',
    ...(opts.dtype === 'int8' ? { scales: projected.int8Steps } : {}),
    whiten: params.whiten ? (whiten ?? true) : undefined,
    whitened_dims: params.whiten ? Object.keys(params.whiten).map(Number) : undefined,
    token_delta: params.tokenDelta !== undefined,
    max_length: config.tokenizer.max_length,
    add_special_tokens: false,
    source: {
      config: config.name,
      dim_in: params.dimIn,
      sources,
      concat: config.sources.length > 1 ? CONCAT_FILE : undefined,
      checkpoint: inputs.ckptFile,
      step: meta.step,
      token_weights: meta.token_weights,
      training: meta.config,
    },
    eval: meta.eval ?? [],
  });
  const card = modelCard({
    name: config.name,
    description: config.description,
    dims: inputs.dims,
    nVocab: config.n_vocab,
    dimIn: params.dimIn,
    binarized: meta.binarize !== 'none',
    padToken: inputs.padToken,
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
    evals: meta.eval ?? [],
    files: files.map((f) => ({ dim: f.dim, file: savedFileName(config.name, f.dim), bytes: f.bytes })),
    dtype: opts.dtype,
    tokenDelta: params.tokenDelta !== undefined,
    whiten: params.whiten ? Number(whiten ?? 0) || undefined : undefined,
  });
  return { savedConfig, card };
}

export async function runSave(opts: SaveOptions): Promise<SaveResult> {
  const t0 = performance.now();
  const { config, outDir } = opts;
  const saveDir = resolve(opts.saveDir ?? outDir);
  const inputs = await readSaveInputs(opts);
  const projector = await createProjector(inputs.ckpt.params, opts.backend);
  opts.log?.(`save: projecting with ${projector.engine}`);
  const matrix = await openInputMatrix(config, outDir);
  let projected: ProjectedVocabulary;
  try {
    projected = await projectVocabulary({
      config,
      ckptFile: inputs.ckptFile,
      ckpt: inputs.ckpt,
      matrix,
      projector,
      saveDir,
      dims: inputs.dims,
      dtype: opts.dtype,
      blockRows: opts.blockRows,
      quiet: Boolean(opts.quiet),
    });
  } finally {
    projector.dispose();
    await matrix.close();
  }

  await placeCompanionFiles(opts, saveDir, inputs);
  const sources = await sourceProvenance(config, outDir);
  const files = inputs.dims.map((dim) => {
    const path = savedModelPath(saveDir, config.name, dim);
    return { dim, path, bytes: statSync(path).size };
  });
  const { savedConfig, card } = describeSavedModel({ opts, inputs, projected, sources, files });
  const configPath = modelConfigPath(saveDir);
  await writeJsonAtomic(configPath, savedConfig);
  const readmePath = modelCardPath(saveDir);
  await writeFileAtomic(readmePath, card);
  const step = inputs.ckpt.meta.step;
  return { saveDir, files, configPath, readmePath, step, seconds: (performance.now() - t0) / 1000, overflows: projected.overflows, engine: projector.engine };
}
