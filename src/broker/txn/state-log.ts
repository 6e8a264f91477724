import { DecodeError } from '../../protocol/errors.ts';
import { TransactionLogKey, TransactionLogValue } from '../../protocol/generated/coordinator/transaction-log.ts';
import { Reader } from '../../protocol/reader.ts';
import { CONTROL_FLAG_MASK } from '../../protocol/records/batch-header.ts';
import { createRecordBatch, decodeRecordBatches, encodeRecordBatchSync } from '../../protocol/records/record-batch.ts';
import { Writer } from '../../protocol/writer.ts';
import type { Log } from '../../storage/log.ts';
import type { LogManager } from '../../storage/log-manager.ts';
import { partitionForGroup } from '../group/partition-for.ts';
import type { Logger } from '../logger.ts';
import { TopicExistsError } from '../services/errors.ts';
import type { TopicManager } from '../services/topic-manager.ts';
import type { TransactionConfig } from './config.ts';
import { TxnState as States, type TxnMetadata, type TxnState } from './metadata.ts';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';

/** Key and value versions written: Kafka's TransactionLog writes v0 values unless transaction version 2 is on. */
const KEY_VERSION = 0;
const VALUE_VERSION = 0;
/** Bytes read from a partition per step while loading. */
const LOAD_READ_BYTES = 4 * 1024 * 1024;

/**
 * The transaction coordinator's durable state: the compacted internal topic
 * `__transaction_state`, one record per transactional id and state change, in Kafka's
 * TransactionLogKey/TransactionLogValue formats (an int16 version before each struct), so
 * Kafka's tools decode it. Created on first use; every write is fdatasync'ed before the
 * coordinator acts on it; read back whole on start.
 */
export class TransactionStateLog {
  readonly #topics: TopicManager;
  readonly #logs: LogManager;
  readonly #config: TransactionConfig;
  readonly #logger: Logger;
  #creating: Promise<void> | null = null;

  constructor(options: { topics: TopicManager; logs: LogManager; config: TransactionConfig; logger: Logger }) {
    this.#topics = options.topics;
    this.#logs = options.logs;
    this.#config = options.config;
    this.#logger = options.logger;
  }

  get partitionCount(): number {
    return this.#topics.get(TRANSACTION_STATE_TOPIC)?.partitionCount ?? this.#config.stateLogPartitions;
  }

  /** Kafka's partitionFor: the same hash as group ids, over the topic's partitions. */
  partitionFor(transactionalId: string): number {
    return partitionForGroup(transactionalId, this.partitionCount);
  }

  get exists(): boolean {
    return this.#topics.get(TRANSACTION_STATE_TOPIC) !== undefined;
  }

  /** Creates the topic unless it exists; concurrent callers share one creation. */
  ensureTopic(): Promise<void> {
    if (this.exists) return Promise.resolve();
    this.#creating ??= (async () => {
      try {
        await this.#topics.create({
          name: TRANSACTION_STATE_TOPIC,
          numPartitions: this.#config.stateLogPartitions,
          replicationFactor: 1,
          configs: {
            'cleanup.policy': 'compact',
            'segment.bytes': String(this.#config.stateLogSegmentBytes),
            'compression.type': 'uncompressed',
            // Transaction state is acknowledged only once it is on disk, whatever the broker default.
            'flush.messages': '1',
          },
        });
        this.#logger.info(
          { partitions: this.#config.stateLogPartitions },
          `Created internal topic "${TRANSACTION_STATE_TOPIC}"`,
        );
      } catch (err) {
        if (!(err instanceof TopicExistsError)) throw err;
      } finally {
        this.#creating = null;
      }
    })();
    return this.#creating;
  }

  async #log(partition: number): Promise<Log> {
    await this.ensureTopic();
    return (
      this.#logs.getLog(TRANSACTION_STATE_TOPIC, partition) ??
      this.#logs.getOrCreateLog(TRANSACTION_STATE_TOPIC, partition)
    );
  }

  /** Writes the state of one transactional id (null: a tombstone); resolves once it is durable. */
  async write(metadata: TxnMetadata | { transactionalId: string; removed: true }, now: number): Promise<void> {
    const log = await this.#log(this.partitionFor(metadata.transactionalId));
    const record = {
      key: encodeKey(metadata.transactionalId),
      value: 'removed' in metadata ? null : encodeValue(metadata),
    };
    await log.appendAsLeader(encodeRecordBatchSync(createRecordBatch([record], { timestamp: BigInt(now) })));
  }

  /**
   * Reads every partition from its log start: the last record of each transactional id
   * wins, a tombstone removes it. Records that do not decode are logged and skipped.
   */
  async load(): Promise<Map<string, TxnMetadata>> {
    const out = new Map<string, TxnMetadata>();
    if (!this.exists) return out;
    for (let p = 0; p < this.partitionCount; p++) {
      const log = this.#logs.getLog(TRANSACTION_STATE_TOPIC, p);
      if (log === undefined) continue;
      let offset = log.logStartOffset;
      for (;;) {
        const { records } = await log.read(offset, { maxBytes: LOAD_READ_BYTES, isolation: 'log-end' });
        if (records.length === 0) break;
        const batches = await decodeRecordBatches(records);
        if (batches.length === 0) break;
        for (const batch of batches) {
          offset = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
          if ((batch.attributes & CONTROL_FLAG_MASK) !== 0) continue;
          for (const record of batch.records) {
            try {
              const transactionalId = decodeKey(record.key);
              if (transactionalId === null) continue;
              if (record.value === null) out.delete(transactionalId);
              else out.set(transactionalId, decodeValue(transactionalId, record.value));
            } catch (err) {
              this.#logger.warn(
                { partition: p, offset: String(batch.baseOffset + BigInt(record.offsetDelta)), err: String(err) },
                `Skipping a record of "${TRANSACTION_STATE_TOPIC}" that does not decode`,
              );
            }
          }
        }
      }
    }
    return out;
  }
}

