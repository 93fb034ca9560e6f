/**
 * Build the two published packages from this repository's sources (`npm run build`; `npm ci` runs it):
 *
 * - packages/wordllama-ts: the embedding library (src/embed and what it imports), compiled by tsc twice, to
 *   ES modules (dist/esm) and CommonJS (dist/cjs), each with its .d.ts. Its only dependency is the tokenizer.
 * - packages/wordllama-ts-pipeline: the `wordllama-ts` CLI, bundled by esbuild (stages split into chunks loaded
 *   on demand, so `--help` and `embed` never load TensorFlow.js), the worker threads as their own entries, and
 *   config/*.toml. npm dependencies stay external, installed with the package.
 *
 * The packages' manifests are committed (packages/<name>/package.json); their dependency ranges must equal the
 * root package.json's, which holds the lockfile, so this script fails when they drift.
 */
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
export const LIBRARY_DIR = join(ROOT, 'packages', 'wordllama-ts');
export const PIPELINE_DIR = join(ROOT, 'packages', 'wordllama-ts-pipeline');

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** Every dependency a package declares must be the root's, at the same range; versions must match too. */
function checkManifest(dir: string, root: Manifest): void {
  const pkg = readManifest(dir);
  const rootRanges = { ...root.dependencies, ...root.optionalDependencies };
  if (pkg.version !== root.version) throw new Error(`${dir}/package.json: version ${pkg.version} differs from the root's ${root.version}`);
  for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
    if (rootRanges[name] !== range) {
      throw new Error(`${dir}/package.json: ${name}@${range} differs from the root package.json (${rootRanges[name] ?? 'absent'}); keep them equal`);
    }
  }
}

/** tsc emits `from './x.ts'` in .d.ts files; consumers resolve `./x.js` next to `./x.d.ts`. */
function rewriteDeclarationImports(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'utf8');
    const fixed = text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2');
    if (fixed !== text) writeFileSync(file, fixed);
  }
}

function tsc(args: string[]): Promise<void> {
  const bin = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: ROOT, stdio: 'inherit' });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`tsc ${args.join(' ')} failed (exit ${code})`))));
  });
}

export async function buildLibrary(): Promise<void> {
  const dist = join(LIBRARY_DIR, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const common = ['-p', join(LIBRARY_DIR, 'tsconfig.json')];
  await Promise.all([
    tsc([...common, '--outDir', join(dist, 'esm')]),
    tsc([...common, '--outDir', join(dist, 'cjs'), '--module', 'commonjs', '--moduleResolution', 'node10']),
  ]);
  // The package is "type": "module"; this marks the CommonJS half (its .js and .d.ts) as such.
  writeFileSync(join(dist, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
  rewriteDeclarationImports(dist);
}

/** Worker threads started by file: entries of their own, next to the chunks that start them. */
const WORKERS = {
  'matmul-worker': 'src/train/matmul-worker.ts',
  'gather-worker': 'src/train/data/gather-worker.ts',
  'chunk-worker-thread': 'src/hub/chunk-worker-thread.ts',
};

export async function buildPipeline(): Promise<void> {
  const dist = join(PIPELINE_DIR, 'dist');
  rmSync(dist, { recursive: true, force: true });
  await build({
    entryPoints: { cli: join(ROOT, 'pipelines/main.ts'), ...Object.fromEntries(Object.entries(WORKERS).map(([k, v]) => [k, join(ROOT, v)])) },
    outdir: dist,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // Flat, and .mjs: a worker is found next to the chunk that starts it (src/util/worker.ts workerModule).
    chunkNames: '[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    legalComments: 'none',
    logLevel: 'warning',
  });
  const cli = join(dist, 'cli.mjs');
  writeFileSync(cli, `#!/usr/bin/env node\n${readFileSync(cli, 'utf8')}`);
  chmodSync(cli, 0o755);
  const configDir = join(PIPELINE_DIR, 'config');
  rmSync(configDir, { recursive: true, force: true });
  mkdirSync(configDir);
  for (const f of readdirSync(join(ROOT, 'config'))) if (f.endsWith('.toml')) cpSync(join(ROOT, 'config', f), join(configDir, f));
}

/** Bytes of the files under `dir` (0 when it does not exist). */
export function sizeOf(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) total += statSync(join(e.parentPath, e.name)).size;
  return total;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = readManifest(ROOT);
  checkManifest(LIBRARY_DIR, root);
  checkManifest(PIPELINE_DIR, root);
  const t0 = performance.now();
  await Promise.all([buildLibrary(), buildPipeline()]);
  const kb = (dir: string) => `${(sizeOf(join(dir, 'dist')) / 1e3).toFixed(0)} kB`;
  process.stderr.write(
    `built packages/wordllama-ts (${kb(LIBRARY_DIR)}) and packages/wordllama-ts-pipeline (${kb(PIPELINE_DIR)}) in ${((performance.now() - t0) / 1e3).toFixed(1)} s\n`,
  );
}
