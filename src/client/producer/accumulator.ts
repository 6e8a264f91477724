import { tpKey } from '../metadata.ts';
import { type PendingRecord, ProducerBatch } from './batch.ts';

export interface AccumulatorOptions {
  batchSize: number;
  lingerMs: number;
}

export interface ReadyCheck {
  /** Head batches that may be sent now, in partition order. */
  ready: ProducerBatch[];
  /** When the next batch becomes ready by linger or backoff, relative to now; Infinity if none. */
  nextDelayMs: number;
}

/**
 * The producer's queues, one per partition, of batches waiting to be sent. A batch is ready
 * when full, when it lingered long enough, or when a flush or close asks for everything.
 */
export class RecordAccumulator {
  readonly #options: AccumulatorOptions;
  readonly #queues = new Map<string, ProducerBatch[]>();
  #flushes = 0;
  #records = 0;

  constructor(options: AccumulatorOptions) {
    this.#options = options;
  }

  /** Records queued (not yet handed to the sender). */
  get queuedRecords(): number {
    return this.#records;
  }

  get flushing(): boolean {
    return this.#flushes > 0;
  }

  beginFlush(): void {
    this.#flushes++;
  }

  endFlush(): void {
    this.#flushes = Math.max(0, this.#flushes - 1);
  }

  /** Appends a record; says whether it opened a new batch and whether the batch is now full. */
  append(
    topic: string,
    partition: number,
    record: PendingRecord,
    now: number,
  ): { batch: ProducerBatch; newBatch: boolean; full: boolean } {
    const key = tpKey(topic, partition);
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(key, queue);
    }
    const last = queue[queue.length - 1];
    this.#records++;
    if (last?.tryAppend(record, this.#options.batchSize)) {
      return { batch: last, newBatch: false, full: last.size >= this.#options.batchSize };
    }
    if (last) last.closed = true;
    const batch = new ProducerBatch(topic, partition, now);
    batch.tryAppend(record, this.#options.batchSize);
    queue.push(batch);
    return { batch, newBatch: true, full: batch.size >= this.#options.batchSize };
  }

  /**
   * The head batch of each partition that may go now. `canSend` vetoes partitions (muted,
   * leader unknown, in-flight limits).
   */
  ready(now: number, closing: boolean, canSend: (topic: string, partition: number) => boolean): ReadyCheck {
    const ready: ProducerBatch[] = [];
    let nextDelayMs = Number.POSITIVE_INFINITY;
    for (const queue of this.#queues.values()) {
      const head = queue[0];
      if (head === undefined) continue;
      if (head.retryAt > now) {
        nextDelayMs = Math.min(nextDelayMs, head.retryAt - now);
        continue;
      }
      const full = head.closed || queue.length > 1 || head.size >= this.#options.batchSize;
      const lingerLeft = head.createdAt + this.#options.lingerMs - now;
      if (!(full || lingerLeft <= 0 || this.#flushes > 0 || closing || head.attempts > 0)) {
        nextDelayMs = Math.min(nextDelayMs, lingerLeft);
        continue;
      }
      if (!canSend(head.topic, head.partition)) continue;
      ready.push(head);
    }
    return { ready, nextDelayMs };
  }

  /** Takes a batch handed out by ready() off its queue: it is being sent. */
  remove(batch: ProducerBatch): void {
    const queue = this.#queues.get(tpKey(batch.topic, batch.partition));
    if (queue === undefined) return;
    const i = queue.indexOf(batch);
    if (i < 0) return;
    queue.splice(i, 1);
    batch.closed = true;
    this.#records -= batch.recordCount;
    if (queue.length === 0) this.#queues.delete(tpKey(batch.topic, batch.partition));
  }

  /**
   * Puts a batch back for a retry, before the partition's unsent batches and in sequence
   * order among other retried ones, so an idempotent producer resends in order.
   */
  reenqueue(batch: ProducerBatch): void {
    const key = tpKey(batch.topic, batch.partition);
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(key, queue);
    }
    let i = 0;
    while (
      i < queue.length &&
      queue[i]!.attempts > 0 &&
      queue[i]!.baseSequence >= 0 &&
      batch.baseSequence >= 0 &&
      queue[i]!.baseSequence < batch.baseSequence
    ) {
      i++;
    }
    batch.closed = true;
    queue.splice(i, 0, batch);
    this.#records += batch.recordCount;
  }

  /** Every queued batch, removed; for failing them on close or a fatal error. */
  drainAll(): ProducerBatch[] {
    const all = [...this.#queues.values()].flat();
    this.#queues.clear();
    this.#records = 0;
    return all;
  }

  /** Queued batches of some partitions, for checks (transactions add partitions before sending). */
  *batches(): Iterable<ProducerBatch> {
    for (const queue of this.#queues.values()) yield* queue;
  }
}
