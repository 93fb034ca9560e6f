/**
 * `model.safetensors.index.json`: `{metadata?: {total_size}, weight_map: {tensor: shard file}}`.
 * Shard names come from the network, so anything that is not a plain file name is rejected (no `..`, no `/`).
 */
import { SafetensorsError } from './header.ts';

export interface ShardIndex {
  weightMap: Map<string, string>;
  totalSize?: number;
}

export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\\') && !name.includes('\0') && !/^[A-Za-z]:/.test(name);
}

export function parseShardIndex(text: string, source: string): ShardIndex {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const obj = raw as { weight_map?: unknown; metadata?: { total_size?: unknown } };
  if (!obj || typeof obj !== 'object' || !obj.weight_map || typeof obj.weight_map !== 'object' || Array.isArray(obj.weight_map)) {
    throw new SafetensorsError(`${source}: missing "weight_map" object`);
  }
  const weightMap = new Map<string, string>();
  for (const [tensor, file] of Object.entries(obj.weight_map as Record<string, unknown>)) {
    if (typeof file !== 'string' || !isPlainFileName(file)) {
      throw new SafetensorsError(`${source}: weight_map["${tensor}"] = ${JSON.stringify(file)} is not a plain file name (refusing paths outside the repo)`);
    }
    weightMap.set(tensor, file);
  }
  const total = obj.metadata?.total_size;
  return { weightMap, totalSize: typeof total === 'number' ? total : undefined };
}
