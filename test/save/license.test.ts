/**
 * The source's licence reaches the model card: extract reads it from the hub's model info (`cardData.license`,
 * else the `license:<id>` tag: huggingface_hub's ModelInfo.card_data / tags, @huggingface/hub's modelInfo
 * `cardData` / `tags` fields) into extract.json, and save writes it into config.json's source list and the
 * card's YAML front matter. A source whose card states none gets no `license` line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { extract } from '../../src/sources/extract.ts';
import { runSave } from '../../src/save/save.ts';
import { checkpointDir, writeModelCheckpoint } from '../../src/model/checkpoint.ts';
import { licenseOf } from '../../src/hub/repo.ts';
import { startHubServer, tinyTokenizerJson, type HubServer } from '../helpers/hub-server.ts';
import { safetensorsBytes } from '../helpers/hub-model-repos.ts';

const VOCAB = 40;
const DIM = 8;
let tmp: string;
let hub: HubServer;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'license-'));
  hub = await startHubServer();
  const files = () => ({
    'model.safetensors': { data: safetensorsBytes('model.embed_tokens.weight', VOCAB, DIM, 4) },
    'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(VOCAB)) },
  });
  hub.addRepo({ id: 'org/licensed', files: files(), license: 'apache-2.0' });
  hub.addRepo({ id: 'org/unlicensed', files: files() });
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** extract the repo, train nothing (an identity-like checkpoint), save; the saved folder's card and config. */
async function buildFrom(
  repo: string,
): Promise<{ facts: { sources: Record<string, unknown>[] }; card: string; config: { source: { sources: Record<string, unknown>[] } } }> {
  const name = repo.split('/')[1]!;
  const config = parseConfig(
    { model: { hf_model_id: repo, dim: DIM, n_vocab: VOCAB, pad_token: '<pad>' }, matryoshka: { dims: [DIM] } },
    join(tmp, `${name}.toml`),
  );
  const outDir = join(tmp, 'weights', name);
  await extract({ config, outDir, quiet: true, env: { HF_ENDPOINT: hub.url } });
  const params = {
    dimIn: DIM,
    dimOut: DIM,
    nVocab: VOCAB,
    kernel: new Float32Array(DIM * DIM).map((_, i) => (i % (DIM + 1) === 0 ? 1 : 0)),
    bias: new Float32Array(DIM),
  };
  const meta = { config: { name }, step: 1, matryoshka_dims: [DIM], binarize: 'none' as const, norm: false, token_weights: 'none' as const, eval: [] };
  await writeModelCheckpoint(checkpointDir(outDir, 'best'), params, meta);
  await runSave({ config, outDir, quiet: true, backend: 'js' });
  const read = (f: string) => readFileSync(join(outDir, f), 'utf8');
  return { facts: JSON.parse(read('extract.json')), card: read('README.md'), config: JSON.parse(read('config.json')) };
}

describe('the source licence in the model card', () => {
  it('a hub source with a licence: extract.json, config.json and the card front matter carry it', async () => {
    const { facts, card, config } = await buildFrom('org/licensed');
    expect(facts.sources[0]).toMatchObject({ repo: 'org/licensed', license: 'apache-2.0' });
    expect(config.source.sources[0]).toMatchObject({ repo: 'org/licensed', license: 'apache-2.0' });
    const front = card.slice(0, card.indexOf('\n---\n', 4));
    expect(front.split('\n')).toContain('license: "apache-2.0"');
    expect(front.split('\n')).toContain('- "org/licensed"');
  });

  it('a hub source whose card states no licence: no license line', async () => {
    const { facts, card } = await buildFrom('org/unlicensed');
    expect(facts.sources[0]).not.toHaveProperty('license');
    expect(card).not.toMatch(/^license:/m);
  });

  it('licenseOf reads cardData.license (string or list), else the license:<id> tag', () => {
    expect(licenseOf({ license: 'mit' }, ['license:apache-2.0'])).toBe('mit');
    expect(licenseOf({ license: ['llama3.1', 'other'] }, [])).toBe('llama3.1');
    expect(licenseOf(undefined, ['transformers', 'license:gemma'])).toBe('gemma');
    expect(licenseOf({}, ['transformers'])).toBeUndefined();
    expect(licenseOf(undefined, undefined)).toBeUndefined();
  });
});
