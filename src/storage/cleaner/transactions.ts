import type { RecordBatchHeader } from '../../protocol/records/batch-header.ts';
import { ControlRecordType } from '../../protocol/records/control-record.ts';
import type { AbortedTxn } from '../txn-index.ts';
import { RecordScan } from './record-scan.ts';

interface AbortedTxnState {
  txn: AbortedTxn;
  /** Last offset of the last batch of this transaction seen in this round, or null. */
  lastObservedBatchOffset: bigint | null;
}

/**
 * What the cleaner knows about transactions while it walks batches in offset order, Kafka's
 * CleanedTransactionMetadata. It is given the aborted transactions (from the log's
 * aborted-transaction index) overlapping the range it will walk; every transaction there
 * is complete, because cleaning stops at the last stable offset, so a transactional batch
 * not in an aborted one belongs to a committed one.
 *
 * - A batch of an aborted transaction can be discarded (its records are never mapped, and
 *   are removed when cleaned).
 * - An ABORT marker can be discarded once no batch of its transaction was seen in the round
 *   (all were removed before), a COMMIT marker once no batch of its transaction was seen;
 *   the cleaner then gives the marker a delete horizon and removes it in a later round,
 *   after delete.retention.ms, like a tombstone. A batch kept empty for its producer counts
 *   as seen, so a marker outlives every batch of its transaction.
 */
export class TransactionTracker {
  readonly #aborted: AbortedTxn[];
  #next = 0;
  #ongoingAborted = new Map<bigint, AbortedTxnState>();
  #ongoingCommitted = new Set<bigint>();

  constructor(aborted: readonly AbortedTxn[]) {
    this.#aborted = [...aborted].sort((a, b) =>
      a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
    );
  }

  #consumeUpTo(offset: bigint): void {
    while (this.#next < this.#aborted.length && this.#aborted[this.#next]!.firstOffset <= offset) {
      const txn = this.#aborted[this.#next++]!;
      if (!this.#ongoingAborted.has(txn.producerId)) {
        this.#ongoingAborted.set(txn.producerId, { txn, lastObservedBatchOffset: null });
      }
    }
  }

  /**
   * The aborted transaction of `producerId` that `offset` may belong to. One whose marker
   * lies before `offset` has ended even if its marker was not seen (a cleaning removed it,
   * or it lies below where the walk started): it must not capture the producer's later
   * transactions.
   */
  #abortedAt(producerId: bigint, offset: bigint): AbortedTxnState | undefined {
    const aborted = this.#ongoingAborted.get(producerId);
    if (aborted !== undefined && aborted.txn.lastOffset < offset) {
      this.#ongoingAborted.delete(producerId);
      return undefined;
    }
    return aborted;
  }

  /** A data batch, in offset order: true when it belongs to an aborted transaction. */
  onBatchRead(header: RecordBatchHeader): boolean {
    this.#consumeUpTo(header.lastOffset);
    if (!header.isTransactional) return false;
    const aborted = this.#abortedAt(header.producerId, header.baseOffset);
    if (aborted !== undefined) {
      aborted.lastObservedBatchOffset = header.lastOffset;
      return true;
    }
    this.#ongoingCommitted.add(header.producerId);
    return false;
  }

  /**
   * A control batch, in offset order, with the type of its control record (null when it has
   * none left): true when it may be discarded.
   */
  onControlBatchRead(header: RecordBatchHeader, type: number | null): boolean {
    this.#consumeUpTo(header.lastOffset);
    if (type === null) return true;
    const producerId = header.producerId;
    if (type === ControlRecordType.ABORT) {
      const aborted = this.#abortedAt(producerId, header.baseOffset);
      this.#ongoingAborted.delete(producerId);
      return aborted === undefined || aborted.lastObservedBatchOffset === null;
    }
    if (type === ControlRecordType.COMMIT) return !this.#ongoingCommitted.delete(producerId);
    return false;
  }

  /** The state, to go back to when a segment is filtered a second time (see cleaner.ts). */
  snapshot(): () => void {
    const next = this.#next;
    const aborted = new Map([...this.#ongoingAborted].map(([k, v]) => [k, { ...v }]));
    const committed = new Set(this.#ongoingCommitted);
    return () => {
      this.#next = next;
      this.#ongoingAborted = aborted;
      this.#ongoingCommitted = committed;
    };
  }
}

/** The control record type of a control batch (ABORT, COMMIT, …), null when it has no record, -1 when unreadable. */
export async function controlTypeOf(batch: Buffer, header: RecordBatchHeader): Promise<number | null> {
  if (header.recordCount === 0) return null;
  const scan = await RecordScan.of(batch, header);
  const start = scan.keyStart[0]!;
  if (start < 0 || scan.keyEnd[0]! - start < 4) return -1;
  return scan.data.readInt16BE(start + 2);
}
