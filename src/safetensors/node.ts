// Node-only parts: row-block reads by file descriptor and the streaming, atomic writer.
export * from './index.ts';
export * from './file.ts';
export * from './writer.ts';
