/**
 * The prefetch thread (prefetch.ts drives it): opens the same raw rows as the main thread (the shared memory
 * holding the file's bytes, or the file itself) and gathers each requested batch into the shared buffer it is given.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { gatherRawRows, openRawRows, type RawRowsSpec } from './row-gatherer.ts';

interface Job {
  seq: number;
  ids: Int32Array;
  out: Float32Array;
}

const port = parentPort!;
const src = await openRawRows((workerData as { spec: RawRowsSpec }).spec);
port.on('message', (m: Job) => {
  try {
    gatherRawRows(src, m.ids, m.out);
    port.postMessage({ seq: m.seq });
  } catch (err) {
    port.postMessage({ seq: m.seq, error: err instanceof Error ? err.message : String(err) });
  }
});
port.postMessage({ seq: 0 });
