/**
 * The TF.js backend choice: tfjs-node when it loads, else wasm, else cpu, always saying which and why. On this
 * project's machines tfjs-node cannot install, so auto must land on wasm and name tfjs-node as the reason; a forced
 * backend that cannot load is one line.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/tfjs/backend.ts';

function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

describe('selectBackend', () => {
  it('refuses an unknown choice in one line', async () => {
    await expect(selectBackend('gpu')).rejects.toThrow(/^--backend: "gpu" is not one of auto, node, tensorflow, wasm, cpu$/);
  });

  it.skipIf(tfjsNodeInstalled())('without tfjs-node: --backend node is one line naming it, auto runs wasm and says why', async () => {
    await expect(selectBackend('node')).rejects.toThrow(/^--backend node: @tensorflow\/tfjs-node is not usable \(/);
    const b = await selectBackend('auto');
    expect(b.name).toBe('wasm');
    expect(b.reason).toMatch(/^wasm \((SIMD|no SIMD), (1 thread|multi-threaded)\): @tensorflow\/tfjs-node is not usable/);
    expect(b.tf.getBackend()).toBe('wasm');
    // a matmul on the chosen backend gives the exact product of small integers
    const y = b.tf.matMul(b.tf.tensor2d([1, 2, 3, 4], [2, 2]), b.tf.tensor2d([5, 6, 7, 8], [2, 2]));
    expect(Array.from(await y.data())).toEqual([19, 22, 43, 50]);
  });

  it('cpu can be forced, and says so', async () => {
    const b = await selectBackend('cpu');
    expect([b.name, b.reason, b.tf.getBackend()]).toEqual(['cpu', 'cpu (pure JS): forced by --backend', 'cpu']);
  });
});
