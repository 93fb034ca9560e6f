/**
 * inspect.html as a string: the anatomy section from a report that carries one (a full --config run of a hub
 * source), with the numbers as the page prints them, and pages without optional data leaving their sections out.
 */
import { describe, expect, it } from 'vitest';
import { renderInspect } from '../../src/inspect/html.ts';
import { inspectMatrix, type InspectReport } from '../../src/inspect/inspect.ts';
import { memoryMatrix, seeded } from '../helpers/memory-matrix.ts';

async function smallReport(): Promise<InspectReport> {
  const rnd = seeded(4);
  const x = Float32Array.from({ length: 64 * 8 }, () => rnd() - 0.5);
  return inspectMatrix({ matrix: memoryMatrix(x, 64, 8), source: 'test' }, { dims: [8, 4], neighbours: [], k: 3 });
}

describe('renderInspect', () => {
  it('shows the anatomy table when the report has one', async () => {
    const report = await smallReport();
    report.anatomy = {
      sources: [
        {
          name: 'gemma',
          repo: 'google/gemma-2b-it',
          tensor: 'model.embed_tokens.weight',
          dtype: 'BF16',
          shape: [256000, 2048],
          embedding_params: 524288000,
          embedding_bytes: 1048576000,
          checkpoint_params: 2506172416,
          checkpoint_bytes: 5012344832,
          tied: true,
          share_of_width: 1,
        },
      ],
    };
    const html = renderInspect([{ name: 'm', report }]);
    expect(html).toContain('<h2>Anatomy</h2>');
    expect(html).toContain('<td>524,288,000</td><td>2,506,172,416</td><td>20.9%</td><td>tied</td>');
  });

  it('leaves out sections without data (no anatomy, eval, neighbours, duplicates; no tokenizer: one "unknown" kind)', async () => {
    const report = await smallReport();
    const html = renderInspect([{ name: 'm', report }]);
    for (const h of ['Anatomy', 'Baselines on the eval tasks', 'Neighbours', 'Near-duplicate rows']) expect(html).not.toContain(`<h2>${h}</h2>`);
    expect(report.norms_by_kind.map((k) => k.kind)).toEqual(['unknown']);
    expect(report.map!.points).toHaveLength(64);
    expect(html).toContain('<h2>Map by token kind</h2>');
  });
});
