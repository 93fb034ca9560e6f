/** `pipeline push`: publish a saved model's release files to a hub repo. */
import { loadConfig, outputDirFor } from '../src/config/load.ts';
import { hubClientFromEnv } from '../src/hub/client.ts';
import { pushModel } from '../src/hub/push/push.ts';
import { UserError } from '../src/util/errors.ts';
import { logLine } from '../src/util/progress.ts';
import { parseStageArgs, type Stage } from './stage.ts';

const help = `pipeline push (--config NAME | --model DIR) --repo USER/NAME [options]

Upload the release files of a model written by pipeline save to a hub repo, creating the repo when it does
not exist, in one commit:
  the per-dim weights config.json's files map lists, tokenizer.json, config.json, README.md (the model card)
Nothing else in the folder is uploaded: never checkpoints/, cache/, metrics.jsonl, eval files or the extracted
source matrices (the base model's weights, often gated).
The hub is HF_ENDPOINT (default https://huggingface.co); HF_TOKEN (a token with write access) is required.

Options:
  --config NAME|PATH   model config: pushes its weights folder (weights/NAME, or --out-dir)
  --model DIR          push this saved-model folder instead
  --out-dir DIR        weights folder of --config (default: weights/NAME)
  --repo USER/NAME     target repo (required)
  --private            create the repo private (an existing repo keeps its visibility)
  --revision BRANCH    branch to commit to (default main; created from main when missing)
  --message TEXT       commit title (default "Upload N files with wordllama-ts")
  --quiet              no progress lines
  --json               print {repo, revision, commit, created, files} on stdout

Exit codes: 0 pushed, 2 bad input, missing files, missing HF_TOKEN or a hub refusal (one line).`;

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseStageArgs('push', argv, {
      config: { type: 'string' },
      model: { type: 'string' },
      'out-dir': { type: 'string' },
      repo: { type: 'string' },
      private: { type: 'boolean' },
      revision: { type: 'string' },
      message: { type: 'string' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
    });
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
