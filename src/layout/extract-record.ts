/**
 * `extract.json` in a weights folder: extract's facts per source (bytes moved, provenance, the report's table),
 * its notes, and the pad-token default the sources' metadata gave. Written by extract, read back here only, so
 * train, save and `pipeline run` learn the pad token of a config that leaves `[model] pad_token` out (GGUF
 * sources only) through one function, `padTokenFor`.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ModelConfig } from '../config/types.ts';
import { ConfigError } from '../config/schema.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { extractFactsPath } from './weights-dir.ts';

/** The pad token a source's own metadata names (a GGUF file's padding token, else its EOS), and where it came from. */
export interface PadTokenDefault {
  token: string;
  /** E.g. `model.gguf: tokenizer.ggml.padding_token_id 0`: for messages and readers of the file. */
  from: string;
}

export interface ExtractRecord {
  config: string;
  sources: Record<string, unknown>[];
  notes: string[];
  /**
   * Recorded whenever the sources name one, also when the config sets `[model] pad_token` (which then wins), so
   * removing the key later needs no second extract.
   */
  pad_token_default?: PadTokenDefault;
}

/** The folder's extract.json, or undefined when there is none or it cannot be parsed (an extract then redoes it). */
export function readExtractRecord(dir: string): ExtractRecord | undefined {
  const path = extractFactsPath(dir);
  if (!existsSync(path)) return undefined;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<ExtractRecord>;
    const pad = raw.pad_token_default;
    return {
      config: String(raw.config ?? ''),
      sources: Array.isArray(raw.sources) ? raw.sources : [],
      notes: Array.isArray(raw.notes) ? raw.notes : [],
      ...(pad && typeof pad.token === 'string' ? { pad_token_default: { token: pad.token, from: String(pad.from ?? '') } } : {}),
    };
  } catch {
    return undefined;
  }
}

export async function writeExtractRecord(dir: string, record: ExtractRecord): Promise<string> {
  const path = extractFactsPath(dir);
  await writeJsonAtomic(path, record);
  return path;
}

/**
 * The pad token every stage after extract uses: the config's `[model] pad_token` when set, else the default
 * extract recorded from the GGUF metadata. Neither is one line saying how to get one.
 */
export function padTokenFor(config: ModelConfig, dir: string): string {
  if (config.pad_token !== undefined) return config.pad_token;
  const recorded = readExtractRecord(dir)?.pad_token_default;
  if (recorded) return recorded.token;
  throw new ConfigError(
    config.file,
    '[model] pad_token',
    `not set, and ${extractFactsPath(dir)} records no default from the GGUF metadata; run: pipeline extract --config ${config.name} (GGUF sources), or set [model] pad_token`,
  );
}
