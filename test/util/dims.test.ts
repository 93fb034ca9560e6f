import { describe, expect, it } from 'vitest';
import { parseDimList } from '../../src/util/dims.ts';

describe('parseDimList', () => {
  it('reads comma-separated widths, spaces and empty items ignored', () => {
    expect(parseDimList('256, 128,,64', 'save: --dims')).toEqual([256, 128, 64]);
  });
  it('names the flag and the value on bad input', () => {
    expect(() => parseDimList('256,x', 'save: --dims')).toThrow('save: --dims expects comma-separated positive integers like 256,128,64, got "256,x"');
    expect(() => parseDimList('0', 'eval: --dim')).toThrow(/^eval: --dim expects/);
    expect(() => parseDimList(' , ', 'eval: --dim')).toThrow(/positive integers/);
  });
});
