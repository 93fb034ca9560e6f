/**
 * One 2-D tensor of a TF.js model (`model.json` + binary weight shards) as a RowMatrix, read by row blocks.
 *
 * TF.js stores the weights of a manifest group as one byte stream, written in the order of the group's
 * `weights` list and cut into shard files (`paths`, usually 4 MB each). A tensor therefore starts at the sum of
 * the byte sizes of the weights before it and may span several shard files (USE-lite's `module/Embeddings_en`,
 * float32 [8002, 256], spans shards 5 to 7). We compute that offset from the manifest, check the shard files
 * against it, and read each row block by file descriptor across shard boundaries: the shards are never loaded
 * whole. float32 is read as is; quantized weights (`quantization.dtype` uint8/uint16 with scale and min, or
 * float16) are dequantized exactly as `tf.io.decodeWeights` does.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { RowMatrix } from '../matrix/row-matrix.ts';
import { decodeToF32 } from '../safetensors/dtype.ts';
import { UserError } from '../util/errors.ts';

/** Bytes per element of the TF.js dtypes (`DTYPE_VALUE_SIZE_MAP` in tfjs-core); strings have no fixed size. */
const TFJS_DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  float16: 2,
  int32: 4,
  uint16: 2,
  uint8: 1,
  bool: 1,
  complex64: 8,
};

export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: TfjsQuantization;
}

export interface TfjsManifestGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

/** Where a tensor lives: its group, byte offset inside the group's stream, and how its elements are stored. */
export interface TfjsTensorLocation {
  group: number;
  spec: TfjsWeightSpec;
  /** Byte offset in the group's concatenated shard stream; undefined when a string tensor precedes it. */
  offset: number | undefined;
  /** Bytes per stored element (the quantized width when quantized). */
  elementBytes: number;
  byteLength: number;
  /** Byte length of the whole group, when every weight in it has a fixed size. */
  groupBytes: number | undefined;
}

export type TfjsMatrix = RowMatrix & {
  /** The stored dtype: `float32`, or e.g. `uint8 (quantized float32)`. */
  readonly sourceDtype: string;
  readonly tensorName: string;
  /** Total size of the shard files that hold (part of) this tensor. */
  readonly shardBytes: number;
  /** The tensor's own bytes in the shards. */
  readonly tensorBytes: number;
  /** Absolute paths of the shard files that hold (part of) this tensor, in order. */
  readonly shardFiles: readonly string[];
};

/** Parse and validate the `weightsManifest` of a parsed model.json (pure). */
function parseWeightsManifest(modelJson: unknown, source: string): TfjsManifestGroup[] {
  const manifest = (modelJson as { weightsManifest?: unknown } | null)?.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    throw new UserError(`${source}: no "weightsManifest" array; is this a TF.js model.json?`);
  }
  return manifest.map((g: unknown, gi: number) => {
    const group = g as { paths?: unknown; weights?: unknown };
    const where = `${source}: weightsManifest[${gi}]`;
    if (!Array.isArray(group?.paths) || group.paths.length === 0 || !group.paths.every((p) => typeof p === 'string' && p !== '')) {
      throw new UserError(`${where}.paths must be a non-empty array of file names`);
    }
    for (const p of group.paths as string[]) {
      if (isAbsolute(p) || normalize(p).split(/[\\/]/).includes('..') || /^[a-z]+:/i.test(p)) {
        throw new UserError(`${where}.paths has "${p}": shard paths must be relative to model.json, without ".." or URLs`);
      }
    }
    if (!Array.isArray(group.weights)) throw new UserError(`${where}.weights must be an array`);
    const weights = (group.weights as unknown[]).map((w, wi) => {
      const spec = w as Partial<TfjsWeightSpec>;
      const at = `${where}.weights[${wi}]`;
      if (typeof spec?.name !== 'string') throw new UserError(`${at}: missing "name"`);
      if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new UserError(`${at} ("${spec.name}"): "shape" must be an array of non-negative integers`);
      }
      if (typeof spec.dtype !== 'string' || (spec.dtype !== 'string' && !(spec.dtype in TFJS_DTYPE_BYTES))) {
        throw new UserError(`${at} ("${spec.name}"): unknown dtype ${JSON.stringify(spec.dtype)}`);
      }
      const q = spec.quantization;
      if (q !== undefined) {
        if (q === null || typeof q !== 'object' || !['uint8', 'uint16', 'float16'].includes(q.dtype)) {
          throw new UserError(`${at} ("${spec.name}"): quantization dtype ${JSON.stringify(q?.dtype)} is not uint8, uint16 or float16`);
        }
        if (q.dtype !== 'float16' && !(typeof q.scale === 'number' && typeof q.min === 'number')) {
          throw new UserError(`${at} ("${spec.name}"): ${q.dtype} quantization needs numeric "scale" and "min"`);
        }
      }
      return { name: spec.name, shape: spec.shape, dtype: spec.dtype, quantization: q } as TfjsWeightSpec;
    });
    return { paths: group.paths as string[], weights };
  });
}

