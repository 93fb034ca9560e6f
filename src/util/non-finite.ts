/**
 * Counting the rows of a matrix that hold NaN or ±Inf, while it streams by (extract) or once it is in memory
 * (load). One non-finite value poisons every mean it enters, so such rows are refused rather than used.
 * The tests are on bit patterns (all-ones exponent), so they cost one mask per value and no float decode.
 * Pure, browser-safe.
 */

/** Float element types a matrix can arrive in. */
export type ScannedDType = 'F64' | 'F32' | 'F16' | 'BF16';

/** Rows seen so far that hold at least one NaN/±Inf: how many, and the index of the first. */
export class NonFiniteRows {
  count = 0;
  /** Index of the first such row, -1 while there is none. */
  first = -1;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`row width must be a positive integer, got ${dim}`);
  }

  private mark(row: number): void {
    if (this.count === 0) this.first = row;
    this.count++;
  }

  /** Scan float32 values: whole rows, the first of which is row `startRow`. */
  addF32(values: Float32Array, startRow: number): void {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    this.scan(bits, 0x7f800000, startRow);
  }

  /**
   * Scan raw little-endian bytes of `dtype` (whole rows; the first is row `startRow`). Unaligned input is copied
   * once so it can be viewed as words.
   */
  addBytes(bytes: Uint8Array, dtype: ScannedDType, startRow: number): void {
    const width = dtype === 'F64' ? 8 : dtype === 'F32' ? 4 : 2;
    const b = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
    if (dtype === 'F64') {
      // The high word of each float64 holds its exponent.
      const words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      const rows = words.length / 2 / this.dim;
      for (let r = 0; r < rows; r++) {
        for (let j = 0, base = r * this.dim * 2; j < this.dim; j++) {
          if ((words[base + 2 * j + 1]! & 0x7ff00000) === 0x7ff00000) {
            this.mark(startRow + r);
            break;
          }
        }
      }
      return;
    }
    if (dtype === 'F32') this.scan(new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4), 0x7f800000, startRow);
    else this.scan(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2), dtype === 'F16' ? 0x7c00 : 0x7f80, startRow);
  }

  /**
   * Scan converted output bytes where ±Inf may be an overflow of the conversion itself (counted and reported
   * apart, e.g. BF16 → F16): only NaN counts there, since an overflow never makes a NaN.
   */
  addNaNBytes(bytes: Uint8Array, dtype: 'F32' | 'F16' | 'BF16', startRow: number): void {
    const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    if (dtype === 'F32') this.scan(new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4), 0x7f800000, startRow, 0x007fffff);
    else this.scan(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2), dtype === 'F16' ? 0x7c00 : 0x7f80, startRow, dtype === 'F16' ? 0x03ff : 0x007f);
  }

  /** float16 bits already in memory. */
  addF16Bits(bits: Uint16Array, startRow: number): void {
    this.scan(bits, 0x7c00, startRow);
  }

  /** A value is non-finite when all its exponent bits (`mask`) are set; with `mantissa`, only NaN (a nonzero mantissa) counts. */
  private scan(words: Uint32Array | Uint16Array, mask: number, startRow: number, mantissa = 0): void {
    const dim = this.dim;
    const rows = Math.floor(words.length / dim);
    for (let r = 0; r < rows; r++) {
      const base = r * dim;
      for (let j = 0; j < dim; j++) {
        const w = words[base + j]!;
        if ((w & mask) === mask && (mantissa === 0 || (w & mantissa) !== 0)) {
          this.mark(startRow + r);
          break;
        }
      }
    }
  }
}

/** "3 of 32000 rows hold NaN or ±Inf (first: row 17)", for messages. */
export function describeNonFiniteRows(found: NonFiniteRows, rows: number): string {
  return `${found.count} of ${rows} rows hold NaN or ±Inf (first: row ${found.first})`;
}
