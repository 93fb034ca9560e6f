import { beforeAll, describe, expect, it } from 'vitest';
import { type Synset, parseDataLine, readSynsets, swapWord, wordnetPairKinds, wordnetPairs, WORDNET_DEFAULT_RECORDS } from '../../src/data/wordnet.ts';

let synsets: Synset[];
beforeAll(() => {
  synsets = readSynsets();
});

describe('WordNet default pairs', () => {
  it('parses data.<pos> lines: hex word counts, underscores, adjective markers, definition and examples', () => {
    const line =
      '00034281 29 v 03 grimace 0 make_a_face 0 pull_a_face 0 008 @ 00742582 v 0000 01 + 02 00 | contort the face to indicate a certain mental or emotional state; "He grimaced when he saw the amount of homework he had to do"  ';
    expect(parseDataLine(line)).toEqual({
      pos: 'v',
      words: ['grimace', 'make a face', 'pull a face'],
      definition: 'contort the face to indicate a certain mental or emotional state',
      examples: ['He grimaced when he saw the amount of homework he had to do'],
    });
    const adj =
      '00039705 00 a 02 passive(a) 1 inactive 4 009 = 04643754 n 0000 | lacking in energy or will; "Much benevolence of the passive order may be traced"- George Meredith  ';
    expect(parseDataLine(adj)).toMatchObject({
      words: ['passive', 'inactive'],
      definition: 'lacking in energy or will',
      examples: ['Much benevolence of the passive order may be traced'],
    });
    const many = '00000001 03 n 0b ' + Array.from({ length: 11 }, (_, i) => `w${i} 0`).join(' ') + ' 000 | a gloss';
    expect(parseDataLine(many)!.words).toHaveLength(11);
    expect(parseDataLine('  1 This software and database is being provided')).toBeUndefined();
  });

  it('swaps a word (or a simple inflection) for a synonym', () => {
    expect(swapWord('He grimaced when he saw it', 'grimace', 'made a face')).toBe('He made a face when he saw it');
    expect(swapWord('his face turned red with rage', 'rage', 'fury')).toBe('his face turned red with fury');
    expect(swapWord('the cats sleep', 'cat', 'feline')).toBe('the feline sleep');
    expect(swapWord('concatenate', 'cat', 'x')).toBeUndefined();
  });

  it('builds the three kinds from the npm WordNet 3.1 database', () => {
    expect(synsets.length).toBe(117791);
    const kinds = wordnetPairKinds(synsets);
    expect(kinds.examples.length).toBe(42808);
    expect(kinds.swaps.length).toBe(21219);
    expect(kinds.synonyms.length).toBe(115819);
    for (const p of [...kinds.examples.slice(0, 50), ...kinds.swaps.slice(0, 50), ...kinds.synonyms.slice(0, 50)]) {
      expect(p.anchor.trim().length).toBeGreaterThan(0);
      expect(p.positive.trim().length).toBeGreaterThan(0);
      expect(p.anchor).not.toBe(p.positive);
    }
    expect(kinds.swaps).toContainEqual({ anchor: 'his face turned red with rage', positive: 'his face turned red with fury' });
  });

  it('is deterministic, capped, and mixes the kinds', () => {
    const a = wordnetPairs(3000);
    const b = wordnetPairs(3000);
    expect(a).toEqual(b);
    expect(a).toHaveLength(3000);
    expect(wordnetPairs(3000, 14)).not.toEqual(a);
    const defs = new Set(synsets.map((x) => x.words.join(', ')));
    const synonymPairs = a.filter((p) => defs.has(p.anchor)).length;
    expect(synonymPairs).toBeGreaterThan(700);
    expect(synonymPairs).toBeLessThan(1300);
    expect(WORDNET_DEFAULT_RECORDS).toBe(120000);
  });
});
