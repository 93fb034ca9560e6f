/**
 * Safetensors from an in-memory buffer (a browser `fetch`, or a small file read whole). No Node built-ins.
 */
import { decodeToF32 } from './dtype.ts';
import { SafetensorsError, parseHeader, readHeaderLength, type SafetensorsHeader, type TensorInfo } from './header.ts';

export interface SafetensorsBuffer {
  header: SafetensorsHeader;
  /** Raw little-endian bytes of a tensor (a view, no copy). */
  bytes(name: string): Uint8Array;
  /** A tensor decoded to float32 (F64/F16/BF16/integers convert by value). */
  f32(name: string): Float32Array;
  info(name: string): TensorInfo;
}

export function parseSafetensorsBuffer(data: ArrayBuffer | Uint8Array, source = 'safetensors buffer'): SafetensorsBuffer {
  const all = data instanceof Uint8Array ? data : new Uint8Array(data);
  const headerLength = readHeaderLength(all.subarray(0, 8), source, all.byteLength);
  const header = parseHeader(all.subarray(8, 8 + headerLength), source, all.byteLength);
  const info = (name: string): TensorInfo => {
    const t = header.tensors.get(name);
    if (!t) {
      throw new SafetensorsError(`${source}: no tensor "${name}" (has: ${[...header.tensors.keys()].join(', ') || 'none'})`);
    }
    return t;
  };
  const bytes = (name: string): Uint8Array => {
    const t = info(name);
    return all.subarray(header.dataStart + t.begin, header.dataStart + t.end);
  };
  return { header, info, bytes, f32: (name) => decodeToF32(bytes(name), info(name).dtype) };
}
