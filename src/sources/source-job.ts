/**
 * What every source adapter (hub safetensors, local safetensors, TF.js, GGUF local or on the hub) is called with,
 * and the one builder of the facts it returns, so the fields every kind shares (name, output file, dtype, time)
 * are filled in one place.
 */
import type { SourceConfig } from '../config/types.ts';
import type { ExtractOptions, SourceResult } from './extract.ts';
import type { SourceWhere } from './write-matrix.ts';

/** One source to extract: its config, the table it came from (for messages), its output file, the run's options. */
export interface SourceJob {
  source: SourceConfig;
  where: SourceWhere;
  outPath: string;
  opts: ExtractOptions;
  /** performance.now() when the source started, for `seconds`. */
  started: number;
}

type Derived = 'name' | 'file' | 'dtype' | 'seconds';
/** What a local source (a file here, a TF.js model) never has: a commit, downloaded or resumed bytes. */
type NotLocal = 'revision' | 'bytes_downloaded' | 'bytes_resumed';

export function sourceResult(job: SourceJob, facts: Omit<SourceResult, Derived>): SourceResult {
  return { name: job.source.name, file: job.outPath, dtype: job.opts.dtype, seconds: (performance.now() - job.started) / 1000, ...facts };
}

export function localSourceResult(job: SourceJob, facts: Omit<SourceResult, Derived | NotLocal>): SourceResult {
  return sourceResult(job, { revision: 'local', bytes_downloaded: 0, bytes_resumed: 0, ...facts });
}
