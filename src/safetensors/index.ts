// Pure parts (browser-safe). File-backed reading and writing live in `./node.ts`.
export * from './dtype.ts';
export * from './header.ts';
export * from './bytes.ts';
export * from './shard-index.ts';
