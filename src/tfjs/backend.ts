/**
 * Pick the TF.js backend: tfjs-node (native TensorFlow) when installed, else wasm (XNNPACK, SIMD when the
 * runtime has it), else the pure-JS cpu backend. `--backend` forces one; the reason is reported either way.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { UserError, errorMessage } from '../util/errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES = ['auto', 'node', 'tensorflow', 'wasm', 'cpu'] as const;

export interface TrainBackend {
  tf: typeof tfTypes;
  name: BackendName;
  /** One line: which backend and why (e.g. "wasm (SIMD, 1 thread): @tensorflow/tfjs-node is not installed"). */
  reason: string;
}

const require = createRequire(import.meta.url);
let current: TrainBackend | undefined;

/** Directory holding the wasm binaries (tfjs-backend-wasm/dist/), found through node's resolver. */
export function wasmDir(): string {
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
}

async function tryNode(): Promise<TrainBackend | string> {
  try {
    const mod = (await import('@tensorflow/tfjs-node' as string)) as typeof tfTypes;
    await mod.setBackend('tensorflow');
    await mod.ready();
    return { tf: mod, name: 'tensorflow', reason: 'tensorflow (tfjs-node, native)' };
  } catch (err) {
    return `@tensorflow/tfjs-node is not usable (${errorMessage(err).split('\n')[0]})`;
  }
}

async function tryWasm(tf: typeof tfTypes): Promise<TrainBackend | string> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmDir());
    const ok = await tf.setBackend('wasm');
    if (!ok) return 'the wasm backend failed to initialise';
    await tf.ready();
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    return { tf, name: 'wasm', reason: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : '1 thread'})` };
  } catch (err) {
    return `wasm failed (${errorMessage(err).split('\n')[0]})`;
  }
}

/**
 * Initialise and return the backend. `choice`: auto (default) | node/tensorflow | wasm | cpu. A forced choice
 * that cannot load is a UserError; auto falls through and says why.
 */
export async function selectBackend(choice: string = 'auto'): Promise<TrainBackend> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UserError(`--backend: "${choice}" is not one of ${BACKEND_CHOICES.join(', ')}`);
  }
  if (current && (choice === 'auto' || current.name === (choice === 'node' ? 'tensorflow' : choice))) return current;
  const notes: string[] = [];
  if (choice === 'auto' || choice === 'node' || choice === 'tensorflow') {
    const r = await tryNode();
    if (typeof r !== 'string') return (current = r);
    if (choice !== 'auto') throw new UserError(`--backend ${choice}: ${r}`);
    notes.push(r);
  }
  const tf = await import('@tensorflow/tfjs');
  if (choice === 'auto' || choice === 'wasm') {
    const r = await tryWasm(tf);
    if (typeof r !== 'string') return (current = { ...r, reason: notes.length ? `${r.reason}: ${notes.join('; ')}` : `${r.reason}: forced by --backend` });
    if (choice !== 'auto') throw new UserError(`--backend wasm: ${r}`);
    notes.push(r);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return (current = { tf, name: 'cpu', reason: `cpu (pure JS)${notes.length ? `: ${notes.join('; ')}` : ': forced by --backend'}` });
}
