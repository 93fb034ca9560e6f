/**
 * Every table of a config is typed and checked when the file loads: typos, wrong types and contradictions in
 * [training], its sub-tables, [matryoshka] and [save] fail with one line naming file, table and key, before
 * any stage runs. Defaults come from the table declarations.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainingKeysHelp } from '../../src/config/help.ts';
import { CONFIG_DIR, loadConfig, parseConfig } from '../../src/config/load.ts';
import { renderKeys, validateTable, int, alias, ignored, str } from '../../src/config/schema.ts';
import { TRAINING_KEYS } from '../../src/config/training-table.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { runCli } from '../helpers/cli.ts';
import { startHubServer, tinyTokenizerJson, type HubServer } from '../helpers/hub-server.ts';

const file = '/cfg/x.toml';
const model = { hf_model_id: 'org/m', dim: 8, n_vocab: 10, pad_token: '<pad>' };

function messageOf(raw: Record<string, unknown>): string {
  try {
    parseConfig(raw, file);
  } catch (err) {
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect((err as { exitCode?: number }).exitCode).toBe(2);
    return message;
  }
  throw new Error('expected the config to be rejected');
}

describe('config tables checked at load', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a typo in [training]', { model, training: { batch_sise: 64 } }, '/cfg/x.toml: [training] batch_sise: unknown key (known keys: batch_size, '],
    ['a wrong type in [training]', { model, training: { lr: 'fast' } }, '/cfg/x.toml: [training] lr: expected a number, got "fast"'],
    ['a value out of range', { model, training: { batch_size: 0 } }, '/cfg/x.toml: [training] batch_size: expected a positive integer, got 0'],
    [
      'a choice not offered',
      { model, training: { binarize: 'sign' } },
      '/cfg/x.toml: [training] binarize: expected one of "none", "ste", "tanh", "reste", got "sign"',
    ],
    [
      'an alias and its key both set',
      { model, training: { lr: 0.1, learning_rate: 0.2 } },
      '/cfg/x.toml: [training] learning_rate: is an alias of lr; set only one of them',
    ],
    [
      'an unknown key in [training.teacher]',
      { model, training: { teacher: { wieght: 1 } } },
      '/cfg/x.toml: [training.teacher] wieght: unknown key (known keys: model, ',
    ],
    [
      'a contradiction in [training.teacher]',
      { model, training: { teacher: { weight: 0, mnrl_weight: 0 } } },
      '/cfg/x.toml: [training.teacher]: weight and mnrl_weight are both 0: nothing to train on',
    ],
    [
      'an unknown key in [[training.datasets]]',
      { model, training: { datasets: [{ format: 'wordnet' }, { pth: 'a.jsonl' }] } },
      '/cfg/x.toml: [[training.datasets]] #2 pth: unknown key',
    ],
    [
      "an unknown key in a dataset's columns",
      { model, training: { datasets: [{ path: 'a.jsonl', columns: { anchr: 'q' } }] } },
      '/cfg/x.toml: [[training.datasets]] #1 columns anchr: unknown key',
    ],
    ['a dataset without a source', { model, training: { datasets: [{ weight: 2 }] } }, '/cfg/x.toml: [[training.datasets]] #1: needs path'],
    [
      '[training] datasets not tables',
      { model, training: { datasets: 'a.jsonl' } },
      '/cfg/x.toml: [training] datasets: expected an array of tables ([[...]]), got "a.jsonl"',
    ],
    ['a typo in [matryoshka]', { model, matryoshka: { dim: [8] } }, '/cfg/x.toml: [matryoshka] dim: unknown key (known keys: dims, weights, projection_dim)'],
    [
      '[matryoshka] dims beyond the projection',
      { model, matryoshka: { dims: [16, 8], projection_dim: 8 } },
      '/cfg/x.toml: [matryoshka] dims: 16 exceed the projection width 8',
    ],
    [
      '[matryoshka] weights of the wrong length',
      { model, matryoshka: { dims: [8, 4], weights: [1] } },
      '/cfg/x.toml: [matryoshka] weights: expected 2 non-negative numbers (one per dim), got [1]',
    ],
    ['a typo in [save]', { model, save: { dim: [8] } }, '/cfg/x.toml: [save] dim: unknown key (known keys: dims)'],
    [
      '[save] dims not positive',
      { model, save: { dims: [8, 0] } },
      '/cfg/x.toml: [save] dims: expected a non-empty array of positive integers, got an array ([8,0])',
    ],
    [
      'a top-level description',
      { description: 'x', model },
      '/cfg/x.toml: description: unknown top-level key (known: name, model, sources, tokenizer, training, matryoshka, save); put description in [model]',
    ],
    ['a top-level [eval] table', { model, eval: { tasks: ['sts'] } }, '/cfg/x.toml: eval: unknown top-level key'],
    [
      // Sources share one tokenizer, so the pad token is the config's, set once in [model].
      'a per-source pad_token',
      { model: { n_vocab: 10, pad_token: '<pad>' }, sources: [{ hf_model_id: 'org/a', dim: 8, pad_token: '<eos>' }] },
      '/cfg/x.toml: [[sources]] #1 pad_token: unknown key',
    ],
    [
      'a per-source description',
      { model: { n_vocab: 10, pad_token: '<pad>' }, sources: [{ hf_model_id: 'org/a', dim: 8, description: 'a' }] },
      '/cfg/x.toml: [[sources]] #1 description: unknown key',
    ],
  ];
  for (const [what, raw, message] of cases) {
    it(what, () => {
      const got = messageOf(raw);
      expect(got.startsWith(message), `${got}\ndoes not start with\n${message}`).toBe(true);
    });
  }

  it('fills every default from the declarations: [training], [training.teacher], [[training.datasets]], [matryoshka]', () => {
    const c = parseConfig({ model, training: { teacher: {}, datasets: [{ format: 'wordnet' }], learning_rate: 0.5, fp16: true } }, file);
    expect(c.training).toMatchObject({ batch_size: 512, epochs: 1, lr: 0.5, seed: 42, binarize: 'none', threads: 2, memory_cache_mb: 1024 });
    expect(c.training).not.toHaveProperty('learning_rate');
    expect(c.training).not.toHaveProperty('fp16');
    expect(c.training.teacher).toEqual({ model: 'use_lite', weight: 1, loss: 'cosine', mnrl_weight: 1, batch_size: 64, guide: false, guide_margin: 0 });
    expect(c.training.datasets).toEqual([expect.objectContaining({ format: 'wordnet', weight: 1, max_records: 120000 })]);
    expect(c.matryoshka).toEqual({ dims: [8], weights: [1], projection_dim: 8 });
    expect(c.save).toEqual({});
    const t = parseTrainConfig(c);
    expect([t.batchSize, t.lr, t.maxLength, t.projectionDim]).toEqual([512, 0.5, 256, 8]);
  });

  it('every shipped config loads', () => {
    const names = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.toml'));
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(() => loadConfig(join(CONFIG_DIR, name))).not.toThrow();
  });
});

describe('the schema DSL', () => {
  it('types from the declaration: defaults present, aliases folded, ignored keys dropped', () => {
    const spec = { n: int({ default: 3 }), m: int(), k: alias('n', int()), old: ignored(str()) };
    const v = validateTable(file, '[t]', { k: 5, old: 'x' }, spec);
    const n: number = v.n; // a default makes the key always present (a type error otherwise)
    expect([n, v.m]).toEqual([5, undefined]);
    expect(Object.keys(v)).toEqual(['n']);
  });

  it('renders one line per key with its type and default; pipeline train --help lists every [training] key', () => {
    expect(renderKeys({ n: int({ default: 3, doc: 'a count' }) })).toBe('  n  int  a count (default 3)');
    const help = trainingKeysHelp();
    for (const [key, field] of Object.entries(TRAINING_KEYS)) {
      if (field.aliasOf === undefined && !field.ignored) expect(help).toMatch(new RegExp(`^  ${key} `, 'm'));
    }
    expect(help).toContain('learning_rate (= lr)');
  });
});

describe('pipeline run with a bad config', () => {
  let server: HubServer;
  let dir: string;
  let savedEndpoint: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cfg-run-'));
    server = await startHubServer();
    server.addRepo({ id: 'org/big', files: { 'tokenizer.json': { data: new TextEncoder().encode(tinyTokenizerJson(10)) } } });
    savedEndpoint = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = server.url;
  });
  afterAll(async () => {
    if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = savedEndpoint;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 2 with one line naming file, table and key, and sends no request', async () => {
    const toml = join(dir, 'typo.toml');
    writeFileSync(toml, '[model]\nhf_model_id = "org/big"\ndim = 8\nn_vocab = 10\npad_token = "<eos>"\n[training]\nbatch_sise = 64\n');
    const r = await runCli(['run', '--config', toml, '--out-dir', join(dir, 'out'), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(`${toml}: [training] batch_sise: unknown key`);
    expect(server.requests).toEqual([]);
  });
});
