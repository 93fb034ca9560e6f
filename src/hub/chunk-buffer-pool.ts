/**
 * A bounded pool of equal-sized chunk buffers: at most `max` are ever allocated, and `acquire` waits for a
 * `release` once they are all out, so memory stays bounded when the disk is slower than the network.
 */
export class ChunkBufferPool {
  private readonly free: Uint8Array[] = [];
  private readonly waiting: ((b: Uint8Array) => void)[] = [];
  private allocated = 0;

  /** `shared`: back each buffer with a SharedArrayBuffer, so a worker thread can write it without a copy. */
  constructor(
    private readonly size: number,
    private readonly max: number,
    private readonly shared: boolean,
  ) {}

  acquire(): Promise<Uint8Array> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    if (this.allocated < this.max) {
      this.allocated++;
      return Promise.resolve(this.shared ? new Uint8Array(new SharedArrayBuffer(this.size)) : new Uint8Array(this.size));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(b: Uint8Array): void {
    const next = this.waiting.shift();
    if (next) next(b);
    else this.free.push(b);
  }
}
