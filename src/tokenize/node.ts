/** Node-side tokenizer loading: read tokenizer.json (and tokenizer_config.json beside it) from disk. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { createTokenizer, parseTokenizerJson, type TextTokenizer } from './tokenizer.ts';

export function loadTokenizerFile(path: string): TextTokenizer {
  if (!existsSync(path)) throw new UserError(`${path}: tokenizer file not found`);
  const json = parseTokenizerJson(readFileSync(path, 'utf8'), path);
  const cfgPath = join(dirname(path), 'tokenizer_config.json');
  let config: Record<string, unknown> = {};
  if (existsSync(cfgPath)) {
    try {
      config = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new UserError(`${cfgPath}: not valid JSON`);
    }
  }
  return createTokenizer(json, config, path);
}
