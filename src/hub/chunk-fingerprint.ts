import { createHash } from 'node:crypto';

/**
 * A chunk's fingerprint: SHA-1 over the chunk length and 8 bytes of every 512-byte block (1.6% of the bytes).
 * It is what a resume checks a recorded chunk against: pages lost or zeroed by a crash before writeback change
 * it, while hashing every byte would cost as much CPU as the download itself. (What was received is already
 * guaranteed by the HTTP checks: status, Content-Range, exact length, ETag.) The chunk worker and the main
 * thread both call this.
 */
export function chunkFingerprint(bytes: Uint8Array): string {
  const n = bytes.length;
  const blocks = Math.ceil(n / 512);
  const sample = new Uint8Array(8 + blocks * 8);
  new DataView(sample.buffer).setFloat64(0, n, true);
  for (let b = 0; b < blocks; b++) {
    const at = b * 512;
    const take = Math.min(8, n - at);
    for (let k = 0; k < take; k++) sample[8 + b * 8 + k] = bytes[at + k]!;
  }
  return createHash('sha1').update(sample).digest('hex');
}