function storedElementBytes(spec: TfjsWeightSpec): number | undefined {
  if (spec.quantization) return TFJS_DTYPE_BYTES[spec.quantization.dtype];
  if (spec.dtype === 'string') return undefined;
  return TFJS_DTYPE_BYTES[spec.dtype];
}

const elements = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Find a tensor in the manifest and compute its byte offset (pure; error lists the closest names). */
function locateTensor(groups: TfjsManifestGroup[], name: string, source: string): TfjsTensorLocation {
  for (let g = 0; g < groups.length; g++) {
    const weights = groups[g]!.weights;
    const index = weights.findIndex((w) => w.name === name);
    if (index < 0) continue;
    let offset: number | undefined = 0;
    let groupBytes: number | undefined = 0;
    for (let i = 0; i < weights.length; i++) {
      const eb = storedElementBytes(weights[i]!);
      const bytes = eb === undefined ? undefined : elements(weights[i]!.shape) * eb;
      if (i < index) offset = offset === undefined || bytes === undefined ? undefined : offset + bytes;
      groupBytes = groupBytes === undefined || bytes === undefined ? undefined : groupBytes + bytes;
    }
    const spec = weights[index]!;
    const elementBytes = storedElementBytes(spec);
    if (elementBytes === undefined) throw new UserError(`${source}: tensor "${name}" holds strings, not numbers`);
    return { group: g, spec, offset, elementBytes, byteLength: elements(spec.shape) * elementBytes, groupBytes };
  }
  const all = groups.flatMap((g) => g.weights.map((w) => w.name));
  throw new UserError(`${source}: no tensor "${name}" (closest: ${closestNames(name, all).join(', ') || 'none'}; ${all.length} tensors)`);
}

