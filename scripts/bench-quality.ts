/**
 * Quality of `use_lite` training (which recipe config/use_lite.toml should use), run with `nice npx tsx scripts/bench-quality.ts`:
 * train the USE-lite token matrix (npm) on all of ../shared/data/train with several recipes and report
 * STS-B dev Spearman per Matryoshka dim (cosine, and hamming on sign bits), training time and steps/s.
 *
 *   --variants wordllama,ours,...   recipes to run (default: wordllama,ours,ours_binary); see VARIANTS
 *   --data DIR|FILE                 training data (default ../shared/data/train)
 *   --eval FILE                     STS file (default ../shared/data/eval/stsb/dev.tsv)
 *   --eval2 FILE                    a second STS file, reported beside it and never used to pick anything
 *                                   (default ../shared/data/eval/stsb/train.tsv, the STS-B train split)
 *   --work DIR                      extracted matrix, token cache and checkpoints (default $TMPDIR/bench-quality)
 *   --backend B                     TF.js backend (default auto)
 *   --json FILE                     write the results
 * Every variant starts from the same extracted matrix and seed; the token cache is shared between them.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { main as cli } from '../pipelines/cli.ts';
import { parse as parseToml } from 'smol-toml';
import { parseConfig, resolveConfigPath } from '../src/config/load.ts';
import { runTraining } from '../src/train/run-training.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(ROOT, '..', 'shared');

/** [training] tables layered over use_lite.toml; `wordllama` is WordLlama's own recipe, the baseline the others are compared with. */
export const VARIANTS: Record<
  string,
  { doc: string; training: Record<string, unknown>; stsbTrain?: boolean; weights?: Record<string, number>; matryoshka?: Record<string, unknown> }
