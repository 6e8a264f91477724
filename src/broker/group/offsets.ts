/** A committed offset as the coordinator keeps it. */
export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Set by OffsetCommit v1–v4 with an explicit retention time; null otherwise. */
  expireTimestamp: number | null;
}

export interface TopicPartitionRef {
  topic: string;
  partition: number;
}

/**
 * Committed offsets of every group, in memory (the durable copy is `__consumer_offsets`).
 * Plain maps: callers change them only from their group's serial queue, after the
 * matching records are durable.
 */
export class OffsetStore {
  readonly #groups = new Map<string, Map<string, Map<number, CommittedOffset>>>();

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.#groups.get(groupId)?.get(topic)?.get(partition);
  }

  put(groupId: string, topic: string, partition: number, value: CommittedOffset): void {
    let topics = this.#groups.get(groupId);
    if (topics === undefined) {
      topics = new Map();
      this.#groups.set(groupId, topics);
    }
    let partitions = topics.get(topic);
    if (partitions === undefined) {
      partitions = new Map();
      topics.set(topic, partitions);
    }
    partitions.set(partition, value);
  }

  delete(groupId: string, topic: string, partition: number): boolean {
    const topics = this.#groups.get(groupId);
    const partitions = topics?.get(topic);
    if (partitions === undefined || !partitions.delete(partition)) return false;
    if (partitions.size === 0) topics!.delete(topic);
    if (topics!.size === 0) this.#groups.delete(groupId);
    return true;
  }

  has(groupId: string): boolean {
    return this.#groups.has(groupId);
  }

  groupIds(): string[] {
    return [...this.#groups.keys()];
  }

  /** Every committed offset of a group, topics and partitions in ascending order. */
  list(groupId: string): Array<TopicPartitionRef & { value: CommittedOffset }> {
    const topics = this.#groups.get(groupId);
    if (topics === undefined) return [];
    const out: Array<TopicPartitionRef & { value: CommittedOffset }> = [];
    for (const topic of [...topics.keys()].sort()) {
      const partitions = topics.get(topic)!;
      for (const partition of [...partitions.keys()].sort((a, b) => a - b)) {
        out.push({ topic, partition, value: partitions.get(partition)! });
      }
    }
    return out;
  }

  /**
   * Offsets whose retention has passed (Kafka's rule): an explicit expire timestamp wins;
   * otherwise an offset expires `retentionMs` after `base(offset)`. Topics in `keep` (what
   * the group still consumes) never expire.
   */
  expired(
    groupId: string,
    now: number,
    retentionMs: number,
    base: (value: CommittedOffset) => number,
    keep: ReadonlySet<string> = new Set(),
  ): TopicPartitionRef[] {
    return this.list(groupId)
      .filter(({ topic, value }) => {
        if (keep.has(topic)) return false;
        if (value.expireTimestamp !== null) return now >= value.expireTimestamp;
        return now - base(value) >= retentionMs;
      })
      .map(({ topic, partition }) => ({ topic, partition }));
  }
}
