/**
 * `pipeline inspect --model` on the real stories260K token matrix (512 × 64, ../shared/fixtures): the
 * near-duplicate count (its 256 byte-token rows are nearly one vector) equals a brute-force count over all
 * pairs in f64, and Σσ² equals the squared Frobenius norm.
 */
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect, it } from 'vitest';
import type { InspectReport } from '../../src/inspect/inspect.ts';
import { openSafetensorsMatrix } from '../../src/matrix/row-matrix.ts';
import { runCli } from '../helpers/cli.ts';
import { describeShared, sharedPath } from '../helpers/shared.ts';

const FILE = ['fixtures', 'stories260K', 'derived', 'embed_tokens.safetensors'];

describeShared('pipeline inspect on stories260K', FILE, () => {
  it('counts near-duplicate pairs exactly and gets the spectrum energy right', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inspect-stories-'));
    try {
      const out = join(dir, 'inspect.json');
      const r = await runCli(['inspect', '--model', sharedPath(...FILE), '--out', out, '--json', '--quiet', '--duplicates', '0.001']);
      expect(r.code).toBe(0);
      const rep = JSON.parse(r.out) as InspectReport;
      expect([rep.rows, rep.dim]).toEqual([512, 64]);
      const m = await openSafetensorsMatrix(sharedPath(...FILE));
      const x = await m.readRows(0, m.rows);
      await m.close();
      const norms = Array.from({ length: 512 }, (_, i) => Math.sqrt(x.subarray(i * 64, (i + 1) * 64).reduce((s, v) => s + v * v, 0)));
      let pairs = 0;
      let fro = 0;
      for (let i = 0; i < 512; i++) {
        fro += norms[i]! ** 2;
        for (let j = i + 1; j < 512; j++) {
          let d = 0;
          for (let k = 0; k < 64; k++) d += x[i * 64 + k]! * x[j * 64 + k]!;
          if (1 - d / (norms[i]! * norms[j]!) <= 0.001) pairs++;
        }
      }
      expect(pairs).toBeGreaterThan(1000);
      expect(rep.near_duplicates!.pairs).toBe(pairs);
      expect(rep.spectrum.uncentred.singular_values.reduce((s, v) => s + v * v, 0) / fro).toBeCloseTo(1, 10);
      expect(rep.unreachable!.special).toEqual([0, 1, 2]);
      expect(rep.zero_rows.count).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
