/**
 * Sentences to measure an export's fidelity on (the vocabulary quantization's mean cosine): a file the user
 * names (an STS file's two sentence columns, or one text per line), else a built-in sample of everyday
 * English sentences written for this purpose.
 */
import { readFileSync } from 'node:fs';
import { parseSts } from '../eval/tasks/parse.ts';
import { UserError } from '../util/errors.ts';

export const BUILT_IN_SAMPLE: readonly string[] = [
  'A man is playing a guitar on the street.',
  'Two children are running through a field of flowers.',
  'The stock market fell sharply after the announcement.',
  'She poured a cup of coffee and opened the newspaper.',
  'The train to the airport leaves every fifteen minutes.',
  'A dog is chasing a ball across the park.',
  'Scientists discovered a new species of frog in the rainforest.',
  'He forgot his umbrella and got soaked in the rain.',
  'The recipe calls for two eggs, flour and a pinch of salt.',
  'Our team won the match in the final minute.',
  'The museum opens at nine and closes at six.',
  'Please restart the server before installing the update.',
  'A woman is slicing tomatoes in the kitchen.',
  'The committee postponed the vote until next week.',
  'Heavy snow closed the mountain pass overnight.',
  'The students listened carefully to the lecture on history.',
  'A cat is sleeping on a warm windowsill.',
  'The price of fuel has risen for the third month in a row.',
  'They hiked to the top of the hill to watch the sunset.',
  'The new phone has a larger screen and a faster processor.',
  'A boy is riding a bicycle down a quiet road.',
  'The doctor advised him to drink more water.',
  'Farmers are worried about the long dry summer.',
  'The orchestra played a symphony by Beethoven.',
  'An old bridge was replaced with a modern steel one.',
  'The company plans to hire two hundred engineers.',
  'A group of friends is sharing a pizza.',
  'The library lends books, films and music.',
  'Strong winds knocked down trees across the city.',
  'He is learning to speak Spanish before his trip.',
  'The baby laughed when the puppy licked her hand.',
  'Police are searching for the missing hiker.',
  'The garden is full of roses and tulips in spring.',
  'The president met with leaders from several countries.',
  'A man is cutting wood with a chainsaw.',
  'The film received excellent reviews from critics.',
  'Water boils at one hundred degrees Celsius at sea level.',
  'She finished the marathon in under four hours.',
  'The bakery sells fresh bread every morning.',
  'The software crashed when the file was too large.',
];

/** The texts of `file` (STS rows give both sentences, other files one text per non-empty line), or the built-in sample. */
export function readSampleTexts(file?: string): { texts: string[]; source: string } {
  if (file === undefined) return { texts: [...BUILT_IN_SAMPLE], source: 'built-in sample' };
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read the sample texts (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const nl = content.indexOf('\n');
  const first = nl < 0 ? content : content.slice(0, nl);
  const isSts = /^sentence1\tsentence2\t/.test(first) || (file.endsWith('.jsonl') && first.includes('"sentence1"'));
  const texts = isSts
    ? (({ sentence1, sentence2 }) => [...new Set([...sentence1, ...sentence2])])(parseSts(file, content))
    : content
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '');
  if (texts.length === 0) throw new UserError(`${file}: no sample texts in it (one text per line, or an STS file)`);
  return { texts, source: file };
}
