/**
 * Load a model from bytes (a browser `fetch`, or files read by node.ts): safetensors + tokenizer.json
 * (+ config.json). Checks that the matrix covers every token the tokenizer can produce. Browser-safe.
 */
import { UserError } from '../util/errors.ts';
import { parseSafetensorsBuffer } from '../safetensors/bytes.ts';
import { createTokenizer, parseTokenizerJson, type TextTokenizer, type TokenizerJson } from '../tokenize/tokenizer.ts';
import { detectFormat, readTokenMatrix, type Precision } from './formats.ts';
import { StaticModel } from './model.ts';

export interface ModelBuffers {
  safetensors: ArrayBuffer | Uint8Array;
  tokenizerJson: string | object;
  configJson?: object;
  /** tokenizer_config.json, when the tokenizer needs it. */
  tokenizerConfig?: object;
}

export interface LoadOptions {
  /** Matryoshka truncation of every embedding to the first `dim` values. */
  dim?: number;
  /** Use Hamming similarity of sign bits in rank/filter/similarity/deduplicate (default: config's `binarized`). */
  binary?: boolean;
  /** Override the config's normalisation default. */
  normalize?: boolean;
  /**
   * How rows of an F16 file stay in memory: 'f16' (default) keeps the file's bits (half the memory) and decodes
   * them through a table while pooling; 'f32' decodes them once. Same results, same speed within noise (pooling
   * is a small share of embed's time). Other dtypes are always held as float32. See docs/library.md.
   */
  precision?: Precision;
  /** Name used in error messages. */
  source?: string;
  /** Name of the tokenizer.json in error messages (default: `<source> (tokenizer.json)`). */
  tokenizerSource?: string;
}

/**
 * Largest id + 1 over the tokenizer's non-special tokens: every id ordinary text can produce. Special tokens
 * beyond the matrix (e.g. extra added tokens) are skipped when pooling.
 */
function requiredRows(tok: TextTokenizer): number {
  let max = -1;
  for (const id of tok.engine.get_vocab(true).values()) if (id > max && !tok.specialIds.has(id)) max = id;
  return max + 1;
}

export function loadModelFromBuffers(buffers: ModelBuffers, opts: LoadOptions = {}): StaticModel {
  const source = opts.source ?? 'model';
  if (!buffers || (!(buffers.safetensors instanceof ArrayBuffer) && !(buffers.safetensors instanceof Uint8Array))) {
    throw new UserError(`${source}: safetensors must be an ArrayBuffer or Uint8Array`);
  }
  const st = parseSafetensorsBuffer(buffers.safetensors, `${source} (safetensors)`);
  const tokSource = opts.tokenizerSource ?? `${source} (tokenizer.json)`;
  const tjson: TokenizerJson =
    typeof buffers.tokenizerJson === 'string' ? parseTokenizerJson(buffers.tokenizerJson, tokSource) : (buffers.tokenizerJson as TokenizerJson);
  if (!tjson || typeof tjson !== 'object' || typeof tjson.model !== 'object') {
    throw new UserError(`${source}: tokenizer.json has no "model" object`);
  }
  const tok = createTokenizer(tjson, (buffers.tokenizerConfig ?? {}) as Record<string, unknown>, tokSource);
  const config = buffers.configJson as Record<string, unknown> | undefined;
  const defaults = detectFormat(st, config, source);
  const precision = opts.precision ?? 'f16';
  const matrix = readTokenMatrix(st, defaults.tensor, precision, source, defaults.rowScale);
  const need = requiredRows(tok);
  if (matrix.ids < need) {
    throw new UserError(
      `${source}: vocabulary mismatch: the matrix covers ${matrix.ids} tokens but tokenizer.json has ids up to ${need - 1} ` +
        '(is this the tokenizer the model was built with?)',
    );
  }
  if (defaults.format === 'model2vec' && matrix.ids !== tok.vocabSize) {
    throw new UserError(`${source}: model2vec model covers ${matrix.ids} tokens but tokenizer.json has ${tok.vocabSize}`);
  }
  return new StaticModel(tok, matrix, defaults, {
    dim: opts.dim,
    binary: opts.binary,
    normalize: opts.normalize,
    config,
    precision: matrix.f16 ? 'f16' : 'f32',
    source,
  });
}
