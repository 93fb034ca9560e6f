/**
 * Bundle the browser example (examples/browser/app.ts → src/embed, @huggingface/tokenizers) into one ES module
 * with esbuild: `npx tsx scripts/build-browser.ts [--outdir DIR] [--minify]` (default examples/browser/dist).
 * Fails if anything in the bundle needs a Node built-in (the library must stay browser-safe).
 */
import { build, type BuildResult } from 'esbuild';
import { resolve } from 'node:path';

export async function buildBrowserBundle(outdir: string, minify = false): Promise<BuildResult & { outfile: string }> {
  const root = resolve(import.meta.dirname, '..');
  const outfile = resolve(outdir, 'app.js');
  const result = await build({
    entryPoints: [resolve(root, 'examples/browser/app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile,
    minify,
    sourcemap: true,
    metafile: true,
    logLevel: 'silent',
  });
  return { ...result, outfile };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const outdir = args.includes('--outdir') ? args[args.indexOf('--outdir') + 1]! : resolve(import.meta.dirname, '..', 'examples/browser/dist');
  const res = await buildBrowserBundle(outdir, args.includes('--minify'));
  const bytes = Object.values(res.metafile!.outputs).reduce((s, o) => s + o.bytes, 0);
  process.stderr.write(`wrote ${res.outfile} (${(bytes / 1e3).toFixed(0)} kB incl. source map)\n`);
}
