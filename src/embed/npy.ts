/**
 * NumPy `.npy` (format 1.0) headers: magic, version, little-endian header length, a Python dict literal padded
 * with spaces to a 64-byte boundary. The header can be written first with room for any row count and rewritten
 * in place once the count is known (streaming output). Pure, browser-safe.
 */
export type NpyDtype = '<f4' | '|u1';

/** Width reserved for the row count so the header length never changes when it is rewritten. */
const ROWS_WIDTH = 20;

export function npyHeader(dtype: NpyDtype, rows: number, cols: number): Uint8Array {
  const shape = `(${String(rows).padStart(ROWS_WIDTH, ' ')}, ${cols})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const body = new TextEncoder().encode(dict);
  const out = new Uint8Array(10 + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, body.length, true);
  out.set(body, 10);
  return out;
}

/** Parse a .npy buffer (format 1.x/2.x, C order, '<f4' or '|u1'): for tests and tools. */
export function parseNpy(bytes: Uint8Array): { dtype: string; shape: number[]; data: Float32Array | Uint8Array } {
  if (bytes[0] !== 0x93 || new TextDecoder().decode(bytes.subarray(1, 6)) !== 'NUMPY') throw new Error('not a .npy file');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const dtype = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const body = bytes.slice(start + headerLen);
  const data = dtype === '<f4' ? new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4) : body;
  return { dtype, shape, data };
}
