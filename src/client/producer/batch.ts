import { RECORD_BATCH_OVERHEAD } from '../../protocol/records/batch-header.ts';
import type { RecordHeader } from '../../protocol/records/record.ts';
import type { KafkaError } from '../errors.ts';

/** Where a record landed. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  /** −1 when unknown: acks=0, or a duplicate the broker had already written. */
  offset: bigint;
  /** The record's CreateTime, or the broker's LogAppendTime for such topics. */
  timestamp: bigint;
}

export interface PendingRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  timestamp: bigint;
  /** Bytes counted against batch.size and buffer.memory. */
  size: number;
  resolve(metadata: RecordMetadata): void;
  reject(err: KafkaError): void;
}

/** An estimate of a record's size in a batch: varint-sized fields at their largest, headers, payload. */
export function estimateRecordSize(key: Buffer | null, value: Buffer | null, headers: readonly RecordHeader[]): number {
  let size = 21 + (key?.length ?? 0) + (value?.length ?? 0);
  for (const h of headers) size += 10 + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return size;
}

/**
 * Records for one partition sent together as one record batch. Once sent it keeps its
 * producer id, epoch and base sequence across retries, so the broker can drop duplicates.
 */
export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly createdAt: number;
  readonly records: PendingRecord[] = [];
  /** Estimated encoded size, header included. */
  size = RECORD_BATCH_OVERHEAD;
  /** No more records go in: it is full, or being sent. */
  closed = false;
  attempts = 0;
  /** Not to be sent again before this time (retry backoff). */
  retryAt = 0;
  producerId = -1n;
  producerEpoch = -1;
  baseSequence = -1;
  isTransactional = false;
  /** Encoded bytes for the current producer id, epoch and sequence; dropped when they change. */
  encoded: Buffer | null = null;
  done = false;
  /** Why the batch failed, once it has. */
  error: KafkaError | null = null;
  #waiters: Array<() => void> | null = null;

  constructor(topic: string, partition: number, now: number) {
    this.topic = topic;
    this.partition = partition;
    this.createdAt = now;
  }

  get recordCount(): number {
    return this.records.length;
  }

  /** Appends when the record fits in batchSize (or the batch is empty: a big record gets its own batch). */
  tryAppend(record: PendingRecord, batchSize: number): boolean {
    if (this.closed) return false;
    if (this.records.length > 0 && this.size + record.size > batchSize) return false;
    this.records.push(record);
    this.size += record.size;
    return true;
  }

  stamp(producerId: bigint, producerEpoch: number, baseSequence: number, isTransactional: boolean): void {
    if (
      this.producerId !== producerId ||
      this.producerEpoch !== producerEpoch ||
      this.baseSequence !== baseSequence ||
      this.isTransactional !== isTransactional
    ) {
      this.encoded = null;
    }
    this.producerId = producerId;
    this.producerEpoch = producerEpoch;
    this.baseSequence = baseSequence;
    this.isTransactional = isTransactional;
  }

  /**
   * Two batches with the first and second half of the records, for a batch the broker
   * found too large. Sequence numbers stay contiguous: the broker never took the original.
   */
  split(): [ProducerBatch, ProducerBatch] {
    const half = Math.ceil(this.records.length / 2);
    const parts = [this.records.slice(0, half), this.records.slice(half)].map((records, i) => {
      const b = new ProducerBatch(this.topic, this.partition, this.createdAt);
      for (const r of records) {
        b.records.push(r);
        b.size += r.size;
      }
      b.closed = true;
      b.attempts = this.attempts;
      if (this.baseSequence >= 0) {
        b.stamp(this.producerId, this.producerEpoch, this.baseSequence + (i === 0 ? 0 : half), this.isTransactional);
      }
      return b;
    });
    this.done = true;
    return [parts[0]!, parts[1]!];
  }

  /** Resolves once the batch is acknowledged or failed (for flush). */
  whenDone(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters ??= [];
      this.#waiters.push(resolve);
    });
  }

  #finish(): void {
    this.done = true;
    for (const w of this.#waiters ?? []) w();
    this.#waiters = null;
  }

  complete(baseOffset: bigint, logAppendTime: bigint): void {
    if (this.done) return;
    this.#finish();
    this.records.forEach((r, i) => {
      r.resolve({
        topic: this.topic,
        partition: this.partition,
        offset: baseOffset < 0n ? -1n : baseOffset + BigInt(i),
        timestamp: logAppendTime >= 0n ? logAppendTime : r.timestamp,
      });
    });
  }

  fail(err: KafkaError): void {
    if (this.done) return;
    this.error = err;
    this.#finish();
    for (const r of this.records) r.reject(err);
  }
}
