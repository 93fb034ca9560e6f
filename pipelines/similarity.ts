/** `pipeline similarity`: the similarity of two texts under a model (cosine, or Hamming with --binary). */
import { resolveModelArg } from '../src/hub/cache/resolve.ts';
import { UserError } from '../src/util/errors.ts';
import { load } from '../src/embed/node.ts';
import { defineFlags, flagLines, intFlag, parseFlags, type Stage } from './stage.ts';
import { valuesJson } from '../src/util/json-safe.ts';

const FLAGS = defineFlags({
  model: { value: 'PATH', help: "any model the library's load() accepts, or a hub id (see pipeline embed --help)" },
  dim: { value: 'D', help: 'compare only the first D values (Matryoshka truncation)' },
  binary: { help: 'Hamming similarity of sign bits' },
  dense: { help: 'cosine even for a binarized model' },
  json: { help: 'print {"similarity": s, "dim": D, "binary": bool} (else a line: the value, the kind and dim)' },
});

const HELP = `pipeline similarity --model PATH [options] "text a" "text b"

Print the similarity of two texts: cosine of their mean-token embeddings, or with --binary the Hamming
similarity 1 − 2·distance/bits of their sign bits (WordLlama's binary mode; the default when the model's
config.json says binarized: true).

Options:
${flagLines(FLAGS, 13)}

Results go to stdout. Use -- before texts that start with "-": pipeline similarity --model M -- "-1 °C" "cold"

Example:
  pipeline similarity --model weights/l2_supercat "I went to the car" "I went to the pawn shop"
`;

export const stage: Stage = {
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseFlags('similarity', argv, FLAGS, true);
    if (!values.model) throw new UserError('similarity: --model PATH is required (see: pipeline similarity --help)');
    if (positionals.length !== 2) throw new UserError(`similarity: expected exactly two texts, got ${positionals.length}`);
    if (values.binary && values.dense) throw new UserError('similarity: --binary and --dense contradict each other');
    const dim = intFlag('similarity', 'dim', values.dim);
    const model = load(await resolveModelArg(values.model, dim), { dim, binary: values.binary ? true : values.dense ? false : undefined });
    const s = model.similarity(positionals[0]!, positionals[1]!);
    if (values.json) process.stdout.write(valuesJson({ similarity: s, dim: model.dim, binary: model.binary }, 'similarity --json') + '\n');
    else process.stdout.write(`${s.toFixed(6)}  (${model.binary ? 'hamming' : 'cosine'}, dim ${model.dim})\n`);
    return 0;
  },
};
