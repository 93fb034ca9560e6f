/**
 * What both GGUF extract paths (a local file, a hub file by Range) share: find and check the token matrix in a
 * parsed header against the config, the provenance written into the extracted file, and the per-chunk conversion
 * of stored blocks to the output dtype.
 */
import type { SourceConfig } from '../../config/types.ts';
import { GGUF_EMBEDDING_TENSOR } from '../../layout/tensor-names.ts';
import { encodeFromF32, type DType, type FloatDType } from '../../safetensors/dtype.ts';
import { UserError } from '../../util/errors.ts';
import type { ChunkTransform } from '../../hub/chunked-download.ts';
import { checkSourceShape, chunkConverter, outputMetadata, type SourceWhere } from '../write-matrix.ts';
import { blockLayout, dequantize, type BlockLayout, type GgmlTypeName } from './dequantize.ts';
import { embeddingTensor, type EmbeddingTensor } from './embedding-rows.ts';
import type { GgufHeader } from './header.ts';

/** Stored types that are plain floats: copied or converted like safetensors, not dequantized. */
const FLOAT_TYPES: readonly string[] = ['F32', 'F16', 'BF16'];

export interface GgufMatrix {
  tensor: EmbeddingTensor;
  /** Rows kept (n_vocab). */
  rows: number;
  dim: number;
  layout: BlockLayout & { readonly name: GgmlTypeName };
  /** True when rows are decoded from a quantized type (Q8_0, Q4_K, ...), not copied from floats. */
  dequantized: boolean;
  /** `general.architecture`, when the file states it. */
  architecture?: string;
}

/**
 * The token matrix of a GGUF file, checked three ways: the tensor exists with a type we decode, its row width
 * (ne0; GGUF stores [dim, vocab]) equals `<general.architecture>.embedding_length` when the file states one, and
 * [vocab, dim] agrees with the config's `dim` / `n_vocab` like a safetensors source.
 */
export function ggufMatrix(header: GgufHeader, label: string, source: SourceConfig, where: SourceWhere): GgufMatrix {
  const tensor = embeddingTensor(header, label, source.tensor ?? GGUF_EMBEDDING_TENSOR);
  const arch = header.metadata.get('general.architecture')?.value;
  const architecture = typeof arch === 'string' ? arch : undefined;
  if (architecture !== undefined) {
    const width = header.metadata.get(`${architecture}.embedding_length`)?.value;
    if (width !== undefined && Number(width) !== tensor.dim) {
      throw new UserError(
        `${label}: ${architecture}.embedding_length is ${String(width)} but tensor "${tensor.info.name}" rows are ${tensor.dim} wide; the file is inconsistent`,
      );
    }
  }
  const rows = checkSourceShape(tensor.vocab, tensor.dim, source, where, `${label}#${tensor.info.name}`);
  const layout = blockLayout(tensor.info.type, `${label}: tensor "${tensor.info.name}"`);
  return { tensor, rows, dim: tensor.dim, layout, dequantized: !FLOAT_TYPES.includes(layout.name), ...(architecture ? { architecture } : {}) };
}

/** The extracted file's `__metadata__` for a GGUF source: the usual provenance plus the format and dequantization. */
export function ggufOutputMetadata(
  m: GgufMatrix,
  p: { repo: string; revision: string; kind: 'hub' | 'local' },
  extra: Record<string, string>,
): Record<string, string> {
  const provenance = { repo: p.repo, revision: p.revision, tensor: m.tensor.info.name, source_dtype: m.layout.name, source_kind: p.kind };
  return outputMetadata(provenance, m.rows, m.dim, { source_format: 'gguf', dequantized: String(m.dequantized), ...extra });
}

/** The facts of an extracted GGUF matrix (its `extract.json` entry's share), the same for both paths. */
export function ggufFacts(m: GgufMatrix) {
  return {
    tensor: m.tensor.info.name,
    source_dtype: m.layout.name,
    rows: m.rows,
    dim: m.dim,
    tensor_bytes: m.tensor.info.byteLength ?? m.tensor.vocab * m.tensor.rowBytes,
    source_format: 'gguf' as const,
    dequantized: m.dequantized,
  };
}

/**
 * Converts whole stored blocks to the output dtype: float types as safetensors sources do (bit-exact where no
 * rounding is needed), quantized ones through ggml's block decoding to float32, then round-to-nearest-even.
 */
export function ggufChunkConverter(m: GgufMatrix, to: FloatDType, where: string): ChunkTransform {
  if (!m.dequantized) return chunkConverter(m.layout.name as DType, to);
  const type = m.tensor.info.type;
  return (bytes) => encodeFromF32(dequantize(type, bytes, where), to);
}
