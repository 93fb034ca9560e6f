import { GGUF_EMBEDDING_TENSOR } from '../../layout/tensor-names.js';
import { f32ToF16Bits } from '../../safetensors/dtype.js';
import { UserError } from '../../util/errors.js';
import { GGML_TYPE, blockLayout, dequantize, rowBytes } from './dequantize.js';
import type { ByteSource, GgufHeader, GgufTensorInfo } from './header.js';

/**
 * Token-embedding rows of a GGUF file, read in row blocks and dequantized block by block, so a
 * multi-GB matrix never sits in memory whole. GGUF stores token_embd.weight as ggml [ne0, ne1] =
 * [dim, vocab]: row r (token r) is the contiguous bytes of ne0 values starting at r × rowBytes.
 */
export interface EmbeddingTensor {
  readonly info: GgufTensorInfo;
  readonly typeName: string;
  readonly vocab: number;
  readonly dim: number;
  /** Bytes of one stored (quantized) row. */
  readonly rowBytes: number;
}

/** The token-embedding tensor of `header`, checked to be a 2-D matrix of a type we can dequantize. */
export function embeddingTensor(header: GgufHeader, file: string, name = GGUF_EMBEDDING_TENSOR): EmbeddingTensor {
  const info = header.tensors.find((t) => t.name === name);
  if (info === undefined) {
    const names = header.tensors.slice(0, 8).map((t) => t.name);
    throw new UserError(
      `${file}: no tensor "${name}" in this GGUF file (it has ${header.tensors.length}: ${names.join(', ')}${header.tensors.length > 8 ? ', …' : ''})`,
    );
  }
  if (info.dims.length !== 2) throw new UserError(`${file}: tensor "${name}" has shape [${info.dims.join(', ')}], expected [dim, vocab]`);
  const [dim, vocab] = info.dims as [number, number];
  const where = `${file}: tensor "${name}"`;
  const layout = blockLayout(info.type, where);
  return { info, typeName: layout.name, vocab, dim, rowBytes: rowBytes(info.type, dim, where) };
}

export type RowDType = 'F32' | 'F16';

export interface RowBlock {
  readonly firstRow: number;
  readonly rows: number;
  /** rows × dim values, row-major; F16 as IEEE half bits. */
  readonly data: Float32Array | Uint16Array;
  /** Stored bytes this block was decoded from. */
  readonly bytes: number;
}

export interface ReadRowsOptions {
  readonly dtype?: RowDType;
  /** Stored bytes to read per block (rounded down to whole rows, at least one row). */
  readonly blockBytes?: number;
  readonly start?: number;
  readonly end?: number;
}

const DEFAULT_BLOCK_BYTES = 8 * 1024 * 1024;

/** Yields rows [start, end) of the embedding tensor in blocks, dequantized to `dtype`. */
export async function* readEmbeddingRows(source: ByteSource, tensor: EmbeddingTensor, options: ReadRowsOptions = {}): AsyncGenerator<RowBlock> {
  const { dtype = 'F32', start = 0, end = tensor.vocab } = options;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= tensor.vocab)) {
    throw new UserError(`${source.name}: row range ${start}-${end} is outside the ${tensor.vocab} rows of "${tensor.info.name}"`);
  }
  const rowsPerBlock = Math.max(1, Math.floor((options.blockBytes ?? DEFAULT_BLOCK_BYTES) / tensor.rowBytes));
  const where = `${source.name}: tensor "${tensor.info.name}"`;
  for (let row = start; row < end; row += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, end - row);
    const bytes = await source.read(tensor.info.fileOffset + row * tensor.rowBytes, rows * tensor.rowBytes);
    yield { firstRow: row, rows, data: decodeRows(tensor.info.type, bytes, dtype, where), bytes: bytes.byteLength };
  }
}

function decodeRows(type: number, bytes: Uint8Array, dtype: RowDType, where: string): Float32Array | Uint16Array {
  // Stored F16 going out as F16 is copied bit for bit, not rounded through float32.
  if (dtype === 'F16' && type === GGML_TYPE.F16) {
    const out = new Uint16Array(bytes.byteLength / 2);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const f32 = dequantize(type, bytes, where);
  if (dtype === 'F32') return f32;
  const out = new Uint16Array(f32.length);
  for (let i = 0; i < f32.length; i++) out[i] = f32ToF16Bits(f32[i]!);
  return out;
}
