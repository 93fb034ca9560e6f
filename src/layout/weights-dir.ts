/**
 * Paths in a weights folder (weights/<config>/, or `--out-dir`): every stage reads and writes its files
 * through these, so the layout is written down once. Also which file is the training input.
 */
import { join } from 'node:path';
import type { ModelConfig } from '../config/types.ts';
import {
  CACHE_DIR,
  CHECKPOINT_MODEL_FILE,
  CHECKPOINTS_DIR,
  CONCAT_FILE,
  EVAL_FILE,
  EXTRACT_FACTS_FILE,
  INSPECT_FILE,
  INSPECT_HTML_FILE,
  METRICS_FILE,
  MODEL_CARD_FILE,
  MODEL_CONFIG_FILE,
  REPORT_FILE,
  RUN_FILE,
  SOURCE_CONFIG_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  savedFileName,
  sourceFileName,
} from './file-names.ts';

export type CheckpointName = 'best' | 'last';

export const sourcePath = (dir: string, sourceName: string) => join(dir, sourceFileName(sourceName));
export const tokenizerPath = (dir: string) => join(dir, TOKENIZER_FILE);
export const tokenizerConfigPath = (dir: string) => join(dir, TOKENIZER_CONFIG_FILE);
export const sourceConfigPath = (dir: string) => join(dir, SOURCE_CONFIG_FILE);
export const extractFactsPath = (dir: string) => join(dir, EXTRACT_FACTS_FILE);
export const concatPath = (dir: string) => join(dir, CONCAT_FILE);
export const checkpointsPath = (dir: string) => join(dir, CHECKPOINTS_DIR);
export const checkpointDir = (dir: string, which: CheckpointName) => join(dir, CHECKPOINTS_DIR, which);
export const checkpointModelPath = (dir: string, which: CheckpointName) => join(checkpointDir(dir, which), CHECKPOINT_MODEL_FILE);
export const metricsPath = (dir: string) => join(dir, METRICS_FILE);
export const cachePath = (dir: string) => join(dir, CACHE_DIR);
export const savedModelPath = (dir: string, configName: string, dim: number) => join(dir, savedFileName(configName, dim));
export const modelConfigPath = (dir: string) => join(dir, MODEL_CONFIG_FILE);
export const modelCardPath = (dir: string) => join(dir, MODEL_CARD_FILE);
export const runRecordPath = (dir: string) => join(dir, RUN_FILE);
export const evalPath = (dir: string) => join(dir, EVAL_FILE);
export const reportPath = (dir: string) => join(dir, REPORT_FILE);
export const inspectPath = (dir: string) => join(dir, INSPECT_FILE);
export const inspectHtmlPath = (dir: string) => join(dir, INSPECT_HTML_FILE);

/**
 * The training (and save) input of a config: its single extracted source file, or for several `[[sources]]`
 * the concat descriptor, which names the source files (and a materialized copy, when there is one).
 */
export type TrainingInput = { kind: 'source'; path: string } | { kind: 'concat'; descriptor: string; sources: string[] };

export function trainingInput(config: ModelConfig, dir: string): TrainingInput {
  if (config.sources.length === 1) return { kind: 'source', path: sourcePath(dir, config.sources[0]!.name) };
  return { kind: 'concat', descriptor: concatPath(dir), sources: config.sources.map((s) => sourcePath(dir, s.name)) };
}
