/** `pipeline push`: publish a saved model's release files to a hub repo. */
import { loadConfig, outputDirFor } from '../src/config/load.ts';
import { hubClientFromEnv } from '../src/hub/client.ts';
import { pushModel } from '../src/hub/push/push.ts';
import { UserError } from '../src/util/errors.ts';
import { logLine } from '../src/util/progress.ts';
import { defineFlags, flagLines, parseFlags, type Stage } from './stage.ts';

const FLAGS = defineFlags({
  config: { value: 'NAME|PATH', help: 'model config: pushes its weights folder (weights/NAME, or --out-dir)' },
  model: { value: 'DIR', help: 'push this saved-model folder instead' },
  'out-dir': { value: 'DIR', help: 'weights folder of --config (default: weights/NAME)' },
  repo: { value: 'USER/NAME', help: 'target repo (required)' },
  private: { help: 'create the repo private (an existing repo keeps its visibility)' },
  revision: { value: 'BRANCH', help: 'branch to commit to (default main; created from main when missing)' },
  message: { value: 'TEXT', help: 'commit title (default "Upload N files with wordllama-ts")' },
  quiet: { help: 'no progress lines' },
  json: { help: 'print {repo, revision, commit, created, files} on stdout' },
});

const help = `pipeline push (--config NAME | --model DIR) --repo USER/NAME [options]

Upload the release files of a model written by pipeline save to a hub repo, creating the repo when it does
not exist, in one commit:
  the per-dim weights config.json's files map lists, tokenizer.json, config.json, README.md (the model card)
Nothing else in the folder is uploaded: never checkpoints/, cache/, metrics.jsonl, eval files or the extracted
source matrices (the base model's weights, often gated).
The hub is HF_ENDPOINT (default https://huggingface.co); HF_TOKEN (a token with write access) is required.

Options:
${flagLines(FLAGS, 19)}

Exit codes: 0 pushed, 2 bad input, missing files, missing HF_TOKEN or a hub refusal (one line).`;

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseFlags('push', argv, FLAGS);
    if (!values.repo) throw new UserError('push: --repo USER/NAME is required (see: pipeline push --help)');
    if (Boolean(values.config) === Boolean(values.model))
      throw new UserError('push: pass exactly one of --config NAME or --model DIR (see: pipeline push --help)');
    const dir = values.model ?? outputDirFor(loadConfig(values.config!), values['out-dir']);
    const quiet = Boolean(values.quiet);
    const res = await pushModel({
      dir,
      repo: values.repo,
      client: hubClientFromEnv(),
      private: Boolean(values.private),
      revision: values.revision,
      message: values.message,
      log: (m) => logLine(m, quiet),
    });
    logLine(`${res.created ? 'created' : 'updated'} ${res.repo}@${res.revision}: commit ${res.commit} (${res.files.join(', ')})`, quiet);
    if (values.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
    return 0;
  },
};
