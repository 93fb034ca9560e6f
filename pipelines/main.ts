/** Entry of the published CLI (`wordllama-ts`, bundled into packages/wordllama-ts-pipeline/dist/cli.mjs). */
import { runAsProcess } from './cli.ts';

await runAsProcess('wordllama-ts');
