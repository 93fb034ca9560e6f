/**
 * Where a GGUF source's tokenizer comes from, decided here and nowhere else. In order: the config's
 * `tokenizer_repo` (an explicit choice wins), then a tokenizer.json found with the file (beside a local GGUF, or
 * in its hub repo), then a tokenizer.json rebuilt from the file's own `tokenizer.ggml.*` metadata (tokenizer.ts).
 * An original tokenizer.json is preferred because it is what the model was trained with; when the file's metadata
 * can be rebuilt too, the two are checked to encode a sample of texts identically and a difference is reported as
 * a note (the original is still used). Only when none of the three gives a tokenizer does extract stop, with one
 * line saying how to supply it.
 */
import type { SourceConfig } from '../../config/types.ts';
import type { HubClient } from '../../hub/client.ts';
import { resolveRepo } from '../../hub/repo.ts';
import { fetchSmallFile } from '../../hub/small-file.ts';
import { UserError } from '../../util/errors.ts';
import type { SourceSide } from '../extract.ts';
import { SIDE_FILES } from '../hub.ts';
import type { SourceWhere } from '../write-matrix.ts';
import { createTokenizer } from '../../tokenize/tokenizer.ts';
import type { GgufHeader } from './header.ts';
import { checkTokenizersAgree, GGUF_TOKENIZER_KEYS, ggufPadToken, tokenizerJsonFromGguf } from './tokenizer.ts';

export interface GgufTokenizerRequest {
  source: SourceConfig;
  where: SourceWhere;
  /** The parsed GGUF header (its metadata holds the tokenizer too). */
  header: GgufHeader;
  /** The GGUF file, for messages (a path, or repo/file on the hub). */
  file: string;
  /** Side files found with the GGUF file, and where they were looked for (for the message). */
  found: SourceSide;
  lookedIn: string;
  /** The hub client, created only when `tokenizer_repo` needs it. */
  client: () => HubClient;
  /** Counts bytes fetched. */
  count?: (n: number) => void;
}

/**
 * Texts the original and the rebuilt tokenizer must encode identically: spaces, digits, punctuation, accents,
 * CJK, emoji and special-token text, where the two constructions could differ.
 */
const AGREEMENT_SAMPLE = [
  'Hello world',
  ' leading space and  double  spaces',
  'The year 2024 had 365 days; 3.14159 is π.',
  "It's a dog's life, isn't it?",
  'naïve café, Ærøskøbing — “quotes” and…',
  '日本語のテキストと中文文本',
  'emoji 🙂👍🏽 and symbols #@$%^&*()',
  'line one\nline two\ttabbed',
  '<s> </s> <|endoftext|> <unk>',
  'x',
];

/**
 * The side files (tokenizer.json first of all, and a note when there is one) a GGUF source uses, plus where they
 * came from; the side also carries the file's pad-token default, whichever tokenizer serves.
 */
export async function tokenizerForGguf(r: GgufTokenizerRequest): Promise<{ side: SourceSide; from: string }> {
  const found = await findTokenizer(r);
  const padToken = ggufPadToken(r.header.metadata, r.file);
  return padToken ? { ...found, side: { ...found.side, padToken } } : found;
}

async function findTokenizer(r: GgufTokenizerRequest): Promise<{ side: SourceSide; from: string }> {
  const repo = r.source.tokenizer_repo;
  if (repo !== undefined) {
    const client = r.client();
    const resolved = await resolveRepo(client, repo, 'main');
    const side: SourceSide = {};
    for (const f of SIDE_FILES) {
      const b = await fetchSmallFile(client, repo, resolved.commit, f, r.count);
      if (b) side[f] = b;
    }
    if (!side['tokenizer.json']) {
      throw new UserError(
        `${r.where.configFile}: ${r.where.table} tokenizer_repo: ${repo}@${resolved.commit.slice(0, 12)} has no tokenizer.json; name the original (non-GGUF) model repo`,
      );
    }
    return { side, from: `${repo}/tokenizer.json` };
  }
  const inFile = r.header.metadata.has(GGUF_TOKENIZER_KEYS.tokens);
  if (r.found['tokenizer.json']) {
    const from = `${r.lookedIn}/tokenizer.json`;
    const note = inFile ? agreementNote(r, from) : undefined;
    return { side: note ? { ...r.found, note } : r.found, from };
  }
  let why = 'the file carries no tokenizer.ggml.* metadata either';
  if (inFile) {
    try {
      const rebuilt = tokenizerJsonFromGguf(r.header.metadata, r.file);
      const json = new TextEncoder().encode(JSON.stringify(rebuilt.json));
      return { side: { 'tokenizer.json': json }, from: `${r.file} (tokenizer.ggml.* metadata, ${rebuilt.model}/${rebuilt.pre})` };
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      why = `the file's tokenizer.ggml.* metadata cannot be rebuilt: ${err.message}`;
    }
  }
  throw new UserError(
    `${r.where.configFile}: ${r.where.table}: no tokenizer.json for the GGUF source "${r.source.name}" (looked in ${r.lookedIn}; ${why}); ` +
      `set tokenizer_repo = "org/original-model" (the repo the GGUF was converted from), or put its tokenizer.json there`,
  );
}

/**
 * Compare the original tokenizer with the one the file's metadata rebuilds, on AGREEMENT_SAMPLE. A file whose
 * metadata cannot be rebuilt (an unsupported pre-tokenizer) or encodes differently is a note, not an error: the
 * original is what gets used.
 */
function agreementNote(r: GgufTokenizerRequest, from: string): string | undefined {
  let rebuilt;
  try {
    rebuilt = createTokenizer(tokenizerJsonFromGguf(r.header.metadata, r.file).json, {}, r.file);
  } catch (err) {
    return `${r.source.name}: using ${from}; the GGUF file's own tokenizer metadata was not compared (${(err as Error).message})`;
  }
  const original = createTokenizer(JSON.parse(new TextDecoder().decode(r.found['tokenizer.json'])), {}, from);
  const m = checkTokenizersAgree(rebuilt, original, AGREEMENT_SAMPLE);
  if (!m) return undefined;
  return `${r.source.name}: using ${from}; the GGUF file's tokenizer metadata encodes ${JSON.stringify(m.text)} differently ([${m.fromGguf.join(', ')}] vs [${m.original.join(', ')}])`;
}
