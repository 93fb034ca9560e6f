/**
 * Where a GGUF source's tokenizer comes from, decided here and nowhere else. In order: the config's
 * `tokenizer_repo` (an explicit choice wins), then a tokenizer.json found with the file (beside a local GGUF, or
 * in its hub repo). GGUF repos rarely ship one, so when neither gives a tokenizer, extract stops with one line
 * saying how to supply it. (The file's own `tokenizer.ggml.*` metadata would be the next fallback: `header` is
 * passed in for it.)
 */
import type { SourceConfig } from '../../config/types.ts';
import type { HubClient } from '../../hub/client.ts';
import { resolveRepo } from '../../hub/repo.ts';
import { fetchSmallFile } from '../../hub/small-file.ts';
import { UserError } from '../../util/errors.ts';
import type { SourceSide } from '../extract.ts';
import { SIDE_FILES } from '../hub.ts';
import type { SourceWhere } from '../write-matrix.ts';
import type { GgufHeader } from './header.ts';

export interface GgufTokenizerRequest {
  source: SourceConfig;
  where: SourceWhere;
  /** The parsed GGUF header (its metadata holds the tokenizer too). */
  header: GgufHeader;
  /** Side files found with the GGUF file, and where they were looked for (for the message). */
  found: SourceSide;
  lookedIn: string;
  /** The hub client, created only when `tokenizer_repo` needs it. */
  client: () => HubClient;
  /** Counts bytes fetched. */
  count?: (n: number) => void;
}

/** The side files (tokenizer.json first of all) a GGUF source uses, plus where they came from. */
export async function tokenizerForGguf(r: GgufTokenizerRequest): Promise<{ side: SourceSide; from: string }> {
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
  if (r.found['tokenizer.json']) return { side: r.found, from: `${r.lookedIn}/tokenizer.json` };
  throw new UserError(
    `${r.where.configFile}: ${r.where.table}: no tokenizer.json for the GGUF source "${r.source.name}" (looked in ${r.lookedIn}); ` +
      `set tokenizer_repo = "org/original-model" (the repo the GGUF was converted from), or put its tokenizer.json there`,
  );
}
