/**
 * Start a worker thread from a module beside the caller, however the code runs: built (the published CLI
 * bundle, where each worker is an entry `<name>.mjs` next to the chunk that starts it) or from the TypeScript
 * sources (tests, the repository's bin), where `<name>.ts` is loaded through tsx registered inside the worker:
 * Node 20 cannot run TypeScript, and `execArgv: ['--import', …]` does not reach a worker's module loader.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The worker module `name` beside `callerUrl` (pass `import.meta.url`), or undefined when neither form exists. */
export function workerModule(callerUrl: string, name: string): URL | undefined {
  for (const ext of ['.mjs', '.ts']) {
    const url = new URL(`./${name}${ext}`, callerUrl);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

export function startWorker(module: URL, options: WorkerOptions = {}): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