> = {
  wordllama: { doc: "WordLlama's recipe: 1 epoch, batch 512, lr 1e-2, proportional batches, MNRL", training: { batch_size: 512, lr: 1e-2, epochs: 1 } },
  wordllama_binary: { doc: 'the same with tanh STE binarization', training: { batch_size: 512, lr: 1e-2, epochs: 1, binarize: 'tanh' } },
  symmetric: { doc: 'wordllama + symmetric MNRL', training: { batch_size: 512, lr: 1e-2, epochs: 1, symmetric: true } },
  mixed: { doc: 'wordllama with mixed (cross-dataset) batches', training: { batch_size: 512, lr: 1e-2, epochs: 1, sampler: 'mixed' } },
  sif: { doc: 'wordllama + SIF token-weight init', training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif' } },
  sif_tlr: {
    doc: 'wordllama + SIF init + 5x token-weight lr',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', token_lr_scale: 5 },
  },
  sif_tlr02: {
    doc: 'wordllama + SIF init + 0.2x token-weight lr',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', token_lr_scale: 0.2 },
  },
  tlr: { doc: 'wordllama + 5x token-weight lr', training: { batch_size: 512, lr: 1e-2, epochs: 1, token_lr_scale: 5 } },
  sif_binary_ft: {
    doc: 'tanh-STE binarized fine-tune (1 epoch, lr 2e-3) starting from the sif run',
    training: { batch_size: 512, lr: 2e-3, epochs: 1, binarize: 'tanh', init_checkpoint: '@sif' },
  },
  sif_binary_ft_ste: {
    doc: 'STE (|x| ≤ 1) binarized fine-tune on L2-normalised vectors (1 epoch, lr 1e-3) from the sif run',
    training: { batch_size: 512, lr: 1e-3, epochs: 1, binarize: 'ste', norm: true, init_checkpoint: '@sif' },
  },
  sif_binary_mixed: {
    doc: 'binarized fine-tune from the sif run: STE on L2-normalised vectors + the dense loss (binary_dense_weight 1), lr 2e-3',
    training: { batch_size: 512, lr: 2e-3, epochs: 1, binarize: 'ste', norm: true, binary_dense_weight: 1, init_checkpoint: '@sif' },
  },
  sif_stsb: {
    doc: 'sif + the STS-B *train* pairs scored >= 4 as extra positives (1406 pairs; outside ../shared/data/train, shown for reference)',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif' },
    stsbTrain: true,
  },
  sif_binary_ft_ste2: {
    doc: 'as sif_binary_ft_ste, 2 epochs',
    training: { batch_size: 512, lr: 1e-3, epochs: 2, binarize: 'ste', norm: true, init_checkpoint: '@sif' },
  },
  sif_a3e4: { doc: 'wordllama + SIF init with a = 3e-4', training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4 } },
  sif_a1e4: { doc: 'wordllama + SIF init with a = 1e-4', training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 1e-4 } },
  sif_a3e4_b1024: { doc: 'SIF a = 3e-4, batch 1024', training: { batch_size: 1024, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4 } },
  sif_a3e4_mixed: {
    doc: 'SIF a = 3e-4, mixed batches',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4, sampler: 'mixed' },
  },
  sif_a3e4_e2: { doc: 'SIF a = 3e-4, 2 epochs', training: { batch_size: 512, lr: 1e-2, epochs: 2, token_weight_init: 'sif', sif_a: 3e-4 } },
  sif_a3e4_distill: {
    doc: 'SIF a = 3e-4 + similarity distillation from the USE-lite encoder on 8000 records (mse, weight 20)',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      teacher: { weight: 20, loss: 'mse', max_records: 8000, batch_size: 128 },
    },
  },
  sif_a3e4_distill100: {
    doc: 'as sif_a3e4_distill with weight 100',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      teacher: { weight: 100, loss: 'mse', max_records: 8000, batch_size: 128 },
    },
  },
  mix_para: {
    doc: 'ours with data mixing: paraphrase/NLI sets up-weighted, captions and simplification/split sets down-weighted',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4 },
    weights: { snli: 3, qqp: 2, mrpc: 3, parasci: 1.5, coco: 0.5, flickr: 0.5, asset: 0.5, wikisplit: 0.5 },
  },
  mix_nocap: {
    doc: 'ours with the caption sets (COCO, Flickr8k) at 0.3',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4 },
    weights: { coco: 0.3, flickr: 0.3 },
  },
  delta: {
    doc: 'ours + learned per-token output offsets (token_delta, lr scale 1)',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4, token_delta: true },
  },
  delta01: {
    doc: 'ours + token_delta with lr scale 0.1',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4, token_delta: true, token_delta_lr_scale: 0.1 },
  },
  delta03: {
    doc: 'ours + token_delta with lr scale 0.3',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4, token_delta: true, token_delta_lr_scale: 0.3 },
  },
  delta01_e2: {
    doc: 'ours + token_delta (lr scale 0.1), 2 epochs',
    training: { batch_size: 512, lr: 1e-2, epochs: 2, token_weight_init: 'sif', sif_a: 3e-4, token_delta: true, token_delta_lr_scale: 0.1 },
  },
  delta003: {
    doc: 'ours + token_delta with lr scale 0.03',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4, token_delta: true, token_delta_lr_scale: 0.03 },
  },
  delta01_distill: {
    doc: 'delta01 + similarity distillation from the USE-lite encoder on every record (mse, weight 20)',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.1,
      teacher: { weight: 20, loss: 'mse', batch_size: 128 },
    },
  },
  delta01_dup: {
    doc: 'delta01 + duplicate texts masked out of the in-batch negatives',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.1,
      mask_duplicates: true,
    },
  },
  delta01_gist: {
    doc: 'delta01 + GISTEmbed guidance: in-batch negatives the USE-lite encoder ranks above the positive are dropped (no distillation term)',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.1,
      teacher: { weight: 0, guide: true, batch_size: 128 },
    },
  },
  delta01_gist_distill: {
    doc: 'delta01 + GISTEmbed guidance + distillation (mse, weight 20)',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.1,
      teacher: { weight: 20, loss: 'mse', guide: true, batch_size: 128 },
    },
  },
  delta03_dup: {
    doc: 'delta01_dup with token_delta lr scale 0.3',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
    },
  },
  delta01_dup_s30: {
    doc: 'delta01_dup with MNRL scale 30',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.1,
      mask_duplicates: true,
      scale: 30,
    },
  },
  delta03_dup_w25: {
    doc: 'delta03_dup + soft whitening (power 0.25) folded into the model',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
      whiten: 0.25,
    },
  },
  delta1_dup: {
    doc: 'delta01_dup with token_delta lr scale 1',
    training: { batch_size: 512, lr: 1e-2, epochs: 1, token_weight_init: 'sif', sif_a: 3e-4, token_delta: true, mask_duplicates: true },
  },
  delta03_dup_binary: {
    doc: 'binarized fine-tune of delta03_dup: STE on L2-normalised vectors, lr 1e-3, 2 epochs, offsets and duplicate masking kept',
    training: {
      batch_size: 512,
      lr: 1e-3,
      epochs: 2,
      binarize: 'ste',
      norm: true,
      init_checkpoint: '@delta03_dup',
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
    },
  },
  w25_binary: {
    doc: 'binarized fine-tune of delta03_dup_w25 with its 256-d whitening folded into the projection: STE on L2-normalised vectors, lr 1e-3, 2 epochs',
    training: {
      batch_size: 512,
      lr: 1e-3,
      epochs: 2,
      binarize: 'ste',
      norm: true,
      init_checkpoint: '@delta03_dup_w25',
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
    },
  },
  w25_binary_mw: {
    doc: 'as w25_binary with Matryoshka weights [1, 1.5, 3] (256, 128, 64) and lr 2e-3',
    training: {
      batch_size: 512,
      lr: 2e-3,
      epochs: 2,
      binarize: 'ste',
      norm: true,
      init_checkpoint: '@delta03_dup_w25',
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
    },
    matryoshka: { dims: [256, 128, 64], weights: [1, 1.5, 3] },
  },
  ours_gist: {
    doc: 'ours + GISTEmbed guidance from the USE-lite encoder (in-batch negatives it ranks above the positive are dropped; no distillation term)',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
      whiten: 0.25,
      teacher: { weight: 0, guide: true, batch_size: 128 },
    },
  },
  ours_distill: {
    doc: 'ours + similarity distillation from the USE-lite encoder on every record (mse, weight 20)',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
      whiten: 0.25,
      teacher: { weight: 20, loss: 'mse', batch_size: 128 },
    },
  },
  ours_binary_e3: {
    doc: 'ours_binary with 3 epochs and Matryoshka weights [1, 2, 6]',
    training: {
      batch_size: 512,
      lr: 2e-3,
      epochs: 3,
      binarize: 'ste',
      norm: true,
      init_checkpoint: '@ours',
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
    },
    matryoshka: { dims: [256, 128, 64], weights: [1, 2, 6] },
  },
  ours: {
    doc: 'our dense recipe (config/use_lite.toml at batch 512): SIF init (a = 3e-4) + token offsets (lr scale 0.3) + duplicate masking + soft whitening 0.25',
    training: {
      batch_size: 512,
      lr: 1e-2,
      epochs: 1,
      token_weight_init: 'sif',
      sif_a: 3e-4,
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
      whiten: 0.25,
    },
  },
  ours_binary: {
    doc: 'binarized fine-tune of `ours` (its 256-d whitening folded in): STE on L2-normalised vectors, lr 2e-3, 2 epochs, Matryoshka weights [1, 1.5, 3]',
    training: {
      batch_size: 512,
      lr: 2e-3,
      epochs: 2,
      binarize: 'ste',
      norm: true,
      init_checkpoint: '@ours',
      token_delta: true,
      token_delta_lr_scale: 0.3,
      mask_duplicates: true,
    },
    matryoshka: { dims: [256, 128, 64], weights: [1, 1.5, 3] },
  },
};

