import { CONTROL_FLAG_MASK, TRANSACTIONAL_FLAG_MASK } from '../../protocol/records/batch-header.ts';
import { type ControlRecord, ControlRecordType, decodeControlRecord } from '../../protocol/records/control-record.ts';
import type { KafkaRecord } from '../../protocol/records/record.ts';
import { createRecordBatch, decodeRecordBatches, encodeRecordBatchSync } from '../../protocol/records/record-batch.ts';
import type { Log } from '../../storage/log.ts';
import type { LogManager } from '../../storage/log-manager.ts';
import type { Logger } from '../logger.ts';
import { TopicExistsError } from '../services/errors.ts';
import type { TopicManager } from '../services/topic-manager.ts';
import type { GroupCoordinatorConfig } from './config.ts';
import { partitionForGroup } from './partition-for.ts';
import { decodeGroupRecord, encodeGroupRecord, type GroupRecord } from './records.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** Bytes read from a partition per step while loading. */
const LOAD_READ_BYTES = 4 * 1024 * 1024;

export interface GroupStateLogOptions {
  topics: TopicManager;
  logs: LogManager;
  config: GroupCoordinatorConfig;
  logger: Logger;
}

/**
 * The group coordinator's durable state: the compacted internal topic `__consumer_offsets`.
 * Created on first use (one replica on a single node, whatever
 * offsets.topic.replication.factor says), written as magic-2 batches through the partition
 * log (each append acknowledged once fdatasync'ed), and read back whole on start.
 */
export class GroupStateLog {
  readonly #topics: TopicManager;
  readonly #logs: LogManager;
  readonly #config: GroupCoordinatorConfig;
  readonly #logger: Logger;
  #creating: Promise<void> | null = null;

  constructor(options: GroupStateLogOptions) {
    this.#topics = options.topics;
    this.#logs = options.logs;
    this.#config = options.config;
    this.#logger = options.logger;
  }

  /** Partitions of the topic: the existing topic's count, else offsets.topic.num.partitions. */
  get partitionCount(): number {
    return this.#topics.get(OFFSETS_TOPIC)?.partitionCount ?? this.#config.offsetsTopicPartitions;
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.partitionCount);
  }

  get exists(): boolean {
    return this.#topics.get(OFFSETS_TOPIC) !== undefined;
  }

  /** Creates the topic unless it exists; concurrent callers share one creation. */
  ensureTopic(): Promise<void> {
    if (this.exists) return Promise.resolve();
    this.#creating ??= (async () => {
      try {
        await this.#topics.create({
          name: OFFSETS_TOPIC,
          numPartitions: this.#config.offsetsTopicPartitions,
          replicationFactor: 1,
          configs: {
            'cleanup.policy': 'compact',
            'segment.bytes': String(this.#config.offsetsTopicSegmentBytes),
            'compression.type': 'producer',
            // Group state is acknowledged only once it is on disk, whatever the broker default.
            'flush.messages': '1',
          },
        });
        this.#logger.info(
          { partitions: this.#config.offsetsTopicPartitions },
          `Created internal topic "${OFFSETS_TOPIC}"`,
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
    return this.#logs.getLog(OFFSETS_TOPIC, partition) ?? this.#logs.getOrCreateLog(OFFSETS_TOPIC, partition);
  }

  /**
   * Appends records for one group, in one batch, to the group's partition; resolves once
   * they are durable. Throws the storage layer's errors (the caller maps them). With
   * `transaction` (TxnOffsetCommit) the batch is the producer's transactional batch: its
   * epoch is checked by the log, and it counts only once a COMMIT marker follows.
   */
  async append(
    groupId: string,
    records: readonly GroupRecord[],
    now: number = Date.now(),
    transaction?: { producerId: bigint; producerEpoch: number },
  ): Promise<void> {
    if (records.length === 0) return;
    const log = await this.#log(this.partitionFor(groupId));
    const batch = createRecordBatch(records.map(encodeGroupRecord), {
      timestamp: BigInt(now),
      ...(transaction && { ...transaction, baseSequence: 0, isTransactional: true }),
    });
    await log.appendAsLeader(encodeRecordBatchSync(batch), transaction && { origin: 'coordinator' });
  }

  /**
   * Reads every partition of the topic from its log start and hands each record to
   * `replay` in log order. Records that do not decode are logged and skipped, so one bad
   * record cannot keep the broker from starting. Records of transactions are replayed at
   * their COMMIT marker, dropped at ABORT, and handed to `pending` when the log ends before
   * either (the transaction coordinator completes them).
   */
  async load(
    replay: (record: GroupRecord, timestampMs: number) => void,
    pending: (producerId: bigint, record: GroupRecord, timestampMs: number) => void = () => {},
  ): Promise<number> {
    if (!this.exists) return 0;
    let count = 0;
    for (let p = 0; p < this.partitionCount; p++) {
      const log = this.#logs.getLog(OFFSETS_TOPIC, p);
      if (log === undefined) continue;
      let offset = log.logStartOffset;
      const open = new Map<bigint, Array<{ record: GroupRecord; timestampMs: number }>>();
      for (;;) {
        const { records } = await log.read(offset, { maxBytes: LOAD_READ_BYTES, isolation: 'log-end' });
        if (records.length === 0) break;
        const batches = await decodeRecordBatches(records);
        if (batches.length === 0) break;
        for (const batch of batches) {
          offset = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
          if ((batch.attributes & CONTROL_FLAG_MASK) !== 0) {
            const marker = controlRecordOf(batch.records[0]);
            const txn = open.get(batch.producerId);
            open.delete(batch.producerId);
            if (marker?.type === ControlRecordType.COMMIT) for (const r of txn ?? []) replay(r.record, r.timestampMs);
            continue;
          }
          const transactional = (batch.attributes & TRANSACTIONAL_FLAG_MASK) !== 0;
          for (const record of batch.records) {
            try {
              const decoded = decodeGroupRecord(record.key, record.value);
              if (decoded === null) continue;
              const timestampMs = Number(batch.baseTimestamp + record.timestampDelta);
              if (transactional) {
                const txn = open.get(batch.producerId) ?? [];
                txn.push({ record: decoded, timestampMs });
                open.set(batch.producerId, txn);
              } else {
                replay(decoded, timestampMs);
              }
              count++;
            } catch (err) {
              this.#logger.warn(
                { partition: p, offset: String(batch.baseOffset + BigInt(record.offsetDelta)), err: String(err) },
                `Skipping a record of "${OFFSETS_TOPIC}" that does not decode`,
              );
            }
          }
        }
      }
      for (const [producerId, txn] of open) for (const r of txn) pending(producerId, r.record, r.timestampMs);
    }
    return count;
  }
}

/** The control record of a control batch, or null when it has none or it does not decode (skipped like bad records). */
function controlRecordOf(record: KafkaRecord | undefined): ControlRecord | null {
  if (record === undefined) return null;
  try {
    return decodeControlRecord(record);
  } catch {
    return null;
  }
}
