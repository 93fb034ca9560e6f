/**
 * The README.md written beside a saved model: YAML front matter the hub reads (library, tags, base model,
 * licence, pipeline tag, scores as model-index), then what it is, how to load it, where it came from, its scores.
 */
import type { SavedDtype } from '../layout/saved-config.ts';

export interface ModelCardInput {
  name: string;
  description?: string;
  dims: number[];
  nVocab: number;
  dimIn: number;
  binarized: boolean;
  padToken: string;
  maxLength: number;
  /** `license`: the source's licence id as its hub card states it, when extract recorded one. */
  /** `dequantizedFrom`: the quantized GGUF type (Q4_K, ...) the source rows were decoded from, when they were. */
  sources: { name: string; repo?: string; revision?: string; dim?: number; license?: string; dequantizedFrom?: string }[];
  step: number;
  evals: { file?: string; dim?: number; binary?: boolean; spearman?: number }[];
  files: { dim: number; file: string; bytes: number }[];
  /** Storage type of the rows (default f16). */
  dtype?: SavedDtype;
  /** Learned per-token offsets were added to the rows (`token_delta`). */
  tokenDelta?: boolean;
  /** Soft-whitening power folded into each dim's rows (`whiten`); undefined = none. */
  whiten?: number;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

const HUB_REPO_ID = /^[\w.-]+\/[\w.-]+$/;

/** A YAML scalar: JSON's string syntax is valid YAML and needs no escaping rules of our own. */
const yamlString = (s: string) => JSON.stringify(s);

/**
 * The hub's model-card metadata: `base_model` lists the sources that are hub repos, `license` is set only when
 * every source states the same one (a mix has no single licence to claim), `model-index` holds the eval scores
 * (Spearman × 100, as the hub shows STS results).
 */
export function modelCardFrontMatter(m: ModelCardInput): string {
  const y: string[] = ['---', 'library_name: wordllama-ts', 'pipeline_tag: sentence-similarity', 'tags:'];
  for (const t of ['static-embeddings', 'sentence-similarity', 'wordllama', 'matryoshka', ...(m.binarized ? ['binary-embeddings'] : [])]) y.push(`- ${t}`);
  const bases = [...new Set(m.sources.map((s) => s.repo).filter((r): r is string => r !== undefined && HUB_REPO_ID.test(r)))];
  if (bases.length > 0) y.push('base_model:', ...bases.map((b) => `- ${yamlString(b)}`));
  const licenses = new Set(m.sources.map((s) => s.license));
  const license = licenses.size === 1 ? [...licenses][0] : undefined;
  if (license) y.push(`license: ${yamlString(license)}`);
  const scored = m.evals.filter((e) => typeof e.spearman === 'number');
  if (scored.length > 0) {
    y.push('model-index:', `- name: ${yamlString(m.name)}`, '  results:');
    for (const e of scored) {
      const task = `${e.file ?? 'eval'}${e.dim ? ` (dim ${e.dim}${e.binary ? ', hamming' : ''})` : ''}`;
      y.push(
        '  - task:',
        '      type: STS',
        '    dataset:',
        `      name: ${yamlString(task)}`,
        `      type: ${yamlString(e.file ?? 'eval')}`,
        '    metrics:',
        `    - type: ${e.binary ? 'spearman_hamming' : 'spearman_cosine'}`,
        `      value: ${(e.spearman! * 100).toFixed(2)}`,
      );
    }
  }
  y.push('---', '');
  return y.join('\n');
}

export function modelCard(m: ModelCardInput): string {
  const lines: string[] = [modelCardFrontMatter(m)];
  const dtype = m.dtype ?? 'f16';
  lines.push(`# ${m.name}`, '');
  lines.push(
    `A static sentence-embedding model built with wordllama-ts${m.description ? ` from ${m.description}` : ''}: ` +
      `one ${dtype === 'int8' ? 'int8' : `fp${dtype.slice(1)}`} row per token (${m.nVocab} tokens), a sentence vector is the mean of its tokens' rows` +
      `${m.binarized ? ', trained for binarized (sign bit) use with hamming similarity' : ''}.`,
    '',
  );
  lines.push('## Files', '', '| dim | file | size |', '|---:|---|---:|');
  for (const f of m.files) lines.push(`| ${f.dim} | \`${f.file}\` | ${mb(f.bytes)} |`);
  lines.push(
    '',
    `Each file holds one tensor \`embedding.weight\` ${dtype === 'int8' ? 'I8' : dtype.toUpperCase()} [n_vocab, dim] (WordLlama's layout); \`tokenizer.json\` and \`config.json\` sit beside them.` +
      (dtype === 'int8'
        ? " The int8 codes of each file share one step, stored in config.json's `scales` (width → step): a row is code × step. WordLlama itself reads float rows only."
        : ''),
    '',
  );
  lines.push(
    '## Use',
    '',
    '```ts',
    "import { load } from 'wordllama-ts/node';",
    `const model = load('.', { dim: ${m.dims[m.dims.length - 1]} });`,
    "const e = model.embed(['a sentence', 'another sentence']);",
    "console.log(model.similarity('a cat sits', 'a kitten is sitting'));",
    '```',
    '',
  );
  lines.push('```bash', `npx pipeline similarity --model . "a cat sits" "a kitten is sitting"`, '```', '');
  lines.push('## How it was made', '');
  lines.push(
    `- Input: ${m.sources.map((s) => `${s.repo ?? s.name}${s.revision && s.revision !== 'local' ? `@${s.revision.slice(0, 12)}` : ''}${s.dim ? ` (${s.dim} columns)` : ''}${s.dequantizedFrom ? ` (GGUF ${s.dequantizedFrom} rows, dequantized)` : ''}`).join(' + ')} → ${m.dimIn} columns.`,
  );
  lines.push(
    `- Trained (per-token weights, projection to ${Math.max(...m.dims)}, MultipleNegativesRankingLoss, Matryoshka dims ${m.dims.join(', ')}) for ${m.step} steps.`,
  );
  const row = `gelu(w_t)·E_t·W + b${m.tokenDelta ? ' + D_t (learned per-token offsets)' : ''}, truncated per dim${m.whiten ? `, then times that dim's soft-whitening matrix (power ${m.whiten}, fitted on training texts; each dim's file is whitened separately)` : ''}`;
  lines.push(`- Saved rows: ${row}. Embedding defaults: L2-normalised, at most ${m.maxLength} tokens, no special tokens, pad token \`${m.padToken}\` ignored.`);
  if (m.evals.length > 0) {
    lines.push('', '## Evaluation (Spearman × 100)', '', '| file | dim | kind | score |', '|---|---:|---|---:|');
    for (const e of m.evals) {
      if (typeof e.spearman !== 'number') continue;
      lines.push(`| ${e.file ?? ''} | ${e.dim ?? ''} | ${e.binary ? 'hamming' : 'cosine'} | ${(e.spearman * 100).toFixed(2)} |`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
