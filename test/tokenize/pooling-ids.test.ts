import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenizePairs } from '../../src/data/load.ts';
import { keepPoolingIds, poolingIds, poolingRules } from '../../src/tokenize/pooling-ids.ts';
import { createTokenizer, parseTokenizerJson } from '../../src/tokenize/tokenizer.ts';

const llama3Path = join(import.meta.dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama3', 'models', 'tokenizer.json');

describe('pooling ids: one rule for training, evaluation and the library', () => {
  it('drops pad and UNK before truncating', () => {
    expect([...poolingIds([5, 0, 7, 2, 9, 11], { skipIds: [0, 2], maxLength: 3 })]).toEqual([5, 7, 9]);
    expect([...poolingIds([5, 0, 7], { skipIds: [], maxLength: 0 })]).toEqual([5, 0, 7]);
  });

  it('the library keeps the counted ids in place and also drops ids outside its matrix', () => {
    const ids = Int32Array.of(5, 0, 40, 7, -1, 2, 9, 11);
    const n = keepPoolingIds(ids, 7, { skipIds: [0, 2], maxLength: 0 }, 10);
    expect([...ids.subarray(0, n)]).toEqual([5, 7, 9]);
    expect(keepPoolingIds(Int32Array.of(1, 2, 3), 3, { skipIds: [], maxLength: 2 })).toBe(2);
  });

  it('training tokenization drops a literal pad token, as the embedding library does', () => {
    const tok = createTokenizer(parseTokenizerJson(readFileSync(llama3Path, 'utf8'), llama3Path));
    const padId = tok.tokenToId('<|end_of_text|>')!;
    const text = 'hello <|end_of_text|> world';
    expect(tok.encode(text)).toContain(padId);
    const rules = poolingRules(tok, padId, 128);
    const { records } = tokenizePairs([{ anchor: text, positive: 'hello world' }], tok, rules);
    expect([...records[0]!.anchor]).not.toContain(padId);
    expect([...records[0]!.anchor]).toEqual(tok.encode(text).filter((id) => id !== padId));
  });
});
