/**
 * A sentence-transformers StaticEmbedding folder normalises exactly when its modules.json lists a Normalize
 * module after the embedding (sentence_transformers/models/Normalize.py: F.normalize(p=2) of the pooled
 * vector; SentenceTransformer._load_sbert_model runs the modules modules.json lists, in order). Checked for a
 * local folder, a hub id through the cache, the browser loaders, and our own sentence-transformers export.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load, loadModel, type StaticModel } from '../../src/embed/node.ts';
import { loadFromHub, loadFromUrl } from '../../src/embed/browser-load.ts';
import { exportModel } from '../../src/export/index.ts';
import { matrixBytes, startHubServer, type HubServer, type ServedFile } from '../helpers/hub-server.ts';
import { modelRepoFiles, writeRepoFiles } from '../helpers/hub-model-repos.ts';
import { referenceEmbedding } from '../helpers/embed-model.ts';

const DIM = 24;
const TEXTS = ['w3 w4 w5', 'w30 w31'];
const IDS = [
  [3, 4, 5],
  [30, 31],
];
// modelRepoFiles('sentence-transformers') writes these rows (40 × 24, F32, seed 7).
const ROWS = new Float32Array(matrixBytes(40, DIM, 'F32', 7).buffer);
const STATIC = { idx: 0, name: '0', path: '0_StaticEmbedding', type: 'sentence_transformers.models.StaticEmbedding' };
const NORMALIZE = { idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' };

let hub: HubServer;
let tmp: string;

/** The ST repo's files, with modules.json listing `modules`. */
function stFiles(modules: object[]): Record<string, ServedFile> {
  const { files } = modelRepoFiles('sentence-transformers');
  return { ...files, 'modules.json': { data: new TextEncoder().encode(JSON.stringify(modules)) } };
}

beforeAll(async () => {
  hub = await startHubServer();
  tmp = mkdtempSync(join(tmpdir(), 'st-normalize-'));
  hub.addRepo({ id: 'st/plain', files: stFiles([STATIC]) });
  hub.addRepo({ id: 'st/normalized', files: stFiles([STATIC, NORMALIZE]) });
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Each text's embedding equals the mean of its rows, L2-normalised when `norm`. */
function expectEmbeddings(m: StaticModel, norm: boolean): void {
  expect([m.info.format, m.normalize, m.dim]).toEqual(['sentence-transformers', norm, DIM]);
  const e = m.embed(TEXTS);
  for (let t = 0; t < TEXTS.length; t++) {
    const want = referenceEmbedding(ROWS, DIM, IDS[t]!, DIM, norm);
    for (let j = 0; j < DIM; j++) expect(e.data[t * DIM + j]).toBeCloseTo(want[j]!, 6);
  }
  // The two cases really differ: the plain mean of these rows is far from unit length.
  const len = Math.hypot(...e.data.subarray(0, DIM));
  if (norm) expect(len).toBeCloseTo(1, 6);
  else expect(Math.abs(len - 1)).toBeGreaterThan(0.1);
}

describe('sentence-transformers folders: modules.json decides normalisation', () => {
  it('a local folder: without Normalize the plain mean, with Normalize the unit-length mean', () => {
    expectEmbeddings(load(writeRepoFiles(join(tmp, 'plain'), stFiles([STATIC]))), false);
    expectEmbeddings(load(writeRepoFiles(join(tmp, 'normalized'), stFiles([STATIC, NORMALIZE]))), true);
    // An explicit option still wins.
    expect(load(join(tmp, 'normalized'), { normalize: false }).normalize).toBe(false);
  });

  it('by hub id through the cache: modules.json is downloaded and applied', async () => {
    const env = { HF_ENDPOINT: hub.url };
    hub.resetStats();
    expectEmbeddings(await loadModel('st/normalized', { cacheDir: join(tmp, 'cache'), env }), true);
    expect(hub.requests.some((r) => r.file === 'modules.json')).toBe(true);
    expectEmbeddings(await loadModel('st/plain', { cacheDir: join(tmp, 'cache'), env }), false);
  });

  it('the browser loaders (loadFromHub, loadFromUrl) read modules.json the same way', async () => {
    expectEmbeddings(await loadFromHub('st/normalized', { endpoint: hub.url, cache: null }), true);
    expectEmbeddings(await loadFromHub('st/plain', { endpoint: hub.url, cache: null }), false);
    expectEmbeddings(await loadFromUrl(`${hub.url}/st/normalized/resolve/main/`, { cache: null }), true);
    expectEmbeddings(await loadFromUrl(`${hub.url}/st/plain/resolve/main/`, { cache: null }), false);
  });

  it('our sentence-transformers export lists Normalize exactly when the model normalises, and loads back the same way', async () => {
    const source = load(join(tmp, 'normalized'));
    for (const normalize of [true, false]) {
      const m = load(join(tmp, 'normalized'), { normalize });
      const out = join(tmp, `export-${normalize}`);
      await exportModel(m, 'sentence-transformers', out, 'st', { dtype: 'f32' });
      const modules = JSON.parse(readFileSync(join(out, 'modules.json'), 'utf8')) as { type: string }[];
      expect(modules.map((x) => x.type)).toEqual(normalize ? [STATIC.type, NORMALIZE.type] : [STATIC.type]);
      expectEmbeddings(load(out), normalize);
    }
    expect(source.normalize).toBe(true);
  });
});
