/**
 * Storage sizes of every ggml_type a GGUF tensor-info record can name, from ggml's type traits
 * (ggml.h / ggml-common.h block_* structs). The header parser needs them to check that each tensor's
 * bytes lie inside the file even when the type is one we cannot dequantize.
 */
export interface GgmlStorage {
  readonly name: string;
  /** Values per block. */
  readonly blockValues: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

const STORAGE: Record<number, GgmlStorage> = {
  0: { name: 'F32', blockValues: 1, blockBytes: 4 },
  1: { name: 'F16', blockValues: 1, blockBytes: 2 },
  2: { name: 'Q4_0', blockValues: 32, blockBytes: 18 },
  3: { name: 'Q4_1', blockValues: 32, blockBytes: 20 },
  6: { name: 'Q5_0', blockValues: 32, blockBytes: 22 },
  7: { name: 'Q5_1', blockValues: 32, blockBytes: 24 },
  8: { name: 'Q8_0', blockValues: 32, blockBytes: 34 },
  9: { name: 'Q8_1', blockValues: 32, blockBytes: 36 },
  10: { name: 'Q2_K', blockValues: 256, blockBytes: 84 },
  11: { name: 'Q3_K', blockValues: 256, blockBytes: 110 },
  12: { name: 'Q4_K', blockValues: 256, blockBytes: 144 },
  13: { name: 'Q5_K', blockValues: 256, blockBytes: 176 },
  14: { name: 'Q6_K', blockValues: 256, blockBytes: 210 },
  15: { name: 'Q8_K', blockValues: 256, blockBytes: 292 },
  16: { name: 'IQ2_XXS', blockValues: 256, blockBytes: 66 },
  17: { name: 'IQ2_XS', blockValues: 256, blockBytes: 74 },
  18: { name: 'IQ3_XXS', blockValues: 256, blockBytes: 98 },
  19: { name: 'IQ1_S', blockValues: 256, blockBytes: 50 },
  20: { name: 'IQ4_NL', blockValues: 32, blockBytes: 18 },
  21: { name: 'IQ3_S', blockValues: 256, blockBytes: 110 },
  22: { name: 'IQ2_S', blockValues: 256, blockBytes: 82 },
  23: { name: 'IQ4_XS', blockValues: 256, blockBytes: 136 },
  24: { name: 'I8', blockValues: 1, blockBytes: 1 },
  25: { name: 'I16', blockValues: 1, blockBytes: 2 },
  26: { name: 'I32', blockValues: 1, blockBytes: 4 },
  27: { name: 'I64', blockValues: 1, blockBytes: 8 },
  28: { name: 'F64', blockValues: 1, blockBytes: 8 },
  29: { name: 'IQ1_M', blockValues: 256, blockBytes: 56 },
  30: { name: 'BF16', blockValues: 1, blockBytes: 2 },
  34: { name: 'TQ1_0', blockValues: 256, blockBytes: 54 },
  35: { name: 'TQ2_0', blockValues: 256, blockBytes: 66 },
  39: { name: 'MXFP4', blockValues: 32, blockBytes: 17 },
};

/** Storage layout of a ggml type id, or undefined for ids this table does not know. */
export function ggmlStorage(typeId: number): GgmlStorage | undefined {
  return STORAGE[typeId];
}

/** Name for messages: the ggml name when known, else `type <id>`. */
export function ggmlTypeName(typeId: number): string {
  return STORAGE[typeId]?.name ?? `type ${typeId}`;
}
