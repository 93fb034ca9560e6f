/** Sizes below which the threaded functions stay on the calling thread (Node threads.ts and browser web-workers.ts alike). Browser-safe. */

/** Pairs below which the work stays on one thread (measured by scripts/bench-kernels.ts --threads). */
export const MIN_PARALLEL_PAIRS = 1 << 20;

/**
 * Multiply-adds of one k-means assignment step (rows × k × dim) below which `kmeansThreads` stays on one thread:
 * about a millisecond of kernel time, ten times a worker round trip (measured by scripts/bench-kernels.ts).
 */
export const MIN_PARALLEL_ASSIGN = 1 << 22;
