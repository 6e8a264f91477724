import type { CommittedOffset } from '../group/offsets.ts';

export interface PendingOffset {
  groupId: string;
  topic: string;
  partition: number;
  value: CommittedOffset;
}

/**
 * Offsets committed inside transactions (TxnOffsetCommit) that are not visible yet: they
 * are written to `__consumer_offsets` as transactional records and become committed
 * offsets when the transaction's COMMIT marker reaches the group's partition, or vanish
 * on ABORT (Kafka's pendingTransactionalOffsetCommits). Kept by the group coordinator,
 * changed from the group's serial queue only.
 */
export class PendingTxnOffsets {
  /** producer id → group id → `topic\0partition` → offset */
  readonly #byProducer = new Map<bigint, Map<string, Map<string, PendingOffset>>>();

  add(producerId: bigint, offset: PendingOffset): void {
    let groups = this.#byProducer.get(producerId);
    if (groups === undefined) {
      groups = new Map();
      this.#byProducer.set(producerId, groups);
    }
    let offsets = groups.get(offset.groupId);
    if (offsets === undefined) {
      offsets = new Map();
      groups.set(offset.groupId, offsets);
    }
    offsets.set(`${offset.topic}\u0000${offset.partition}`, offset);
  }

  /** Groups with offsets pending in a transaction of `producerId`. */
  groupsOf(producerId: bigint): string[] {
    return [...(this.#byProducer.get(producerId)?.keys() ?? [])];
  }

  /** Removes and returns the offsets `producerId` has pending for `groupId`. */
  take(producerId: bigint, groupId: string): PendingOffset[] {
    const groups = this.#byProducer.get(producerId);
    const offsets = groups?.get(groupId);
    if (groups === undefined || offsets === undefined) return [];
    groups.delete(groupId);
    if (groups.size === 0) this.#byProducer.delete(producerId);
    return [...offsets.values()];
  }

  /** Whether a transaction has an offset pending for this group and partition (OffsetFetch's requireStable). */
  has(groupId: string, topic: string, partition: number): boolean {
    const key = `${topic}\u0000${partition}`;
    for (const groups of this.#byProducer.values()) if (groups.get(groupId)?.has(key)) return true;
    return false;
  }
}
