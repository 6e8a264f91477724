/** The smallest buffer handed out: index-interval reads below it are not worth keeping. */
const MIN_CLASS_BYTES = 64 * 1024;
/** Larger reads are allocated and left to the garbage collector. */
const MAX_CLASS_BYTES = 16 * 1024 * 1024;

/**
 * Buffers for Fetch reads, used again once the response that carried them was written.
 * A 1 MiB read into a fresh buffer costs the allocation, page faults on first touch and,
 * at hundreds of MiB/s, the full garbage collections V8 runs for external memory; with
 * the pool a consumer's reads cycle through a few buffers.
 *
 * Only a caller that knows when the bytes are no longer used may read through the pool:
 * the Fetch path, which releases the buffers behind a response once the socket has taken
 * it. A buffer that is never released (a response not written, a read discarded) is
 * simply garbage. Buffers are sized in powers of two and the pool keeps at most
 * `maxBytes` of free ones.
 */
export class ReadBufferPool {
  readonly #maxBytes: number;
  readonly #free = new Map<number, Buffer[]>();
  /** Buffers handed out and not yet released, by their memory: any view of one releases it. */
  readonly #outstanding = new WeakMap<ArrayBufferLike, Buffer>();
  #freeBytes = 0;
  /** Acquisitions served from a released buffer (tests and metrics look). */
  reused = 0;

  constructor(maxBytes = 32 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `length` bytes (its own memory, never shared), or a plain allocation when too large. */
  acquire(length: number): Buffer {
    if (length > MAX_CLASS_BYTES) return Buffer.allocUnsafe(length);
    let size = MIN_CLASS_BYTES;
    while (size < length) size *= 2;
    const free = this.#free.get(size);
    let buffer = free?.pop();
    if (buffer === undefined) {
      // allocUnsafeSlow: its own ArrayBuffer even when small, so the memory identifies it.
      buffer = Buffer.allocUnsafeSlow(size);
    } else {
      this.#freeBytes -= size;
      this.reused++;
    }
    this.#outstanding.set(buffer.buffer, buffer);
    return buffer;
  }

  /**
   * Gives back the pooled buffer behind `view` (any subarray of it). Views of other memory,
   * and buffers already released, are ignored. The caller promises nothing reads the
   * buffer's bytes any more.
   */
  release(view: Uint8Array): void {
    const buffer = this.#outstanding.get(view.buffer);
    if (buffer === undefined) return;
    this.#outstanding.delete(view.buffer);
    if (this.#freeBytes + buffer.length > this.#maxBytes) return;
    const free = this.#free.get(buffer.length);
    if (free === undefined) this.#free.set(buffer.length, [buffer]);
    else free.push(buffer);
    this.#freeBytes += buffer.length;
  }
}