/** Up to five names nearest to `name` (edit distance), for "did you mean" messages. */
export function closestNames(name: string, names: readonly string[], k = 5): string[] {
  const lower = name.toLowerCase();
  return names
    .map((n) => ({ n, d: editDistance(lower, n.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, k)
    .map((x) => x.n);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The group's shard files as one byte stream, read by positional reads on lazily opened descriptors. */
class ShardStream {
  private readonly handles = new Map<number, FileHandle>();
  /** starts[i] = stream offset of shard i; starts[n] = total bytes. */
  constructor(
    readonly files: string[],
    readonly starts: number[],
  ) {}

  get totalBytes(): number {
    return this.starts[this.files.length]!;
  }

  async read(position: number, target: Uint8Array): Promise<void> {
    let done = 0;
    while (done < target.length) {
      const pos = position + done;
      const i = this.starts.findIndex((s, k) => k < this.files.length && pos >= s && pos < this.starts[k + 1]!);
      if (i < 0) throw new UserError(`${this.files[0]}: read at stream byte ${pos} is past the end of the shards`);
      const fh = await this.handle(i);
      const want = Math.min(target.length - done, this.starts[i + 1]! - pos, 1 << 30);
      const { bytesRead } = await fh.read(target, done, want, pos - this.starts[i]!);
      if (bytesRead === 0) throw new UserError(`${this.files[i]}: unexpected end of file (was it changed while reading?)`);
      done += bytesRead;
    }
  }

  private async handle(i: number): Promise<FileHandle> {
    let fh = this.handles.get(i);
    if (!fh) {
      fh = await open(this.files[i]!, 'r');
      this.handles.set(i, fh);
    }
    return fh;
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((h) => h.close()));
  }
}

/** Open 2-D tensor `tensorName` ([rows, dim]) of the TF.js model at `modelJsonPath` as a RowMatrix. */
export async function openTfjsMatrix(modelJsonPath: string, tensorName: string): Promise<TfjsMatrix> {
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(readFileSync(modelJsonPath, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(e.code === 'ENOENT' ? `${modelJsonPath}: TF.js model.json not found` : `${modelJsonPath}: not valid JSON (${e.message})`);
  }
  const groups = parseWeightsManifest(modelJson, modelJsonPath);
  const loc = locateTensor(groups, tensorName, modelJsonPath);
  const { spec } = loc;
  if (spec.shape.length !== 2) {
    throw new UserError(`${modelJsonPath}: tensor "${tensorName}" has shape ${JSON.stringify(spec.shape)}, expected 2-D [rows, dim]`);
  }
  if (spec.dtype !== 'float32') {
    throw new UserError(`${modelJsonPath}: tensor "${tensorName}" has dtype ${spec.dtype}; only float32 (plain or quantized) embeddings are supported`);
  }

  const dir = dirname(modelJsonPath);
  const files = groups[loc.group]!.paths.map((p) => join(dir, p.split('/').join(sep)));
  const starts = [0];
  for (const f of files) {
    let size: number;
    try {
      const st = await stat(f);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      throw new UserError(`${modelJsonPath}: weight shard ${f} is missing (the manifest lists ${files.length} shard files for this tensor's group)`);
    }
    starts.push(starts.at(-1)! + size);
  }
  const stream = new ShardStream(files, starts);
  // With string tensors in the group, sizes come from their length prefixes (a few small reads).
  const weights = groups[loc.group]!.weights;
  let offset: number;
  try {
    const groupBytes = loc.groupBytes ?? (await walkGroup(stream, weights, modelJsonPath));
    if (groupBytes !== stream.totalBytes) {
      throw new UserError(
        `${modelJsonPath}: the ${files.length} shard files of weightsManifest[${loc.group}] hold ${stream.totalBytes} bytes but its weights need ${groupBytes} (truncated or mismatched shards?)`,
      );
    }
    offset = loc.offset ?? (await walkGroup(stream, weights, modelJsonPath, spec.name));
  } catch (err) {
    await stream.close();
    throw err;
  }

  const [rows, dim] = spec.shape as [number, number];
  const rowBytes = dim * loc.elementBytes;
  const q = spec.quantization;
  const touched = files
    .map((f, i) => ({ f, size: starts[i + 1]! - starts[i]!, s: starts[i]!, e: starts[i + 1]! }))
    .filter((x) => x.e > offset && x.s < offset + loc.byteLength);

  return {
    rows,
    dim,
    label: `${modelJsonPath}#${tensorName}`,
    sourceDtype: q ? `${q.dtype} (quantized float32)` : 'float32',
    tensorName,
    shardBytes: touched.reduce((a, x) => a + x.size, 0),
    tensorBytes: loc.byteLength,
    shardFiles: touched.map((x) => x.f),
    async readRows(start, count, out) {
      if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > rows) {
        throw new UserError(`${modelJsonPath}: rows ${start}..${start + count} outside "${tensorName}" with ${rows} rows`);
      }
      const n = count * dim;
      if (out && out.length < n) throw new RangeError(`out has ${out.length} elements, ${n} needed`);
      const result = out ?? new Float32Array(n);
      const position = offset + start * rowBytes;
      if (!q) {
        // Little-endian float32 straight into the caller's buffer: no copy, no decode.
        await stream.read(position, new Uint8Array(result.buffer, result.byteOffset, n * 4));
        return result;
      }
      const bytes = new Uint8Array(count * rowBytes);
      await stream.read(position, bytes);
      if (q.dtype === 'float16') return decodeToF32(bytes, 'F16', result);
      const quantized = q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer, 0, n);
      const scale = q.scale!;
      const min = q.min!;
      // Same expression as tf.io.decodeWeights (double arithmetic, rounded once to float32).
      for (let i = 0; i < n; i++) result[i] = quantized[i]! * scale + min;
      return result;
    },
    close: () => stream.close(),
  };
}

/**
 * Byte offset of weight `stopAt` in the group's stream (or the group's total size without it), reading the
 * length prefix of every string element on the way (each string is a uint32 length + its UTF-8 bytes).
 */
async function walkGroup(stream: ShardStream, weights: TfjsWeightSpec[], source: string, stopAt?: string): Promise<number> {
  let offset = 0;
  const u32 = new Uint8Array(4);
  for (const w of weights) {
    if (w.name === stopAt) return offset;
    const eb = storedElementBytes(w);
    if (eb !== undefined) {
      offset += elements(w.shape) * eb;
      continue;
    }
    for (let i = elements(w.shape); i > 0; i--) {
      if (offset + 4 > stream.totalBytes) {
        throw new UserError(`${source}: string tensor "${w.name}" runs past the end of its shards (truncated shards?)`);
      }
      await stream.read(offset, u32);
      offset += 4 + new DataView(u32.buffer).getUint32(0, true);
    }
  }
  return offset;
}
