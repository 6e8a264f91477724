/**
 * The transaction coordinator (Kafka's TransactionCoordinator): producer ids for idempotent
 * and transactional producers, and the life of each transactional id's transactions:
 * InitProducerId (epoch bumps, zombie fencing, abort of a transaction left open),
 * AddPartitionsToTxn / AddOffsetsToTxn, EndTxn with COMMIT or ABORT markers written to
 * every partition of the transaction, timeouts, and the admin views. State is kept in
 * memory and made durable in `__transaction_state` before any change is acted on; on
 * start the topic is read back and transactions caught half-way are completed.
 *
 * Concurrency: every change to a transactional id (requests, timeouts, completions after a
 * restart) runs in that id's serial queue, so each sees the state the previous left and
 * nothing else changes it across its awaits (its own durable writes and markers).
 *
 * Unlike Kafka, EndTxn answers once the markers are written rather than once the decision
 * is durable: on one node the markers are local appends, and the producer can start its
 * next transaction at once instead of retrying on CONCURRENT_TRANSACTIONS. When a marker
 * cannot be written, the decision stands (Prepare* is durable), EndTxn still succeeds, and
 * the markers are retried in the background; meanwhile the id answers
 * CONCURRENT_TRANSACTIONS, as in Kafka.
 */

import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { ControlRecordType, createControlBatch } from '../../protocol/records/control-record.ts';
import { encodeRecordBatchSync } from '../../protocol/records/record-batch.ts';
import type { LogManager } from '../../storage/log-manager.ts';
import type { BrokerConfig } from '../config.ts';
import { coordinatorWriteErrorCode, errorCodeOf } from '../error-mapping.ts';
import type { GroupCoordinator } from '../group/coordinator.ts';
import { KeyedSerialQueue } from '../group/serial-queue.ts';
import { OFFSETS_TOPIC } from '../group/state-log.ts';
import type { Logger } from '../logger.ts';
import { SINGLE_NODE_LEADER_EPOCH } from '../services/partition.ts';
import type { ReplicaManager } from '../services/replica-manager.ts';
import type { TopicManager } from '../services/topic-manager.ts';
import { type TransactionConfig, transactionConfig } from './config.ts';
import {
  copyMetadata,
  includesAll,
  isEpochExhausted,
  MAX_PRODUCER_EPOCH,
  partitionList,
  TXN_STATE_NAMES,
  type TxnMetadata,
  TxnState,
  txnStateName,
} from './metadata.ts';
import type { ProducerIdManager } from './producer-id-manager.ts';
import { TransactionStateLog } from './state-log.ts';

export interface TransactionCoordinatorOptions {
  config: BrokerConfig;
  logger: Logger;
  topics: TopicManager;
  logs: LogManager;
  replicas: ReplicaManager;
  groups: GroupCoordinator;
  producerIds: ProducerIdManager;
  clock?: () => number;
}

export interface InitProducerIdResult {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface DescribedTransaction {
  errorCode: number;
  transactionalId: string;
  transactionState: string;
  transactionTimeoutMs: number;
  transactionStartTimeMs: bigint;
  producerId: bigint;
  producerEpoch: number;
  topics: Array<{ topic: string; partitions: number[] }>;
}

export interface ListedTransaction {
  transactionalId: string;
  producerId: bigint;
  transactionState: string;
}

/**
 * The coordinator epoch stamped into markers: on one node the leader epoch of the
 * `__transaction_state` partitions, which never changes.
 */
export const COORDINATOR_EPOCH = SINGLE_NODE_LEADER_EPOCH;
/** How long to wait before writing markers again after a failure. */
const MARKER_RETRY_MS = 1000;
/** Produce version the markers are appended as (magic 2, any codec). */
const MARKER_PRODUCE_VERSION = 9;

/**
 * PRODUCER_FENCED for the API versions that know it; INVALID_PRODUCER_EPOCH, which older
 * clients treat the same way, for the ones before (Kafka's rewrite for KIP-588).
 */
export function fencedErrorFor(errorCode: number, apiVersion: number, firstVersionWithFenced: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < firstVersionWithFenced
    ? ErrorCode.INVALID_PRODUCER_EPOCH
    : errorCode;
}

/**
 * The epoch an abort by the coordinator is written with: one past the current, which
 * fences the producer. At Short.MaxValue there is none past it (Kafka refuses to overflow
 * too): the abort keeps the epoch, and the next InitProducerId rotates the producer id.
 */
function fenceEpochOf(current: TxnMetadata): number {
  return Math.min(current.producerEpoch + 1, MAX_PRODUCER_EPOCH);
}

const failedInit = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1n, producerEpoch: -1 });

