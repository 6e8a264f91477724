/**
 * Long-poll fetches waiting for data (Kafka's fetch purgatory). A waiting fetch is on the
 * waiter list of each partition it reads; an append to a partition adds its bytes to each
 * of that partition's waiters, and a waiter whose bytes reach its min_bytes is released
 * at once. Otherwise its timer (max_wait_ms) releases it, or shutdown() does. Nothing polls.
 *
 * The number of waiting fetches is bounded: past the limit a fetch is answered at once
 * with what it has, as if max_wait_ms were 0.
 */
interface Waiter {
  keys: readonly string[];
  bytes: number;
  readonly minBytes: number;
  readonly release: () => void;
  timer: NodeJS.Timeout | null;
}

export const DEFAULT_MAX_WAITING_FETCHES = 10_000;
/** setTimeout's limit; longer waits would fire at once. */
const MAX_TIMER_MS = 0x7fffffff;

export class DelayedFetchPurgatory {
  readonly #byPartition = new Map<string, Set<Waiter>>();
  readonly #maxWaiting: number;
  #waiting = 0;
  #closed = false;

  constructor(maxWaiting = DEFAULT_MAX_WAITING_FETCHES) {
    this.#maxWaiting = maxWaiting;
  }

  /** Fetches waiting now. */
  get size(): number {
    return this.#waiting;
  }

  /**
   * Waits until appends to the partitions `keys` bring `bytes` up to `minBytes`, or
   * `maxWaitMs` passes, or shutdown. Returns null (no wait) when the purgatory is full or
   * shut down.
   */
  wait(keys: readonly string[], bytes: number, minBytes: number, maxWaitMs: number): Promise<void> | null {
    if (this.#closed || this.#waiting >= this.#maxWaiting || keys.length === 0) return null;
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { keys, bytes, minBytes, release: resolve, timer: null };
      waiter.timer = setTimeout(() => this.#complete(waiter), Math.min(maxWaitMs, MAX_TIMER_MS));
      this.#waiting++;
      for (const key of keys) {
        const set = this.#byPartition.get(key);
        if (set === undefined) this.#byPartition.set(key, new Set([waiter]));
        else set.add(waiter);
      }
    });
  }

  /** Called after bytes were appended (and are readable) in partition `key`. */
  onAppend(key: string, bytes: number): void {
    const set = this.#byPartition.get(key);
    if (set === undefined) return;
    for (const waiter of [...set]) {
      waiter.bytes += bytes;
      if (waiter.bytes >= waiter.minBytes) this.#complete(waiter);
    }
  }

  /** Releases every waiting fetch (broker shutdown); later waits return null. */
  shutdown(): void {
    this.#closed = true;
    for (const set of [...this.#byPartition.values()]) for (const waiter of [...set]) this.#complete(waiter);
  }

  #complete(waiter: Waiter): void {
    if (waiter.timer === null) return;
    clearTimeout(waiter.timer);
    waiter.timer = null;
    this.#waiting--;
    for (const key of waiter.keys) {
      const set = this.#byPartition.get(key);
      if (set === undefined) continue;
      set.delete(waiter);
      if (set.size === 0) this.#byPartition.delete(key);
    }
    waiter.release();
  }
}
