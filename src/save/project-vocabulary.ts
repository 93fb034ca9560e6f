/**
 * The heavy half of `pipeline save`: stream the whole vocabulary block by block through the trained projection and
 * write one safetensors matrix per saved dim, all from the same pass over the input. int8 needs each matrix's
 * largest value before its first code is written, so it projects twice: once for the ranges, once to write.
 */
import type { ModelConfig } from '../config/types.ts';
import type { LoadedCheckpoint } from '../model/checkpoint.ts';
import type { ModelParams } from '../model/params.ts';
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { SafetensorsWriter } from '../safetensors/writer.ts';
import { encodeInt8, int8Step, maxAbs } from '../export/rows.ts';
import { SAVED_TENSOR } from '../layout/tensor-names.ts';
import { SAVED_MODEL_TYPE, type SavedDtype } from '../layout/saved-config.ts';
import { savedModelPath } from '../layout/weights-dir.ts';
import { UserError } from '../util/errors.ts';
import { createProgress } from '../util/progress.ts';
import { truncateColumns, type BlockProjector } from './project.ts';

export interface ProjectVocabularyParams {
  config: ModelConfig;
  /** Named in messages about a checkpoint that does not fit. */
  ckptFile: string;
  ckpt: LoadedCheckpoint;
  matrix: RowMatrix;
  projector: BlockProjector;
  saveDir: string;
  /** Widest first. */
  dims: number[];
  dtype: SavedDtype | undefined;
  blockRows: number | undefined;
  quiet: boolean;
}

export interface ProjectedVocabulary {
  /** f16 overflows over all files. */
  overflows: number;
  /** dtype int8: width → step of its codes. */
  int8Steps: Record<string, number>;
}

/** One output matrix: its writer and the reused buffers for a block of its rows (`wbuf` when the dim is whitened). */
interface DimWriter {
  dim: number;
  w: SafetensorsWriter;
  buf: Float32Array;
  wbuf?: Float32Array;
}

/** A checkpoint trained for other inputs, or without what the dims need, stops here with a line naming both. */
function checkCheckpointFits(p: ProjectVocabularyParams): void {
  const { config, ckptFile, matrix, dims } = p;
  const { params } = p.ckpt;
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
}

/** Open one writer per dim (appended to `writers` as each opens, so a failure midway still aborts the opened ones). */
async function openDimWriters(p: ProjectVocabularyParams, blockRows: number, writers: DimWriter[]): Promise<void> {
  const { config, ckpt, dtype } = p;
  for (const dim of p.dims) {
    const metadata = {
      format: 'pt',
      model_type: SAVED_MODEL_TYPE,
      name: config.name,
      dim: String(dim),
      step: String(ckpt.meta.step),
      binarized: String(ckpt.meta.binarize !== 'none'),
    };
    const w = await SafetensorsWriter.create(
      savedModelPath(p.saveDir, config.name, dim),
      [{ name: SAVED_TENSOR, dtype: dtype === 'f32' ? 'F32' : dtype === 'int8' ? 'I8' : 'F16', shape: [config.n_vocab, dim] }],
      metadata,
    );
    writers.push({ dim, w, buf: new Float32Array(blockRows * dim), wbuf: ckpt.params.whiten?.[dim] ? new Float32Array(blockRows * dim) : undefined });
  }
}

type UseRows = (writer: DimWriter, values: Float32Array) => Promise<void> | void;

/** One pass over the vocabulary: every block's final rows of each dim (truncated, then whitened where fitted) go to `use`. */
async function eachProjectedBlock(p: ProjectVocabularyParams, writers: DimWriter[], blockRows: number, label: string, use: UseRows): Promise<void> {
  const params: ModelParams = p.ckpt.params;
  const rows = p.config.n_vocab;
  const input = new Float32Array(blockRows * params.dimIn);
  const projected = new Float32Array(blockRows * params.dimOut);
  const progress = createProgress(label, { unit: 'rows', total: rows, quiet: p.quiet });
  for (let start = 0; start < rows; start += blockRows) {
    const count = Math.min(blockRows, rows - start);
    const block = await p.matrix.readRows(start, count, input);
    const full = p.projector.project(block, start, count, projected);
    for (const writer of writers) {
      const { dim, buf, wbuf } = writer;
      const rowsOut = truncateColumns(full, count, params.dimOut, dim, buf);
      const T = params.whiten?.[dim];
      await use(writer, T ? p.projector.whiten(rowsOut, count, dim, T, wbuf) : rowsOut);
    }
    progress.update(start + count);
  }
  progress.finish();
}

/** Write `<name>_<dim>.safetensors` for every dim, atomically: on any failure no file of this run appears. */
export async function projectVocabulary(p: ProjectVocabularyParams): Promise<ProjectedVocabulary> {
  const { params } = p.ckpt;
  const writers: DimWriter[] = [];
  let overflows = 0;
  const int8Steps: Record<string, number> = {};
  try {
    checkCheckpointFits(p);
    // About 4M floats per block at the wider side of the projection: large reads, bounded memory.
    const blockRows = p.blockRows ?? Math.max(64, Math.floor((1 << 22) / Math.max(params.dimIn, params.dimOut)));
    await openDimWriters(p, blockRows, writers);
    if (p.dtype === 'int8') {
      const max = new Map<number, number>();
      await eachProjectedBlock(p, writers, blockRows, 'save: int8 ranges', ({ dim }, values) => void max.set(dim, maxAbs(values, max.get(dim))));
      for (const d of p.dims) int8Steps[String(d)] = int8Step(max.get(d) ?? 0);
      await eachProjectedBlock(p, writers, blockRows, 'save: projecting', ({ dim, w }, values) => w.write(encodeInt8(values, int8Steps[String(dim)]!)));
    } else {
      await eachProjectedBlock(p, writers, blockRows, 'save: projecting', ({ w }, values) => w.writeF32(values));
    }
    for (const { w } of writers) {
      overflows += w.overflows;
      await w.commit();
    }
  } catch (err) {
    for (const { w } of writers) await w.abort();
    throw err;
  }
  return { overflows, int8Steps };
}