export class TransactionCoordinator {
  readonly config: TransactionConfig;
  readonly stateLog: TransactionStateLog;
  readonly #logger: Logger;
  readonly #logs: LogManager;
  readonly #topics: TopicManager;
  readonly #replicas: ReplicaManager;
  readonly #groups: GroupCoordinator;
  readonly #producerIds: ProducerIdManager;
  readonly #clock: () => number;
  readonly #queue = new KeyedSerialQueue();
  readonly #txns = new Map<string, TxnMetadata>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #active = false;

  constructor(options: TransactionCoordinatorOptions) {
    this.config = transactionConfig(options.config);
    this.#logger = options.logger;
    this.#logs = options.logs;
    this.#topics = options.topics;
    this.#replicas = options.replicas;
    this.#groups = options.groups;
    this.#producerIds = options.producerIds;
    this.#clock = options.clock ?? Date.now;
    this.stateLog = new TransactionStateLog({
      topics: options.topics,
      logs: options.logs,
      config: this.config,
      logger: options.logger,
    });
  }

  /**
   * Reads `__transaction_state` back (if it exists), completes transactions a crash caught
   * between their decision and their markers, and starts the timers.
   */
  async load(): Promise<void> {
    const loaded = await this.stateLog.load();
    for (const [id, metadata] of loaded) this.#txns.set(id, metadata);
    if (loaded.size > 0) this.#logger.info({ transactionalIds: loaded.size }, 'Loaded transaction coordinator state');
    this.#active = true;
    for (const metadata of loaded.values()) {
      if (metadata.state === TxnState.PrepareCommit || metadata.state === TxnState.PrepareAbort) {
        this.#scheduleCompletion(metadata.transactionalId, 0);
      }
    }
    this.#every(this.config.abortTimedOutIntervalMs, () => this.abortTimedOutTransactions());
    this.#every(this.config.removeExpiredIntervalMs, () => this.removeExpiredTransactionalIds());
    // Partitions forget idle producers (producer.id.expiration.ms); the coordinator owns the timer.
    this.#every(this.config.producerIdExpirationCheckIntervalMs, () => this.expireProducers());
  }

  get active(): boolean {
    return this.#active;
  }

