/** Export a loaded model into another library's layout: one table of formats, one entry point. */
import type { StaticModel } from '../embed/model.ts';
import { UserError } from '../util/errors.ts';
import { toModel2Vec, type ExportOptions } from './model2vec.ts';
import { toSentenceTransformers } from './sentence-transformers.ts';
import { toWordLlama } from './wordllama.ts';

export const EXPORT_FORMATS = {
  model2vec: (m: StaticModel, dir: string, _name: string, o: ExportOptions) => toModel2Vec(m, dir, o),
  'sentence-transformers': (m: StaticModel, dir: string, _name: string, o: ExportOptions) => toSentenceTransformers(m, dir, o),
  wordllama: (m: StaticModel, dir: string, name: string, o: ExportOptions) => toWordLlama(m, dir, name, o),
} as const;
export type ExportFormat = keyof typeof EXPORT_FORMATS;

export function parseExportFormat(value: string): ExportFormat {
  if (!Object.hasOwn(EXPORT_FORMATS, value)) {
    throw new UserError(`export: --format "${value}" is not one of ${Object.keys(EXPORT_FORMATS).join(', ')}`);
  }
  return value as ExportFormat;
}

/** Write `model` in `format` into `dir`; returns the files written, relative to `dir`. */
export function exportModel(model: StaticModel, format: ExportFormat, dir: string, name: string, opts: ExportOptions = {}): Promise<string[]> {
  return EXPORT_FORMATS[format](model, dir, name, opts);
}
