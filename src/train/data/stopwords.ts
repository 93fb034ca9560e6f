/**
 * English stopwords (NLTK's list, which WordLlama uses to initialise token weights at 0.1) and their ids in
 * a tokenizer: each word of length > 1 is looked up as is, with the sentencepiece word-start mark "▁" and
 * with the byte-level BPE mark "Ġ", in lower case and capitalised.
 */
import type { TextTokenizer } from '../../tokenize/tokenizer.ts';

const ENGLISH_STOPWORDS: readonly string[] = (
  'i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers ' +
  'herself it its itself they them their theirs themselves what which who whom this that these those am is are ' +
  'was were be been being have has had having do does did doing a an the and but if or because as until while ' +
  'of at by for with about against between into through during before after above below to from up down in out ' +
  'on off over under again further then once here there when where why how all any both each few more most ' +
  'other some such no nor not only own same so than too very s t can will just don should now d ll m o re ve y ' +
  'ain aren couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn weren won wouldn ' +
  "you're you've you'll you'd she's it's that'll don't should've aren't couldn't didn't doesn't hadn't hasn't " +
  "haven't isn't mightn't mustn't needn't shan't shouldn't wasn't weren't won't wouldn't"
).split(' ');

/** Sorted ids of the stopwords present in the vocabulary (below `nVocab`). */
export function stopwordIds(tok: Pick<TextTokenizer, 'tokenToId'>, nVocab: number, words: readonly string[] = ENGLISH_STOPWORDS): number[] {
  const ids = new Set<number>();
  for (const w of words) {
    if (w.length <= 1) continue;
    const forms = [w, w[0]!.toUpperCase() + w.slice(1)];
    for (const f of forms) {
      for (const piece of [f, `\u2581${f}`, `\u0120${f}`]) {
        const id = tok.tokenToId(piece);
        if (id !== undefined && id !== null && id >= 0 && id < nVocab) ids.add(id);
      }
    }
  }
  return [...ids].sort((a, b) => a - b);
}
