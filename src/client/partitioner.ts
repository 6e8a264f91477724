import { murmur2, toPositive } from './murmur2.ts';

export interface PartitionContext {
  topic: string;
  /** The serialized key; null for records without one. */
  key: Buffer | null;
  value: Buffer | null;
  partitionCount: number;
  /** Partitions that have a leader right now, ascending; may be empty. */
  availablePartitions: readonly number[];
}

/** Chooses the partition of a record that does not name one. */
export interface Partitioner {
  partition(context: PartitionContext): number;
  /** Told about every record appended to a partition, with its size; for sticky partitioning. */
  onAppend?(topic: string, partition: number, bytes: number): void;
}

/** The partition the Java client picks for a key: toPositive(murmur2(key)) % numPartitions. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  return toPositive(murmur2(key)) % partitionCount;
}

export interface DefaultPartitionerOptions {
  /** Bytes sent to a sticky partition before switching to another; Kafka uses batch.size. */
  stickyBytes?: number;
  /** Random source in [0, 1), replaceable in tests. */
  random?: () => number;
}

/**
 * Kafka's built-in partitioner (KIP-794): keyed records go where the Java client sends them,
 * records without a key stick to one partition until about a batch worth of bytes went
 * there, then move to another partition that has a leader, so batches fill up instead of
 * spreading one record per partition.
 */
export class DefaultPartitioner implements Partitioner {
  readonly #stickyBytes: number;
  readonly #random: () => number;
  readonly #sticky = new Map<string, { partition: number; bytes: number }>();

  constructor(options: DefaultPartitionerOptions = {}) {
    this.#stickyBytes = options.stickyBytes ?? 16_384;
    this.#random = options.random ?? Math.random;
  }

  partition(context: PartitionContext): number {
    if (context.key !== null) return partitionForKey(context.key, context.partitionCount);
    const current = this.#sticky.get(context.topic);
    if (current !== undefined && current.bytes < this.#stickyBytes && current.partition < context.partitionCount) {
      const usable =
        context.availablePartitions.length === 0 || context.availablePartitions.includes(current.partition);
      if (usable) return current.partition;
    }
    return this.#switch(context.topic, context.partitionCount, context.availablePartitions, current?.partition);
  }

  onAppend(topic: string, partition: number, bytes: number): void {
    const current = this.#sticky.get(topic);
    if (current === undefined || current.partition !== partition) return;
    // Past stickyBytes the next record switches partition (partition() checks).
    current.bytes += bytes;
  }

  #switch(topic: string, count: number, available: readonly number[], previous: number | undefined): number {
    const candidates = available.length > 0 ? available : Array.from({ length: count }, (_, i) => i);
    let choice = candidates[Math.floor(this.#random() * candidates.length)]!;
    if (choice === previous && candidates.length > 1) {
      choice = candidates[(candidates.indexOf(choice) + 1) % candidates.length]!;
    }
    this.#sticky.set(topic, { partition: choice, bytes: 0 });
    return choice;
  }
}
