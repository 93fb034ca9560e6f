/**
 * One resolver for everything that takes a model: a local path when it exists, else a hub id
 * (`org/name`, `org/name@rev`, `hf:org/name`) brought into the huggingface_hub cache.
 */
import { existsSync } from 'node:fs';
import { cachedModelDir, type HubLoadOptions } from './download.ts';
import { isExplicitHubId, parseHubModelId } from './model-id.ts';

/** Local folder or file holding the model `idOrPath` names; downloads what a hub id needs first. */
export async function resolveModelSource(idOrPath: string, opts: HubLoadOptions = {}): Promise<string> {
  if (!isExplicitHubId(idOrPath) && existsSync(idOrPath)) return idOrPath;
  const id = parseHubModelId(idOrPath);
  if (!id) return idOrPath; // neither: the loader reports the missing path
  return cachedModelDir(id.repo, { ...opts, revision: opts.revision ?? id.revision });
}

/** The CLI's `--model`: like resolveModelSource, with a line on stderr per file downloaded. */
export function resolveModelArg(arg: string, dim?: number): Promise<string> {
  return resolveModelSource(arg, {
    dim,
    onFile: (file, bytes) => process.stderr.write(`downloaded ${file} (${bytes} bytes)\n`),
  });
}
