/**
 * Bad input and access problems: each fails before any matrix is written, with one line that names the
 * config key (or repo) and says how to fix it. Also a two-source (concat) config end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { extract, type ExtractRequest } from '../../src/sources/extract.ts';
import { HubError } from '../../src/hub/errors.ts';
import { UserError } from '../../src/util/errors.ts';
import { startHubServer, writeSparseSafetensors, matrixBytes, tinyTokenizerJson, type HubServer } from '../helpers/hub-server.ts';

const ROWS = 200;
const DIM = 32;
const TOKEN = 'hf_goodtoken';
let tmp: string;
let server: HubServer;
const enc = (s: string) => ({ data: new TextEncoder().encode(s) });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'extract-errors-'));
  server = await startHubServer({ redirect: true });
  const shard = (file: string, name = 'model.embed_tokens.weight', rows = ROWS, seed = 1) => {
    writeSparseSafetensors(join(tmp, file), [
      { name, dtype: 'BF16', shape: [rows, DIM], data: matrixBytes(rows, DIM, 'BF16', seed) },
      { name: 'model.norm.weight', dtype: 'BF16', shape: [DIM], data: matrixBytes(1, DIM, 'BF16', 2) },
    ]);
    return { disk: join(tmp, file) };
  };
  const tok = enc(tinyTokenizerJson(ROWS));
  server.addRepo({ id: 'org/ok', files: { 'model.safetensors': shard('ok.safetensors'), 'tokenizer.json': tok } });
  server.addRepo({ id: 'org/ok2', files: { 'model.safetensors': shard('ok2.safetensors', 'model.embed_tokens.weight', ROWS, 5), 'tokenizer.json': tok } });
  server.addRepo({ id: 'org/gated', gated: true, allowedTokens: [TOKEN], files: { 'model.safetensors': shard('g.safetensors'), 'tokenizer.json': tok } });
  server.addRepo({ id: 'org/odd-name', files: { 'model.safetensors': shard('odd.safetensors', 'encoder.something.weight'), 'tokenizer.json': tok } });
  server.addRepo({ id: 'org/bin-only', files: { 'pytorch_model.bin': enc('not safetensors'), 'tokenizer.model': enc('x') } });
  server.addRepo({
    id: 'org/lost-shard',
    files: {
      'model.safetensors.index.json': enc(
        JSON.stringify({
          weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors', 'model.norm.weight': 'model-00002-of-00002.safetensors' },
        }),
      ),
      'model-00002-of-00002.safetensors': shard('lost2.safetensors'),
    },
  });
  server.addRepo({
    id: 'org/evil-index',
    files: { 'model.safetensors.index.json': enc(JSON.stringify({ weight_map: { 'model.embed_tokens.weight': '../../etc/passwd' } })) },
  });
  server.addRepo({ id: 'org/other-tok', files: { 'model.safetensors': shard('ot.safetensors'), 'tokenizer.json': enc(tinyTokenizerJson(ROWS - 1)) } });
  server.addRepo({ id: 'org/no-tok', files: { 'model.safetensors': shard('nt.safetensors'), 'tokenizer.model': enc('sp') } });
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
function run(
  model: Record<string, unknown>,
  env: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): { req: ExtractRequest; promise: Promise<unknown> } {
  const config = parseConfig({ model: { dim: DIM, n_vocab: ROWS, pad_token: '<eos>', ...model }, ...extra }, join(tmp, 'bad.toml'));
  const req: ExtractRequest = {
    config,
    outDir: join(tmp, `out${++n}`),
    quiet: true,
    env: { HF_ENDPOINT: server.url, ...env },
    hub: { retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 } },
  };
  return { req, promise: extract(req) };
}

/** The error is a one-line UserError matching `re`, and nothing that looks like a matrix was written. */
async function expectFailure(r: { req: ExtractRequest; promise: Promise<unknown> }, re: RegExp, cls: typeof UserError = UserError) {
  const err = await r.promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  const msg = (err as Error).message;
  expect(msg).not.toContain('\n');
  expect(msg).toMatch(re);
  const out = r.req.outDir!;
  const left = existsSync(out) ? readdirSync(out) : [];
  expect(left.filter((f) => f.endsWith('.safetensors'))).toEqual([]);
}

describe('access errors', () => {
  it('a repo that does not exist (no token): says so and hints at HF_TOKEN for private repos', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/nope' }),
      /^repository "org\/nope" not found on http:\/\/127\.0\.0\.1:\d+ \(if it is private, set HF_TOKEN\); check hf_model_id in the config$/,
      HubError,
    );
  });
  it('a repo that does not exist (with a token): 404, no private hint', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/nope' }, { HF_TOKEN: TOKEN }),
      /^repository "org\/nope" not found on .*; check hf_model_id in the config$/,
      HubError,
    );
  });
  it('a gated repo without a token: accept the licence and set HF_TOKEN', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/gated' }),
      /^org\/gated is a gated model \(HTTP 401\): accept the licence on http:\/\/127\.0\.0\.1:\d+\/org\/gated, then set HF_TOKEN to an access token of that account/,
      HubError,
    );
  });
  it('a gated repo with a token that has not accepted the licence: 403', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/gated' }, { HF_TOKEN: 'hf_someoneelse' }),
      /^org\/gated is a gated model and HF_TOKEN's account has no access yet \(HTTP 403\): accept the licence on .*\/org\/gated/,
      HubError,
    );
  });
  it('a malformed HF_TOKEN', async () => {
    await expectFailure(run({ hf_model_id: 'org/ok' }, { HF_TOKEN: 'not-a-token' }), /HF_TOKEN does not look like a Hugging Face access token/);
  });
  it('a revision that does not exist', async () => {
    await expectFailure(run({ hf_model_id: 'org/ok', revision: 'v9' }), /^revision "v9" not found in org\/ok; check revision in the config$/, HubError);
  });
});

