/**
 * On-disk cache of tokenized records, so a dataset is tokenized once per (data content, tokenizer,
 * max_length, column mapping). Format (`.tok`, little-endian):
 *   bytes 0-7   magic "WLTOK001"
 *   bytes 8-11  u32 header length H
 *   12..12+H    JSON header {count, key, label, columns: [{name, ids}]} padded with spaces to a multiple of 4
 *   then per column (anchor, positive, negative): Int32 offsets [count+1], Int32 ids [ids]
 * A record's negative is absent when its offsets are equal. Written atomically.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.ts';
import { UserError } from '../util/errors.ts';
import type { TokenizedRecord } from './types.ts';

const MAGIC = 'WLTOK001';
const ROLES = ['anchor', 'positive', 'negative'] as const;

/** Ragged int32 column: ids of record i are ids[offsets[i] .. offsets[i+1]). */
export interface TokenColumn {
  offsets: Int32Array;
  ids: Int32Array;
}

export interface TokenColumns {
  count: number;
  anchor: TokenColumn;
  positive: TokenColumn;
  negative: TokenColumn;
}

/** Pack records into three ragged columns. */
export function packRecords(records: TokenizedRecord[]): TokenColumns {
  const pack = (get: (r: TokenizedRecord) => Int32Array | undefined): TokenColumn => {
    const offsets = new Int32Array(records.length + 1);
    let total = 0;
    records.forEach((r, i) => {
      total += get(r)?.length ?? 0;
      offsets[i + 1] = total;
    });
    const ids = new Int32Array(total);
    records.forEach((r, i) => {
      const v = get(r);
      if (v) ids.set(v, offsets[i]!);
    });
    return { offsets, ids };
  };
  return {
    count: records.length,
    anchor: pack((r) => r.anchor),
    positive: pack((r) => r.positive),
    negative: pack((r) => r.negative),
  };
}

/** Records as views into the packed columns (no copies). */
export function unpackRecords(cols: TokenColumns): TokenizedRecord[] {
  const out: TokenizedRecord[] = new Array(cols.count);
  const view = (c: TokenColumn, i: number) => c.ids.subarray(c.offsets[i]!, c.offsets[i + 1]!);
  for (let i = 0; i < cols.count; i++) {
    const rec: TokenizedRecord = { anchor: view(cols.anchor, i), positive: view(cols.positive, i) };
    if (cols.negative.offsets[i + 1]! > cols.negative.offsets[i]!) rec.negative = view(cols.negative, i);
    out[i] = rec;
  }
  return out;
}

export function encodeTokenCache(cols: TokenColumns, meta: { key: string; label: string }): Uint8Array {
  const header = {
    count: cols.count,
    key: meta.key,
    label: meta.label,
    columns: ROLES.map((name) => ({ name, ids: cols[name].ids.length })),
  };
  let json = JSON.stringify(header);
  while ((12 + Buffer.byteLength(json)) % 4 !== 0) json += ' ';
  const jsonBytes = Buffer.from(json, 'utf8');
  const body = ROLES.reduce((n, r) => n + (cols.count + 1 + cols[r].ids.length) * 4, 0);
  const out = new Uint8Array(12 + jsonBytes.length + body);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(out.buffer).setUint32(8, jsonBytes.length, true);
  out.set(jsonBytes, 12);
  let pos = 12 + jsonBytes.length;
  for (const r of ROLES) {
    for (const arr of [cols[r].offsets, cols[r].ids]) {
      out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), pos);
      pos += arr.byteLength;
    }
  }
  return out;
}

export function decodeTokenCache(bytes: Uint8Array, path: string): { cols: TokenColumns; key: string } {
  const bad = (why: string) => new UserError(`${path}: corrupt token cache (${why}); delete it to rebuild`);
  if (bytes.length < 12 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC) throw bad('bad magic');
  const h = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  let header: { count: number; key: string; columns: { name: string; ids: number }[] };
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(12, 12 + h)).toString('utf8'));
  } catch {
    throw bad('bad header');
  }
  // Copy into an aligned buffer once so Int32Array views are valid whatever the read buffer's offset.
  const body = bytes.slice(12 + h);
  let pos = 0;
  const take = (n: number) => {
    if (pos + n * 4 > body.byteLength) throw bad('truncated');
    const a = new Int32Array(body.buffer, body.byteOffset + pos, n);
    pos += n * 4;
    return a;
  };
  const cols = { count: header.count } as TokenColumns;
  for (const r of ROLES) {
    const spec = header.columns.find((c) => c.name === r);
    if (!spec) throw bad(`no column ${r}`);
    cols[r] = { offsets: take(header.count + 1), ids: take(spec.ids) };
  }
  if (pos !== body.byteLength) throw bad('trailing bytes');
  return { cols, key: header.key };
}

export async function writeTokenCache(path: string, cols: TokenColumns, meta: { key: string; label: string }): Promise<void> {
  await writeFileAtomic(path, encodeTokenCache(cols, meta));
}

/** The cached columns when the file exists and was built for `key`, else undefined. */
export function readTokenCache(path: string, key: string): TokenColumns | undefined {
  if (!existsSync(path)) return undefined;
  const { cols, key: stored } = decodeTokenCache(readFileSync(path), path);
  return stored === key ? cols : undefined;
}
