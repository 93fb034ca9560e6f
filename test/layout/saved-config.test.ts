import { describe, expect, it } from 'vitest';
import { buildSavedModelConfig, isSavedModelConfig, pickSavedFile, readSavedModelConfig } from '../../src/layout/saved-config.ts';

const fields = {
  name: 'toy',
  dims: [256, 64, 128],
  n_vocab: 32000,
  pad_token: '</s>',
  pad_token_id: 2,
  binarized: false,
  normalize: true,
  token_delta: false,
  max_length: 128,
  add_special_tokens: false,
};

describe('saved model config.json', () => {
  it('the builder writes model_type, the files map from the file-name rule, and dim only for one width', () => {
    const c = buildSavedModelConfig(fields);
    expect(c.model_type).toBe('wordllama-ts');
    expect(c.files).toEqual({ '64': 'toy_64.safetensors', '128': 'toy_128.safetensors', '256': 'toy_256.safetensors' });
    expect(c.dims).toEqual([256, 64, 128]);
    expect('dim' in c).toBe(false);
    expect(buildSavedModelConfig({ ...fields, dims: [64] }).dim).toBe(64);
  });

  it('reads back what it wrote (through JSON), and tells ours from other config.json files', () => {
    const json = JSON.parse(JSON.stringify(buildSavedModelConfig(fields))) as unknown;
    expect(isSavedModelConfig(json)).toBe(true);
    expect(isSavedModelConfig({ model_type: 'model2vec' })).toBe(false);
    expect(readSavedModelConfig(json, 'x/config.json')).toMatchObject(fields);
  });

  it('picks the asked dim, else the next wider, else the widest; only among files present', () => {
    const c = buildSavedModelConfig(fields);
    expect(pickSavedFile(c)).toEqual({ dim: 256, file: 'toy_256.safetensors' });
    expect(pickSavedFile(c, 128)).toEqual({ dim: 128, file: 'toy_128.safetensors' });
    expect(pickSavedFile(c, 100)).toEqual({ dim: 128, file: 'toy_128.safetensors' });
    expect(pickSavedFile(c, 1024)).toEqual({ dim: 256, file: 'toy_256.safetensors' });
    expect(pickSavedFile(c, 100, (f) => f !== 'toy_128.safetensors')).toEqual({ dim: 256, file: 'toy_256.safetensors' });
    expect(pickSavedFile(c, 64, () => false)).toBeUndefined();
  });

  it('configs without a files map (older saves) get the file-name rule', () => {
    const { files: _files, ...old } = buildSavedModelConfig(fields);
    expect(readSavedModelConfig(old, 'c.json').files['64']).toBe('toy_64.safetensors');
  });

  it('a key of the wrong type, or a file name that leaves the folder, is one line naming the file and key', () => {
    const base = buildSavedModelConfig(fields);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, dims: [] }, /^m\/config\.json: "dims" must be a non-empty array of positive integers/],
      [{ ...base, dims: [64.5] }, /"dims" must be/],
      [{ ...base, name: 3 }, /"name" must be a non-empty string/],
      [{ ...base, normalize: 'yes' }, /"normalize" must be true or false \(got "yes"\)/],
      [{ ...base, pad_token_id: -1 }, /"pad_token_id" must be a token id/],
      [{ ...base, dtype: 'q4' }, /"dtype" must be "f32", "f16" or "int8"/],
      [{ ...base, files: { ...base.files, '64': '../../etc/passwd' } }, /"files" must be an object with a plain file name for every dim .*unsafe for 64/],
      [{ ...base, files: { '64': 'toy_64.safetensors' } }, /missing or unsafe for 256/],
    ];
    for (const [json, re] of cases) expect(() => readSavedModelConfig(json, 'm/config.json')).toThrow(re);
    expect(() => readSavedModelConfig({ model_type: 'model2vec' }, 'm/config.json')).toThrow(/model_type is not "wordllama-ts"/);
  });
});
