#!/usr/bin/env node
// The `pipeline` bin. Runs the TypeScript sources directly through tsx so the CLI never goes stale
// against `src/` (no build step between editing and running).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../pipelines/cli.ts');
process.exitCode = await main(process.argv.slice(2));
