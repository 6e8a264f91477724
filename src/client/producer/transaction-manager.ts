import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  AddOffsetsToTxnRequest,
  AddOffsetsToTxnResponse,
} from '../../protocol/generated/messages/add-offsets-to-txn.ts';
import {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnResponse,
} from '../../protocol/generated/messages/add-partitions-to-txn.ts';
import { EndTxnRequest, EndTxnResponse } from '../../protocol/generated/messages/end-txn.ts';
import { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/generated/messages/init-producer-id.ts';
import {
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponse,
} from '../../protocol/generated/messages/txn-offset-commit.ts';
import { defineApi } from '../api.ts';
import { type Cluster, CoordinatorType } from '../cluster.ts';
import { KafkaError } from '../errors.ts';
import { type TopicPartition, tpKey } from '../metadata.ts';

export const InitProducerIdApi = defineApi(InitProducerIdRequest, InitProducerIdResponse, { min: 0, max: 5 });
/** v4 and up are for brokers verifying transactions (KIP-890); clients use v3 and below. */
export const AddPartitionsToTxnApi = defineApi(AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, {
  min: 0,
  max: 3,
});
export const AddOffsetsToTxnApi = defineApi(AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, { min: 0, max: 4 });
/** v5 bumps the epoch on every transaction (KIP-890 part 2), which this client does not do yet. */
export const EndTxnApi = defineApi(EndTxnRequest, EndTxnResponse, { min: 0, max: 4 });
export const TxnOffsetCommitApi = defineApi(TxnOffsetCommitRequest, TxnOffsetCommitResponse, { min: 0, max: 4 });

export type TransactionState =
  | 'uninitialized'
  | 'ready'
  | 'in-transaction'
  | 'committing'
  | 'aborting'
  | 'abortable-error'
  | 'fatal-error';

/** The group a consumer belongs to, for offsets committed inside a transaction (KIP-447). */
export interface ConsumerGroupMetadata {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

/** Errors that leave the producer unusable: another instance took over its id, or it lost authorization. */
const FATAL: ReadonlySet<number> = new Set([
  ErrorCode.PRODUCER_FENCED,
  ErrorCode.INVALID_PRODUCER_EPOCH,
  ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
  ErrorCode.INVALID_PRODUCER_ID_MAPPING,
  ErrorCode.UNSUPPORTED_VERSION,
  ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
  ErrorCode.INVALID_TXN_STATE,
]);

/**
 * The producer's identity and transaction state: the producer id and epoch from
 * InitProducerId, the next sequence number of each partition, and, with a transactional
 * id, the transaction's partitions and the calls to its coordinator.
 */
export class TransactionManager {
  readonly transactionalId: string | null;
  readonly #cluster: Cluster;
  readonly #transactionTimeoutMs: number;
  producerId = -1n;
  producerEpoch = -1;
  state: TransactionState = 'uninitialized';
  lastError: KafkaError | null = null;
  readonly #sequences = new Map<string, number>();
  readonly #inTransaction = new Set<string>();
  #offsetsAdded = false;

  constructor(cluster: Cluster, options: { transactionalId?: string | null; transactionTimeoutMs?: number }) {
    this.#cluster = cluster;
    this.transactionalId = options.transactionalId ?? null;
    this.#transactionTimeoutMs = options.transactionTimeoutMs ?? 60_000;
  }

  get hasProducerId(): boolean {
    return this.producerId >= 0n;
  }

  get isTransactional(): boolean {
    return this.transactionalId !== null;
  }

  /** Whether the broker serves InitProducerId at all (idempotence falls back when not). */
  async brokerSupportsIdempotence(): Promise<boolean> {
    const connection = await this.#cluster.anyConnection();
    return connection.supports(InitProducerIdApi);
  }

  /**
   * Gets a producer id and epoch. With `bump` and an id already, asks for the next epoch of
   * the same id (KIP-360, InitProducerId v3+), or for a new id on older brokers.
   */
  async initProducerId(options: { bump?: boolean } = {}): Promise<void> {
    const operation = this.transactionalId
      ? `Cannot initialize the producer id of transactional id "${this.transactionalId}"`
      : 'Cannot initialize the idempotent producer id';
    const response = await this.#cluster.retry(operation, async () => {
      const connection = this.transactionalId
        ? await this.#cluster.coordinator(CoordinatorType.TRANSACTION, this.transactionalId)
        : await this.#cluster.anyConnection();
      const version = connection.versionFor(InitProducerIdApi);
      const resume = options.bump && this.hasProducerId && version >= 3;
      const res = await connection.send(
        InitProducerIdApi,
        {
          transactionalId: this.transactionalId,
          transactionTimeoutMs: this.#transactionTimeoutMs,
          producerId: resume ? this.producerId : -1n,
          producerEpoch: resume ? this.producerEpoch : -1,
        },
        { version },
      );
      if (res.errorCode !== ErrorCode.NONE) {
        if (this.transactionalId) {
          this.#cluster.onCoordinatorError(CoordinatorType.TRANSACTION, this.transactionalId, res.errorCode);
        }
        throw KafkaError.fromCode(res.errorCode, operation);
      }
      return res;
    });
    this.producerId = response.producerId;
    this.producerEpoch = response.producerEpoch;
    this.#sequences.clear();
    if (this.state === 'uninitialized' || this.state === 'abortable-error') this.state = 'ready';
  }

  /** The sequence number for the next batch of a partition, advancing it by the batch's records. */
  takeSequence(topic: string, partition: number, records: number): number {
    const key = tpKey(topic, partition);
    const next = this.#sequences.get(key) ?? 0;
    this.#sequences.set(key, (next + records) % 2 ** 31);
    return next;
  }

  // ------------------------------------------------------------------ transactions

  #requireTransactional(what: string): string {
    if (this.transactionalId === null) {
      throw new KafkaError(`Cannot ${what}: the producer has no transactionalId`, { code: 'INVALID_TXN_STATE' });
    }
    return this.transactionalId;
  }

  #requireState(what: string, ...states: TransactionState[]): void {
    if (!states.includes(this.state)) {
      const cause = this.lastError ? `; after: ${this.lastError.message}` : '';
      throw new KafkaError(`Cannot ${what} in state "${this.state}"${cause}`, {
        code: 'INVALID_TXN_STATE',
        errorCode: ErrorCode.INVALID_TXN_STATE,
        cause: this.lastError ?? undefined,
      });
    }
  }

  beginTransaction(): void {
    this.#requireTransactional('begin a transaction');
    this.#requireState('begin a transaction', 'ready');
    this.state = 'in-transaction';
    this.#inTransaction.clear();
    this.#offsetsAdded = false;
  }

  /** Checked before a record is accepted: a transactional producer sends only inside a transaction. */
  checkCanSend(): void {
    if (this.transactionalId === null) {
      if (this.state === 'fatal-error') throw this.lastError!;
      return;
    }
    this.#requireState('send', 'in-transaction');
  }

  isPartitionAdded(topic: string, partition: number): boolean {
    return this.#inTransaction.has(tpKey(topic, partition));
  }

  /** AddPartitionsToTxn for partitions about to get their first batch in this transaction. */
  async addPartitions(partitions: readonly TopicPartition[]): Promise<void> {
    const transactionalId = this.#requireTransactional('add partitions to a transaction');
    const todo = partitions.filter((p) => !this.isPartitionAdded(p.topic, p.partition));
    if (todo.length === 0) return;
    const topics = new Map<string, number[]>();
    for (const p of todo) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
    const operation = `Cannot add partitions to the transaction of "${transactionalId}"`;
    await this.#cluster.retry(operation, async () => {
      const connection = await this.#cluster.coordinator(CoordinatorType.TRANSACTION, transactionalId);
      const res = await connection.send(AddPartitionsToTxnApi, {
        transactions: [],
        v3AndBelowTransactionalId: transactionalId,
        v3AndBelowProducerId: this.producerId,
        v3AndBelowProducerEpoch: this.producerEpoch,
        v3AndBelowTopics: [...topics].map(([name, ps]) => ({ name, partitions: ps })),
      });
      if (res.errorCode !== ErrorCode.NONE) throw this.#error(res.errorCode, operation);
      for (const t of res.resultsByTopicV3AndBelow) {
        for (const p of t.resultsByPartition) {
          // OPERATION_NOT_ATTEMPTED marks partitions skipped because another one failed.
          if (p.partitionErrorCode === ErrorCode.NONE || p.partitionErrorCode === ErrorCode.OPERATION_NOT_ATTEMPTED) {
            continue;
          }
          throw this.#error(p.partitionErrorCode, `${operation} ("${t.name}-${p.partitionIndex}")`);
        }
      }
    });
    for (const p of todo) this.#inTransaction.add(tpKey(p.topic, p.partition));
  }

  /** AddOffsetsToTxn, then TxnOffsetCommit at the group's coordinator. */
  async sendOffsets(
    offsets: ReadonlyArray<TopicPartition & { offset: bigint; metadata?: string | null; leaderEpoch?: number }>,
    group: ConsumerGroupMetadata,
  ): Promise<void> {
    const transactionalId = this.#requireTransactional('send offsets to a transaction');
    this.#requireState('send offsets to a transaction', 'in-transaction');
    if (!this.#offsetsAdded) {
      const operation = `Cannot add the offsets of group "${group.groupId}" to the transaction of "${transactionalId}"`;
      await this.#cluster.retry(operation, async () => {
        const connection = await this.#cluster.coordinator(CoordinatorType.TRANSACTION, transactionalId);
        const res = await connection.send(AddOffsetsToTxnApi, {
          transactionalId,
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          groupId: group.groupId,
        });
        if (res.errorCode !== ErrorCode.NONE) throw this.#error(res.errorCode, operation);
      });
      this.#offsetsAdded = true;
    }
    const topics = new Map<string, typeof offsets>();
    for (const o of offsets) topics.set(o.topic, [...(topics.get(o.topic) ?? []), o]);
    const operation = `Cannot commit offsets of group "${group.groupId}" in the transaction of "${transactionalId}"`;
    await this.#cluster.retry(operation, async () => {
      const connection = await this.#cluster.coordinator(CoordinatorType.GROUP, group.groupId);
      const res = await connection.send(TxnOffsetCommitApi, {
        transactionalId,
        groupId: group.groupId,
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
        generationId: group.generationId,
        memberId: group.memberId,
        groupInstanceId: group.groupInstanceId,
        topics: [...topics].map(([name, list]) => ({
          name,
          partitions: list.map((o) => ({
            partitionIndex: o.partition,
            committedOffset: o.offset,
            committedLeaderEpoch: o.leaderEpoch ?? -1,
            committedMetadata: o.metadata ?? '',
          })),
        })),
      });
      for (const t of res.topics) {
        for (const p of t.partitions) {
          if (p.errorCode === ErrorCode.NONE) continue;
          this.#cluster.onCoordinatorError(CoordinatorType.GROUP, group.groupId, p.errorCode);
          throw this.#error(p.errorCode, `${operation} ("${t.name}-${p.partitionIndex}")`);
        }
      }
    });
  }

  /** EndTxn: commits or aborts; the caller has flushed (commit) or dropped (abort) the records. */
  async endTransaction(commit: boolean): Promise<void> {
    const transactionalId = this.#requireTransactional(commit ? 'commit' : 'abort');
    const what = commit ? 'commit the transaction' : 'abort the transaction';
    if (commit) this.#requireState(what, 'in-transaction', 'committing');
    else this.#requireState(what, 'in-transaction', 'aborting', 'abortable-error');
    this.state = commit ? 'committing' : 'aborting';
    // A transaction that wrote nothing has nothing to end at the coordinator.
    if (this.#inTransaction.size > 0 || this.#offsetsAdded) {
      const operation = `Cannot ${what} of "${transactionalId}"`;
      await this.#cluster.retry(operation, async () => {
        const connection = await this.#cluster.coordinator(CoordinatorType.TRANSACTION, transactionalId);
        const res = await connection.send(EndTxnApi, {
          transactionalId,
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          committed: commit,
        });
        if (res.errorCode !== ErrorCode.NONE) throw this.#error(res.errorCode, operation);
      });
    }
    this.#inTransaction.clear();
    this.#offsetsAdded = false;
    this.state = 'ready';
  }

  /** Records an error from a send or coordinator call: fatal errors end the producer, others the transaction. */
  onError(err: KafkaError): void {
    this.lastError = err;
    if (err.errorCode !== null && FATAL.has(err.errorCode)) this.state = 'fatal-error';
    else if (this.transactionalId !== null && this.state === 'in-transaction') this.state = 'abortable-error';
  }

  #error(errorCode: number, operation: string): KafkaError {
    if (this.transactionalId) {
      this.#cluster.onCoordinatorError(CoordinatorType.TRANSACTION, this.transactionalId, errorCode);
    }
    const err = KafkaError.fromCode(errorCode, operation);
    if (!err.retriable) this.onError(err);
    return err;
  }
}
