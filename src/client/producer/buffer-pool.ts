import { KafkaTimeoutError } from '../errors.ts';

interface Waiter {
  bytes: number;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * buffer.memory: the bytes of records accepted but not yet acknowledged. A send that would
 * go over waits (first come, first served) until acknowledgements free enough, or fails
 * after max.block.ms. A record larger than the whole budget waits for an empty pool.
 */
export class BufferPool {
  readonly capacity: number;
  #used = 0;
  readonly #waiters: Waiter[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get used(): number {
    return this.#used;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes bytes at once when they fit and nobody is queued; null then, a promise otherwise. */
  tryReserve(bytes: number): boolean {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#used += bytes;
      return true;
    }
    return false;
  }

  reserve(bytes: number, maxBlockMs: number): Promise<void> {
    if (this.tryReserve(bytes)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(
            new KafkaTimeoutError(
              `Cannot buffer a record of ${bytes} bytes: buffer.memory (${this.capacity} bytes) stayed full for ${maxBlockMs} ms`,
            ),
          );
          this.#wake();
        }, maxBlockMs),
      };
      this.#waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    this.#wake();
  }

  /** Fails every waiter, for close. */
  abort(err: Error): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  #fits(bytes: number): boolean {
    return this.#used + bytes <= this.capacity || this.#used === 0;
  }

  #wake(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const w = this.#waiters.shift()!;
      clearTimeout(w.timer);
      this.#used += w.bytes;
      w.resolve();
    }
  }
}
