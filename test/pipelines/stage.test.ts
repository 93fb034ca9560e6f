/**
 * The stages' flag tables: one declaration gives both the parser and the `--help` lines, so the two cannot drift.
 */
import { describe, expect, it } from 'vitest';
import { defineFlags, flagLines, flagList, parseFlags } from '../../pipelines/stage.ts';

const FLAGS = defineFlags({
  model: { value: 'PATH', help: 'the model' },
  text: { value: 'T', multiple: true, help: 'a text;\nrepeat for several' },
  quiet: { help: 'no progress' },
});

describe('flag tables', () => {
  it('render aligned help lines, continuation lines under the help column', () => {
    expect(flagLines(FLAGS)).toBe(
      ['  --model PATH  the model', '  --text T      a text;', '                repeat for several', '  --quiet       no progress'].join('\n'),
    );
    // a wider column to line up with another table; a flag longer than it pushes only its own first line
    expect(flagLines(FLAGS, 8).split('\n')[0]).toBe('  --model PATH  the model');
    expect(flagLines({ k: { value: 'N', help: 'k' } }, 8)).toBe('  --k N     k');
  });

  it('list flags on wrapped lines', () => {
    expect(flagList(FLAGS)).toBe('--model PATH, --text T, --quiet');
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`flag-${i}`, { value: 'N', help: '' }]));
    const lines = flagList(many).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((l) => l.length <= 80)).toBe(true);
    expect(lines[1]!.startsWith('  --flag-')).toBe(true);
  });

  it('parse typed values: strings, repeated strings, switches', () => {
    const { values, positionals } = parseFlags('demo', ['--model', 'm', '--text', 'a', '--text', 'b', '--quiet', 'x'], FLAGS, true);
    expect(values).toEqual({ model: 'm', text: ['a', 'b'], quiet: true });
    expect(positionals).toEqual(['x']);
  });

  it('unknown flags and missing values are one line pointing at --help', () => {
    expect(() => parseFlags('demo', ['--modle', 'm'], FLAGS)).toThrow(/^demo: Unknown option '--modle' \(see: pipeline demo --help\)$/);
    expect(() => parseFlags('demo', ['--model'], FLAGS)).toThrow(/^demo: Option '--model <value>' argument missing \(see: pipeline demo --help\)$/);
    expect(() => parseFlags('demo', ['stray'], FLAGS)).toThrow(
      /^demo: Unexpected argument 'stray'. This command does not take positional arguments \(see: pipeline demo --help\)$/,
    );
  });
});
