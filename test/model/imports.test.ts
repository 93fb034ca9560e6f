// src/model/ is the checkpoint contract shared by train, save and --resume: it must stand without the trainer,
// so save (and anything reading a checkpoint) never pulls src/train in, not even for types.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const modelDir = join(import.meta.dirname, '../../src/model');

describe('src/model imports', () => {
  it('no file in src/model imports from src/train', () => {
    const files = readdirSync(modelDir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('checkpoint.ts');
    const offenders = files.flatMap((f) =>
      [...readFileSync(join(modelDir, f), 'utf8').matchAll(/from\s+['"]([^'"]+)['"]/g)]
        .map((m) => m[1]!)
        .filter((spec) => /(^|\/)train\//.test(spec))
        .map((spec) => `${f}: ${spec}`),
    );
    expect(offenders).toEqual([]);
  });
});
