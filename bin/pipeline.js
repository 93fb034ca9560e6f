#!/usr/bin/env node
// The repository's `pipeline` bin (`npx pipeline` in a clone). Runs the TypeScript sources through tsx so it never
// goes stale against `src/`; the published CLI (`wordllama-ts`, packages/wordllama-ts-pipeline) is prebuilt.
import { register } from 'tsx/esm/api';

register();
const { runAsProcess } = await import('../pipelines/cli.ts');
await runAsProcess('pipeline');