describe('config contradicts the checkpoint', () => {
  it('dim differs from the tensor: names [model] dim and the right value', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/ok', dim: 31 }),
      /bad\.toml: \[model\] dim: 31 contradicts the tensor: org\/ok\/model\.safetensors#model\.embed_tokens\.weight is \[200, 32\]; set dim = 32$/,
    );
  });
  it('n_vocab larger than the tensor', async () => {
    await expectFailure(run({ hf_model_id: 'org/ok', n_vocab: 201 }), /bad\.toml: \[model\] n_vocab: 201 is more than the tensor's 200 rows/);
  });
  it('n_vocab smaller than the tensor without drop_extra_rows', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/ok', n_vocab: 150 }),
      /bad\.toml: \[model\] n_vocab: 150 but the tensor has 200 rows .*set drop_extra_rows = true/,
    );
  });
  it('n_vocab smaller than the tokenizer (with drop_extra_rows)', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/ok', n_vocab: 150, drop_extra_rows: true }),
      /bad\.toml: \[model\] n_vocab: 150 is smaller than the tokenizer's 200 tokens/,
    );
  });
  it('pad_token that the tokenizer does not have', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/ok', pad_token: '<|endoftext|>' }),
      /bad\.toml: \[model\] pad_token: "<\|endoftext\|>" is not a token of org\/ok\/tokenizer\.json \(its special tokens: <pad>, <eos>, <unk>\)$/,
    );
  });
  it('tensor named in the config is missing: suggests the detected one', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/ok', tensor: 'model.embed.weight' }),
      /org\/ok\/model\.safetensors: no tensor "model\.embed\.weight" \(from tensor\); did you mean "model\.embed_tokens\.weight"\?/,
    );
  });
  it('no known embedding name: asks for tensor = ...', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/odd-name' }),
      /org\/odd-name\/model\.safetensors: no token-embedding tensor found among 2 tensors \(encoder\.something\.weight, model\.norm\.weight\); set tensor = "\.\.\." in the config/,
    );
  });
  it('a 1-D tensor chosen by name', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/ok', tensor: 'model.norm.weight' }),
      /shape \[32\] is not a 2-D \[rows, dim\] matrix; set tensor = "\.\.\." in .*bad\.toml \[model\]/,
    );
  });
});

describe('repo layout problems', () => {
  it('no safetensors weights at all', async () => {
    await expectFailure(run({ hf_model_id: 'org/bin-only' }), /org\/bin-only@main has no safetensors weights \(files: pytorch_model\.bin, tokenizer\.model\)/);
  });
  it('index names a shard the repo does not have', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/lost-shard' }),
      /model\.safetensors\.index\.json puts "model\.embed_tokens\.weight" in model-00001-of-00002\.safetensors, but org\/lost-shard@[0-9a-f]{12} has no such file/,
    );
  });
  it('index with a path outside the repo is refused', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/evil-index' }),
      /weight_map\["model\.embed_tokens\.weight"\] = "\.\.\/\.\.\/etc\/passwd" is not a plain file name/,
    );
  });
  it('only tokenizer.model: refused before the matrix is fetched, saying how to supply tokenizer.json', async () => {
    await expectFailure(
      run({ hf_model_id: 'org/no-tok' }),
      /^org\/no-tok@[0-9a-f]{12} has no tokenizer\.json, only tokenizer\.model \(sentencepiece\); save one with transformers \(AutoTokenizer\.from_pretrained\("org\/no-tok"\)\.save_pretrained\(DIR\)\), copy DIR\/tokenizer\.json to \S+\/tokenizer\.json and run extract again$/,
    );
  });
});

describe('several sources', () => {
  const two = (second: string) =>
    parseConfig(
      {
        model: { dim: 2 * DIM, n_vocab: ROWS, pad_token: '<eos>' },
        sources: [
          { hf_model_id: 'org/ok', dim: DIM },
          { hf_model_id: second, dim: DIM },
        ],
      },
      join(tmp, 'cat.toml'),
    );
  it('writes one file per source and one tokenizer', async () => {
    const out = join(tmp, 'cat-ok');
    const s = await extract({ config: two('org/ok2'), outDir: out, quiet: true, env: { HF_ENDPOINT: server.url } });
    expect(s.sources.map((x) => x.name)).toEqual(['ok', 'ok2']);
    expect(readdirSync(out).sort()).toEqual(['extract.json', 'ok.safetensors', 'ok2.safetensors', 'tokenizer.json']);
  });
  it('refuses sources whose tokenizers differ', async () => {
    await expect(extract({ config: two('org/other-tok'), outDir: join(tmp, 'cat-bad'), quiet: true, env: { HF_ENDPOINT: server.url } })).rejects.toThrow(
      /cat\.toml: sources "ok" and "other-tok" have different tokenizers; concatenated sources must share one tokenizer/,
    );
    // Refused before the second matrix was downloaded.
    expect(readdirSync(join(tmp, 'cat-bad')).sort()).toEqual(['ok.safetensors', 'tokenizer.json']);
  });
  it('--from is refused for several sources', async () => {
    await expect(extract({ config: two('org/ok2'), from: tmp, quiet: true })).rejects.toThrow(
      /--from replaces the location of a single source, but .*cat\.toml has 2 \[\[sources\]\]/,
    );
  });
});
