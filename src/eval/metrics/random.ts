// The shared seeded PRNG (src/util/random.ts), re-exported for the metrics.
export { mulberry32 } from '../../util/random.ts';