function encodeKey(transactionalId: string): Buffer {
  const w = new Writer(32);
  w.int16(KEY_VERSION);
  TransactionLogKey.write(w, { transactionalId }, KEY_VERSION);
  return w.toBuffer();
}

/** The transactional id of a key, or null for a key version this broker does not know. */
function decodeKey(key: Buffer | null): string | null {
  if (key === null) throw new DecodeError('Transaction log record has a null key', 0);
  const r = new Reader(key);
  const version = r.int16();
  if (version !== KEY_VERSION) return null;
  return TransactionLogKey.read(r, version).transactionalId;
}

function encodeValue(m: TxnMetadata): Buffer {
  const w = new Writer(64);
  w.int16(VALUE_VERSION);
  TransactionLogValue.write(
    w,
    {
      producerId: m.producerId,
      previousProducerId: m.previousProducerId,
      nextProducerId: -1n,
      producerEpoch: m.producerEpoch,
      transactionTimeoutMs: m.txnTimeoutMs,
      transactionStatus: m.state,
      // As Kafka: an Empty transaction has no partitions at all (null).
      transactionPartitions:
        m.state === States.Empty
          ? null
          : [...m.partitions].map(([topic, partitions]) => ({
              topic,
              partitionIds: [...partitions].sort((a, b) => a - b),
            })),
      transactionLastUpdateTimestampMs: BigInt(m.txnLastUpdateTimestamp),
      transactionStartTimestampMs: BigInt(m.txnStartTimestamp),
      clientTransactionVersion: 0,
    },
    VALUE_VERSION,
  );
  return w.toBuffer();
}

function decodeValue(transactionalId: string, value: Buffer): TxnMetadata {
  const r = new Reader(value);
  const version = r.int16();
  const { min, max } = TransactionLogValue.schema.validVersions;
  if (version < min) throw new DecodeError(`TransactionLogValue version ${version} is unknown`, 0);
  // A newer flexible version only adds tagged fields, which the v1 reader keeps.
  const v = TransactionLogValue.read(r, Math.min(version, max));
  if (v.transactionStatus < States.Empty || v.transactionStatus > States.PrepareEpochFence) {
    throw new DecodeError(`Unknown transaction status ${v.transactionStatus}`, 0);
  }
  const partitions = new Map<string, Set<number>>();
  for (const t of v.transactionPartitions ?? []) {
    const set = partitions.get(t.topic) ?? new Set<number>();
    for (const p of t.partitionIds) set.add(p);
    partitions.set(t.topic, set);
  }
  return {
    transactionalId,
    producerId: v.producerId,
    previousProducerId: v.previousProducerId,
    producerEpoch: v.producerEpoch,
    lastProducerEpoch: -1,
    txnTimeoutMs: v.transactionTimeoutMs,
    state: v.transactionStatus as TxnState,
    partitions,
    txnStartTimestamp: Number(v.transactionStartTimestampMs),
    txnLastUpdateTimestamp: Number(v.transactionLastUpdateTimestampMs),
  };
}