const { values: args } = parseArgs({
  options: {
    variants: { type: 'string', default: 'wordllama,ours,ours_binary' },
    data: { type: 'string', default: join(SHARED, 'data', 'train') },
    eval: { type: 'string', default: join(SHARED, 'data', 'eval', 'stsb', 'dev.tsv') },
    eval2: { type: 'string', default: join(SHARED, 'data', 'eval', 'stsb', 'train.tsv') },
    work: { type: 'string', default: join(tmpdir(), 'bench-quality') },
    backend: { type: 'string', default: 'auto' },
    json: { type: 'string' },
  },
});

async function run(): Promise<void> {
  const work = resolve(args.work!);
  const base = join(work, 'use_lite');
  if (!existsSync(join(base, 'use_lite.safetensors'))) {
    const code = await cli(['extract', '--config', 'use_lite', '--out-dir', base, '--quiet']);
    if (code !== 0) throw new Error(`extract failed (${code})`);
  }
  mkdirSync(join(base, 'cache'), { recursive: true });
  // Each variant replaces use_lite's [training] (and [matryoshka]); the result is checked like any config.
  const configFile = resolveConfigPath('use_lite');
  const useLite = parseToml(readFileSync(configFile, 'utf8'));
  const rows: Record<string, unknown>[] = [];
  for (const name of args.variants!.split(',')) {
    const v = VARIANTS[name];
    if (!v) throw new Error(`unknown variant "${name}" (known: ${Object.keys(VARIANTS).join(', ')})`);
    const out = join(work, name);
    mkdirSync(out, { recursive: true });
    for (const f of ['use_lite.safetensors', 'tokenizer.json', 'cache']) {
      if (!existsSync(join(out, f))) symlinkSync(join(base, f), join(out, f));
    }
    const training: Record<string, unknown> = { eval_steps: 0, ...v.training, eval_file: resolve(args.eval!) };
    // "@variant" = the last checkpoint of an earlier variant of this work dir.
    if (typeof training.init_checkpoint === 'string' && training.init_checkpoint.startsWith('@')) {
      training.init_checkpoint = join(work, training.init_checkpoint.slice(1), 'checkpoints', 'last', 'model.safetensors');
    }
    process.stderr.write(`\n== ${name}: ${v.doc} ${JSON.stringify(v.training)}\n`);
    let data: string[] | undefined = [args.data!];
    if (v.weights) {
      // Per-file weights by file-name prefix (default 1; 0 drops the file) as [[training.datasets]].
      const dir = resolve(args.data!);
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.jsonl'))
        .sort();
      training.datasets = files
        .map((f) => ({ path: join(dir, f), weight: Object.entries(v.weights!).find(([k]) => f.startsWith(k))?.[1] ?? 1 }))
        .filter((d) => d.weight > 0);
      data = undefined;
    }
    if (v.stsbTrain) {
      // STS-B train pairs with a gold score >= 4 (of 5) as anchor/positive records.
      const tsv = join(dirname(resolve(args.eval!)), 'train.tsv');
      const lines = readFileSync(tsv, 'utf8')
        .split('\n')
        .slice(1)
        .filter((l) => l.trim());
      const recs = lines
        .map((l) => l.split('\t'))
        .filter((f) => Number(f[2]) >= 4)
        .map(([a, p]) => JSON.stringify({ anchor: a, positive: p }));
      const file = join(work, 'stsb-train-pos.jsonl');
      writeFileSync(file, recs.join('\n') + '\n');
      data = [args.data!, file];
    }
    const config = parseConfig({ ...useLite, training, ...(v.matryoshka ? { matryoshka: v.matryoshka } : {}) }, configFile);
    const s = await runTraining({
      config,
      outDir: out,
      data,
      backend: args.backend,
      log: (m) => process.stderr.write(m + '\n'),
    });
    const score = (binary: boolean, dim: number) => s.finalEval.find((r) => r.binary === binary && r.dim === dim)?.spearman;
    const row = {
      variant: name,
      doc: v.doc,
      training: v.training,
      cos: Object.fromEntries(s.trainConfig.dims.map((d) => [d, score(false, d)])),
      ham: Object.fromEntries(s.trainConfig.dims.map((d) => [d, score(true, d)])),
      steps: s.steps,
      seconds: s.seconds,
      steps_per_s: s.steps / s.seconds,
      pairs_per_s: s.pairsPerSecond,
      backend: s.backend,
    };
    // Hamming of a dense model = its sign bits (the comparison point); and both scores on a second STS
    // file never used to choose anything (default: the STS-B train split), to show the gains are not dev-tuned.
    {
      const { readModelCheckpoint, checkpointDir } = await import('../src/model/checkpoint.ts');
      const { StsEvaluator, readStsFile } = await import('../src/train/eval/sts-evaluator.ts');
      const { loadTokenizerFile } = await import('../src/tokenize/node.ts');
      const { createRowGatherer } = await import('../src/train/data/row-gatherer.ts');
      const { openInputMatrix } = await import('../src/concat/open-input.ts');
      const { selectBackend } = await import('../src/tfjs/backend.ts');
      const ck = await readModelCheckpoint(checkpointDir(out, 'last'));
      const m = await openInputMatrix(config, out);
      const g = await createRowGatherer(m, { memoryCacheMb: 1024 });
      const tf = (await selectBackend(args.backend)).tf;
      const tok = loadTokenizerFile(join(out, 'tokenizer.json'));
      const scores = async (file: string) => {
        const ev = new StsEvaluator(readStsFile(file), tok, s.trainConfig.maxLength, 2);
        const res = await ev.evaluate(tf, { params: ck.params, gatherer: g, dims: s.trainConfig.dims, binary: true });
        const pick = (b: boolean) => Object.fromEntries(res.filter((r) => r.binary === b).map((r) => [r.dim, r.spearman]));
        return { cos: pick(false), ham: pick(true) };
      };
      if (s.trainConfig.binarize === 'none') row.ham = (await scores(resolve(args.eval!))).ham;
      if (existsSync(resolve(args.eval2!))) {
        const second = await scores(resolve(args.eval2!));
        Object.assign(row, { cos2: second.cos, ham2: second.ham });
      }
      g.close();
      await m.close();
    }
    rows.push(row);
    process.stderr.write(
      `${name}: cos ${JSON.stringify(row.cos)} ham ${JSON.stringify(row.ham)} in ${s.seconds.toFixed(0)} s (${row.steps_per_s.toFixed(2)} steps/s)\n`,
    );
  }
  const dims = Object.keys((rows[0]?.cos as object) ?? {})
    .map(Number)
    .sort((a, b) => b - a);
  const f = (x: unknown) => (typeof x === 'number' ? x.toFixed(4) : '-');
  const cols = (prefix: string) => dims.map((d) => `${prefix}@${d}`).join(' | ');
  console.log(`\n| variant | ${cols('cos')} | ${cols('ham')} | ${cols('cos2')} | ${cols('ham2')} | steps | train s | steps/s |`);
  console.log(`|---|${Array.from({ length: 4 * dims.length }, () => '---:').join('|')}|---:|---:|---:|`);
  for (const r of rows) {
    const vals = (k: string) => dims.map((d) => f((r[k] as Record<number, number> | undefined)?.[d])).join(' | ');
    console.log(
      `| ${r.variant} | ${vals('cos')} | ${vals('ham')} | ${vals('cos2')} | ${vals('ham2')} | ${r.steps} | ${Number(r.seconds).toFixed(0)} | ${Number(r.steps_per_s).toFixed(2)} |`,
    );
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, args, rows }, null, 2) + '\n');
}

await run();