  /** FindCoordinator for a transactional id: the state topic exists (created on first use) before clients come. */
  async ensureStateTopic(): Promise<number> {
    if (!this.#active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    try {
      await this.stateLog.ensureTopic();
      return ErrorCode.NONE;
    } catch (err) {
      this.#logger.error({ err: String(err) }, 'Cannot create the transaction state topic');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** Stops taking requests and clears the timers. */
  beginShutdown(): void {
    this.#active = false;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** beginShutdown, then waits for queued work to finish. */
  async close(): Promise<void> {
    this.beginShutdown();
    await this.#queue.idle();
  }

  #every(intervalMs: number, task: () => Promise<unknown>): void {
    if (intervalMs <= 0) return;
    const timer = setInterval(() => {
      task().catch((err: unknown) => this.#logger.error({ err: String(err) }, 'Transaction coordinator task failed'));
    }, intervalMs);
    timer.unref();
    this.#timers.add(timer);
  }

  // ------------------------------------------------------------------ InitProducerId

  /**
   * InitProducerId. Without a transactional id: a new producer id, epoch 0 (idempotence).
   * With one: the id's producer id and its next epoch, which fences every older producer
   * of the id; an open transaction is aborted first and the call answers
   * CONCURRENT_TRANSACTIONS, so the client retries and gets the epoch after the fence.
   * `expected` (v3+) is the producer id and epoch the client has, when it has one.
   */
  async initProducerId(
    transactionalId: string | null,
    transactionTimeoutMs: number,
    expected: { producerId: bigint; producerEpoch: number } | null,
  ): Promise<InitProducerIdResult> {
    if (transactionalId === null) {
      try {
        return { errorCode: ErrorCode.NONE, producerId: await this.#producerIds.next(), producerEpoch: 0 };
      } catch (err) {
        this.#logger.error({ err: String(err) }, 'Cannot reserve producer ids');
        return failedInit(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
    }
    if (transactionalId === '') return failedInit(ErrorCode.INVALID_REQUEST);
    if (transactionTimeoutMs <= 0 || transactionTimeoutMs > this.config.maxTimeoutMs) {
      return failedInit(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    }
    const error = await this.ensureStateTopic();
    if (error !== ErrorCode.NONE) return failedInit(error);
    return this.#queue.run(transactionalId, () =>
      this.#initProducerId(transactionalId, transactionTimeoutMs, expected),
    );
  }

  async #initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: bigint; producerEpoch: number } | null,
  ): Promise<InitProducerIdResult> {
    const now = this.#clock();
    let current = this.#txns.get(transactionalId);
    if (current === undefined) {
      let producerId: bigint;
      try {
        producerId = await this.#producerIds.next();
      } catch (err) {
        this.#logger.error({ err: String(err) }, 'Cannot reserve producer ids');
        return failedInit(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
      current = {
        transactionalId,
        producerId,
        previousProducerId: -1n,
        producerEpoch: -1,
        lastProducerEpoch: -1,
        txnTimeoutMs: timeoutMs,
        state: TxnState.Empty,
        partitions: new Map(),
        txnStartTimestamp: -1,
        txnLastUpdateTimestamp: now,
      };
    }
    // Kafka's isValidProducerId: a client that names a producer id must name this one, or
    // the one before a rotation it may not have heard of (retry after an exhausted epoch).
    if (
      expected !== null &&
      current.producerEpoch !== -1 &&
      expected.producerId !== current.producerId &&
      !(expected.producerId === current.previousProducerId && isEpochExhausted(expected.producerEpoch))
    ) {
      return failedInit(ErrorCode.PRODUCER_FENCED);
    }
    switch (current.state) {
      case TxnState.PrepareCommit:
      case TxnState.PrepareAbort:
        return failedInit(ErrorCode.CONCURRENT_TRANSACTIONS);
      case TxnState.Ongoing: {
        // Fence the producer of the open transaction and abort it. The fenced epoch is never
        // handed out: the client retries and gets the one after it.
        const fenceEpoch = fenceEpochOf(current);
        const errorCode = await this.#endTransaction(current, current.producerId, fenceEpoch, false, { fenceEpoch });
        return failedInit(errorCode === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : errorCode);
      }
      case TxnState.Empty:
      case TxnState.CompleteCommit:
      case TxnState.CompleteAbort: {
        const next = copyMetadata(current);
        next.state = TxnState.Empty;
        next.partitions = new Map();
        next.txnTimeoutMs = timeoutMs;
        next.txnStartTimestamp = -1;
        next.txnLastUpdateTimestamp = now;
        if (
          isEpochExhausted(current.producerEpoch) &&
          (expected === null || expected.producerEpoch === current.producerEpoch)
        ) {
          // No epoch left to fence with: a new producer id (Kafka's prepareProducerIdRotation).
          try {
            next.producerId = await this.#producerIds.next();
          } catch (err) {
            this.#logger.error({ err: String(err) }, 'Cannot reserve producer ids');
            return failedInit(ErrorCode.COORDINATOR_NOT_AVAILABLE);
          }
          next.previousProducerId = current.producerId;
          next.producerEpoch = 0;
          next.lastProducerEpoch = expected === null ? -1 : current.producerEpoch;
        } else if (
          expected === null ||
          current.producerEpoch === -1 ||
          expected.producerEpoch === current.producerEpoch
        ) {
          next.producerEpoch = current.producerEpoch + 1;
          next.lastProducerEpoch = expected === null ? -1 : current.producerEpoch;
        } else if (expected.producerEpoch === current.lastProducerEpoch) {
          // The retry of a bump whose answer the client lost: the same epoch again.
          next.producerEpoch = current.producerEpoch;
          next.lastProducerEpoch = current.lastProducerEpoch;
        } else {
          return failedInit(ErrorCode.PRODUCER_FENCED);
        }
        const errorCode = await this.#persist(next);
        if (errorCode !== ErrorCode.NONE) return failedInit(errorCode);
        return { errorCode: ErrorCode.NONE, producerId: next.producerId, producerEpoch: next.producerEpoch };
      }
      default:
        this.#logger.error({ transactionalId, state: current.state }, 'Transactional id in a state it never rests in');
        return failedInit(ErrorCode.UNKNOWN_SERVER_ERROR);
    }
  }

  // ------------------------------------------------------------------ AddPartitionsToTxn, AddOffsetsToTxn

  /** Adds partitions to the open transaction of `transactionalId` (starting one). One error code for all of them. */
  async addPartitions(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: readonly TopicPartition[],
  ): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    if (!this.#active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return this.#queue.run(transactionalId, async () => {
      const current = this.#txns.get(transactionalId);
      if (current === undefined || current.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
      if (current.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
      if (current.state === TxnState.PrepareCommit || current.state === TxnState.PrepareAbort) {
        return ErrorCode.CONCURRENT_TRANSACTIONS;
      }
      if (current.state === TxnState.Ongoing && includesAll(current, partitions)) return ErrorCode.NONE;
      const now = this.#clock();
      const next = copyMetadata(current);
      if (current.state !== TxnState.Ongoing) {
        next.txnStartTimestamp = now;
        next.partitions = new Map();
      }
      next.state = TxnState.Ongoing;
      next.txnLastUpdateTimestamp = now;
      for (const { topic, partition } of partitions) {
        let set = next.partitions.get(topic);
        if (set === undefined) {
          set = new Set();
          next.partitions.set(topic, set);
        }
        set.add(partition);
      }
      return this.#persist(next);
    });
  }

  /** AddOffsetsToTxn: the group's `__consumer_offsets` partition joins the transaction. */
  async addOffsets(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    groupId: string,
  ): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const error = await this.#groups.ensureStateTopic();
    if (error !== ErrorCode.NONE) return error;
    return this.addPartitions(transactionalId, producerId, producerEpoch, [
      { topic: OFFSETS_TOPIC, partition: this.#groups.partitionFor(groupId) },
    ]);
  }

  // ------------------------------------------------------------------ EndTxn

  /** EndTxn: commits or aborts the open transaction; answers once the markers are written. */
  async endTxn(transactionalId: string, producerId: bigint, producerEpoch: number, commit: boolean): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    if (!this.#active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return this.#queue.run(transactionalId, () => {
      const current = this.#txns.get(transactionalId);
      if (current === undefined) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
      return this.#endTransaction(current, producerId, producerEpoch, commit, { fromClient: true });
    });
  }

  /**
   * Kafka's endTransaction, from the id's queue. A client must name the current epoch; the
   * coordinator itself (timeouts, InitProducerId) passes `fenceEpoch`, the epoch after the
   * current one, which the abort is written with so that the old producer is fenced.
   */
  async #endTransaction(
    current: TxnMetadata,
    producerId: bigint,
    producerEpoch: number,
    commit: boolean,
    options: { fromClient?: boolean; fenceEpoch?: number },
  ): Promise<number> {
    if (current.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (
      (options.fromClient === true && producerEpoch !== current.producerEpoch) ||
      producerEpoch < current.producerEpoch
    ) {
      return ErrorCode.PRODUCER_FENCED;
    }
    switch (current.state) {
      case TxnState.Ongoing: {
        const next = copyMetadata(current);
        next.state = commit ? TxnState.PrepareCommit : TxnState.PrepareAbort;
        next.txnLastUpdateTimestamp = this.#clock();
        if (options.fenceEpoch !== undefined) {
          next.producerEpoch = options.fenceEpoch;
          next.lastProducerEpoch = -1;
        }
        const errorCode = await this.#persist(next);
        if (errorCode !== ErrorCode.NONE) return errorCode;
        await this.#complete(next);
        return ErrorCode.NONE;
      }
      case TxnState.CompleteCommit:
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case TxnState.CompleteAbort:
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case TxnState.PrepareCommit:
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
      case TxnState.PrepareAbort:
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
      case TxnState.Empty:
        return ErrorCode.INVALID_TXN_STATE;
      default:
        this.#logger.error({ transactionalId: current.transactionalId, state: current.state }, 'Unexpected state');
        return ErrorCode.UNKNOWN_SERVER_ERROR;
    }
  }

  /**
   * Writes the markers of a decided transaction (PrepareCommit/PrepareAbort, durable) to
   * each of its partitions, then its completion. On failure the transaction stays decided
   * and the rest is retried later. Assumes: from the id's queue.
   */
  async #complete(prepared: TxnMetadata): Promise<void> {
    const commit = prepared.state === TxnState.PrepareCommit;
    const written = await Promise.all(partitionList(prepared).map((p) => this.#writeMarker(p, prepared, commit)));
    if (written.every((ok) => ok)) {
      const done = copyMetadata(prepared);
      done.state = commit ? TxnState.CompleteCommit : TxnState.CompleteAbort;
      done.partitions = new Map();
      done.txnLastUpdateTimestamp = this.#clock();
      if ((await this.#persist(done)) === ErrorCode.NONE) return;
    }
    this.#scheduleCompletion(prepared.transactionalId, MARKER_RETRY_MS);
  }

  /** The marker of one partition (Kafka's WriteTxnMarkers, done locally). False when it should be tried again. */
  async #writeMarker(p: TopicPartition, txn: TxnMetadata, commit: boolean): Promise<boolean> {
    const batch = createControlBatch({
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      type: commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
      coordinatorEpoch: COORDINATOR_EPOCH,
      timestamp: BigInt(this.#clock()),
    });
    try {
      await this.#replicas.appendRecords({
        topic: p.topic,
        partition: p.partition,
        records: encodeRecordBatchSync(batch),
        acks: -1,
        apiVersion: MARKER_PRODUCE_VERSION,
        internal: true,
      });
    } catch (err) {
      if (errorCodeOf(err) === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        // As Kafka: a partition deleted since it joined the transaction gets no marker.
        this.#logger.warn(
          { transactionalId: txn.transactionalId, partition: `${p.topic}-${p.partition}` },
          'Skipping the transaction marker of a partition that no longer exists',
        );
        return true;
      }
      this.#logger.warn(
        { transactionalId: txn.transactionalId, partition: `${p.topic}-${p.partition}`, err: String(err) },
        'Cannot write a transaction marker; will retry',
      );
      return false;
    }
    if (p.topic === OFFSETS_TOPIC) await this.#groups.completeTransaction(txn.producerId, p.partition, commit);
    return true;
  }

  #scheduleCompletion(transactionalId: string, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#active) return;
      this.#queue
        .run(transactionalId, async () => {
          const current = this.#txns.get(transactionalId);
          if (current?.state === TxnState.PrepareCommit || current?.state === TxnState.PrepareAbort) {
            await this.#complete(current);
          }
        })
        .catch((err: unknown) =>
          this.#logger.error({ transactionalId, err: String(err) }, 'Cannot complete a transaction'),
        );
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Makes `next` the state of its transactional id once it is durable; an error code when the write failed. */
  async #persist(next: TxnMetadata): Promise<number> {
    try {
      await this.stateLog.write(next, this.#clock());
    } catch (err) {
      const errorCode = coordinatorWriteErrorCode(err, false);
      this.#logger.error({ transactionalId: next.transactionalId, err: String(err) }, 'Cannot write transaction state');
      return errorCode;
    }
    this.#txns.set(next.transactionalId, next);
    return ErrorCode.NONE;
  }

  // ------------------------------------------------------------------ timers

  /**
   * Aborts transactions open longer than their transaction.timeout.ms, fencing their
   * producer (Kafka's abortTimedOutTransactions), so a hung producer stops holding back the
   * last stable offset of its partitions.
   */
  async abortTimedOutTransactions(): Promise<void> {
    if (!this.#active) return;
    const now = this.#clock();
    const timedOut = [...this.#txns.values()].filter(
      (m) => m.state === TxnState.Ongoing && m.txnStartTimestamp + m.txnTimeoutMs < now,
    );
    await Promise.all(
      timedOut.map(({ transactionalId }) =>
        this.#queue.run(transactionalId, async () => {
          const current = this.#txns.get(transactionalId);
          if (current?.state !== TxnState.Ongoing) return;
          if (current.txnStartTimestamp + current.txnTimeoutMs >= this.#clock()) return;
          this.#logger.info(
            { transactionalId, producerId: String(current.producerId), timeoutMs: current.txnTimeoutMs },
            'Aborting a transaction that timed out',
          );
          const fenceEpoch = fenceEpochOf(current);
          await this.#endTransaction(current, current.producerId, fenceEpoch, false, { fenceEpoch });
        }),
      ),
    );
  }

  /** Forgets transactional ids idle longer than transactional.id.expiration.ms (a tombstone in the state topic). */
  async removeExpiredTransactionalIds(): Promise<void> {
    if (!this.#active) return;
    const expiry = this.config.transactionalIdExpirationMs;
    const idle = (m: TxnMetadata) =>
      (m.state === TxnState.Empty || m.state === TxnState.CompleteCommit || m.state === TxnState.CompleteAbort) &&
      this.#clock() - m.txnLastUpdateTimestamp >= expiry;
    const expired = [...this.#txns.values()].filter(idle);
    await Promise.all(
      expired.map(({ transactionalId }) =>
        this.#queue.run(transactionalId, async () => {
          const current = this.#txns.get(transactionalId);
          if (current === undefined || !idle(current)) return;
          await this.stateLog.write({ transactionalId, removed: true }, this.#clock());
          this.#txns.delete(transactionalId);
        }),
      ),
    );
  }

  /** Every partition forgets producers idle longer than producer.id.expiration.ms. */
  async expireProducers(): Promise<void> {
    const now = this.#clock();
    const expiration = this.config.producerIdExpirationMs;
    for (const log of this.#logs.allLogs()) {
      if (log.isClosed || log.isOffline) continue;
      await log.removeExpiredProducers(now, expiration).catch(() => 0);
    }
  }

  // ------------------------------------------------------------------ admin

  describeTransactions(transactionalIds: readonly string[]): DescribedTransaction[] {
    return transactionalIds.map((transactionalId) => {
      const failed = (errorCode: number): DescribedTransaction => ({
        errorCode,
        transactionalId,
        transactionState: '',
        transactionTimeoutMs: 0,
        transactionStartTimeMs: -1n,
        producerId: -1n,
        producerEpoch: -1,
        topics: [],
      });
      if (!this.#active) return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      const m = this.#txns.get(transactionalId);
      if (m === undefined) return failed(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
      return {
        errorCode: ErrorCode.NONE,
        transactionalId,
        transactionState: txnStateName(m.state),
        transactionTimeoutMs: m.txnTimeoutMs,
        transactionStartTimeMs: BigInt(m.txnStartTimestamp),
        producerId: m.producerId,
        producerEpoch: m.producerEpoch,
        topics: [...m.partitions].map(([topic, ps]) => ({ topic, partitions: [...ps].sort((a, b) => a - b) })),
      };
    });
  }

  /**
   * ListTransactions: filters by state names (unknown names are reported back), producer
   * ids, and (v1) a minimum duration of the open transaction.
   */
  listTransactions(
    stateFilters: readonly string[],
    producerIdFilters: readonly bigint[],
    durationFilterMs: bigint,
  ): { errorCode: number; unknownStateFilters: string[]; transactionStates: ListedTransaction[] } {
    if (!this.#active) {
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, unknownStateFilters: [], transactionStates: [] };
    }
    const known = new Set(TXN_STATE_NAMES);
    const unknownStateFilters = stateFilters.filter((s) => !known.has(s));
    const states = new Set(stateFilters);
    const producers = new Set(producerIdFilters);
    const now = BigInt(this.#clock());
    const transactionStates: ListedTransaction[] = [];
    for (const m of this.#txns.values()) {
      const state = txnStateName(m.state);
      if (m.state === TxnState.Dead) continue;
      if (states.size > 0 && !states.has(state)) continue;
      if (producers.size > 0 && !producers.has(m.producerId)) continue;
      if (durationFilterMs >= 0n && now - BigInt(m.txnStartTimestamp) <= durationFilterMs) continue;
      transactionStates.push({ transactionalId: m.transactionalId, producerId: m.producerId, transactionState: state });
    }
    transactionStates.sort((a, b) =>
      a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0,
    );
    return { errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates };
  }

  /** The state of one transactional id (tests and tools). */
  transaction(transactionalId: string): Readonly<TxnMetadata> | undefined {
    return this.#txns.get(transactionalId);
  }

  /** Topic names a request may add to a transaction: those that exist, with the partition in range. */
  partitionExists(topic: string, partition: number): boolean {
    const info = this.#topics.get(topic);
    return info !== undefined && partition >= 0 && partition < info.partitionCount;
  }
}
