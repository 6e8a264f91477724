/**
 * What the transaction coordinator knows of one transactional id (Kafka's
 * TransactionMetadata), and the states of a transaction with their numbers in
 * `__transaction_state` (TransactionLogValue.TransactionStatus) and their names in
 * DescribeTransactions and ListTransactions.
 */

export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TxnState = (typeof TxnState)[keyof typeof TxnState];

export const TXN_STATE_NAMES: readonly string[] = [
  'Empty',
  'Ongoing',
  'PrepareCommit',
  'PrepareAbort',
  'CompleteCommit',
  'CompleteAbort',
  'Dead',
  'PrepareEpochFence',
];

export function txnStateName(state: TxnState): string {
  return TXN_STATE_NAMES[state] ?? String(state);
}

/** Kafka's Short.MaxValue: epochs go up to it, and an id whose epoch is nearly there is replaced. */
export const MAX_PRODUCER_EPOCH = 0x7fff;

/** Kafka's isEpochExhausted: one more bump would leave no epoch to fence with. */
export function isEpochExhausted(epoch: number): boolean {
  return epoch >= MAX_PRODUCER_EPOCH - 1;
}

export interface TxnMetadata {
  readonly transactionalId: string;
  producerId: bigint;
  /** The producer id before the last rotation (exhausted epochs), or -1. */
  previousProducerId: bigint;
  producerEpoch: number;
  /** The epoch before the last InitProducerId bump, so that its retry is recognised; -1 otherwise. */
  lastProducerEpoch: number;
  txnTimeoutMs: number;
  state: TxnState;
  /** Partitions of the open (or completing) transaction: topic → partition indexes. */
  partitions: Map<string, Set<number>>;
  /** When the open transaction began (its first AddPartitions), or -1. */
  txnStartTimestamp: number;
  txnLastUpdateTimestamp: number;
}

/** A copy to prepare a transition on: the current metadata stays as it is until the new one is durable. */
export function copyMetadata(m: TxnMetadata): TxnMetadata {
  return { ...m, partitions: new Map([...m.partitions].map(([t, ps]) => [t, new Set(ps)])) };
}

export function partitionList(m: TxnMetadata): Array<{ topic: string; partition: number }> {
  const out: Array<{ topic: string; partition: number }> = [];
  for (const [topic, partitions] of m.partitions) for (const partition of partitions) out.push({ topic, partition });
  return out;
}

/** Whether every partition given is already in the transaction. */
export function includesAll(m: TxnMetadata, partitions: ReadonlyArray<{ topic: string; partition: number }>): boolean {
  return partitions.every((p) => m.partitions.get(p.topic)?.has(p.partition) === true);
}
