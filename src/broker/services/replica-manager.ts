import {
  BatchHeaderOffset,
  COMPRESSION_CODEC_MASK,
  CompressionCodec,
  LOG_OVERHEAD,
} from '../../protocol/records/batch-header.ts';
import { decodeRecordBatch, recordOffset, recordTimestamp } from '../../protocol/records/record-batch.ts';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type Log,
  MAX_TIMESTAMP,
  type TimestampOffset,
} from '../../storage/log.ts';
import type { LogManager } from '../../storage/log-manager.ts';
import { ReadBufferPool } from '../../storage/read-buffer-pool.ts';
import type { BrokerConfig } from '../config.ts';
import { DelayedFetchPurgatory } from './delayed-fetch.ts';
import { InvalidTopicError, UnknownTopicIdError, UnknownTopicOrPartitionError } from './errors.ts';
import { type EpochEndOffset, Partition, UNDEFINED_EPOCH } from './partition.ts';
import { prepareProducedRecords } from './produce-validation.ts';
import {
  InvalidRequiredAcksError,
  NotEnoughReplicasError,
  NotLeaderOrFollowerError,
  UnsupportedCompressionTypeError,
} from './replica-errors.ts';
import type { TopicManager } from './topic-manager.ts';

/** Fetch and ListOffsets replica ids: -1 is a consumer; -2 a debugging tool; >= 0 a follower broker. */
export const CONSUMER_REPLICA_ID = -1;
/** ListOffsets v8+: the start of the local log (= logStartOffset without tiered storage). */
export const EARLIEST_LOCAL_TIMESTAMP = -4n;
/** ListOffsets v9+: the last offset in tiered storage; none here. */
export const LATEST_TIERED_TIMESTAMP = -5n;

export type IsolationLevel = 'read_uncommitted' | 'read_committed';

export interface ProduceOptions {
  topic: string;
  partition: number;
  records: Buffer | null;
  acks: number;
  /** Produce request version; decides which record formats and codecs are allowed. */
  apiVersion: number;
  /**
   * Set by the broker's coordinators: they may write to internal topics and write control
   * batches (transaction markers); clients may do neither.
   */
  internal?: boolean;
}

export interface ProduceResult {
  baseOffset: bigint;
  /** The broker time stamped into the batch for LogAppendTime topics, else -1. */
  logAppendTimeMs: bigint;
  logStartOffset: bigint;
}

export interface FetchParams {
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: IsolationLevel;
  /** Fetch request version: v < 10 cannot carry zstd batches. */
  apiVersion: number;
}

/** One partition to read, in request (or fetch session) order. */
export interface FetchPartition {
  /** Null when the request named a topic id this broker does not know. */
  topic: string | null;
  /** Kafka's printed form; the zero UUID before Fetch v13. */
  topicId: string;
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  /** -1 when the client does not say (before v9). */
  currentLeaderEpoch: number;
  /** Epoch of the last batch the client fetched (v12+), -1 when unknown. */
  lastFetchedEpoch: number;
  /** A follower's log start offset; -1 from consumers. */
  logStartOffset: bigint;
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface FetchPartitionResult {
  /** A typed error for the handler to map, or null. */
  error: unknown;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  records: Buffer;
  /** Set when the client's last fetched epoch diverged from this log (KIP-595). */
  divergingEpoch: EpochEndOffset | null;
  /** For read_committed, the aborted transactions the records overlap (maybe none); null for read_uncommitted, as Kafka. */
  abortedTransactions: AbortedTransaction[] | null;
}

export interface ListOffsetQuery {
  /** A time in ms, or -1 latest, -2 earliest, -3 max timestamp, -4 earliest local, -5 latest tiered. */
  timestamp: bigint;
  currentLeaderEpoch: number;
  isolationLevel: IsolationLevel;
  replicaId: number;
}

export interface ListOffsetResult {
  timestamp: bigint;
  offset: bigint;
  leaderEpoch: number;
}

export interface ReplicaManagerOptions {
  topics: TopicManager;
  logs: LogManager;
  config: BrokerConfig;
  nodeId: number;
  /** Bound on long-poll fetches waiting at once. */
  maxWaitingFetches?: number;
  clock?: () => number;
}

const EMPTY = Buffer.alloc(0);
const NOT_FOUND: ListOffsetResult = { timestamp: -1n, offset: -1n, leaderEpoch: UNDEFINED_EPOCH };

/**
 * The data path of the broker: the partitions it leads, produce appends, fetch reads with
 * long polling, offsets by time and end offsets by leader epoch. Handlers call it with
 * decoded requests and get results or typed errors; it calls storage and owns the waiting
 * fetches. Named after Kafka's ReplicaManager because replication will live here too.
 */
export class ReplicaManager {
  readonly #topics: TopicManager;
  readonly #logs: LogManager;
  readonly #config: BrokerConfig;
  readonly #nodeId: number;
  readonly #clock: () => number;
  readonly #partitions = new Map<string, Partition>();
  readonly #purgatory: DelayedFetchPurgatory;
  /**
   * Buffers that large Fetch reads land in. The records of a fetch result may be views of
   * one: whoever writes them out releases them here afterwards (the broker does, once the
   * response's write completed); a result that is dropped instead is just garbage.
   */
  readonly readBuffers = new ReadBufferPool();

  constructor(options: ReplicaManagerOptions) {
    this.#topics = options.topics;
    this.#logs = options.logs;
    this.#config = options.config;
    this.#nodeId = options.nodeId;
    this.#clock = options.clock ?? Date.now;
    this.#purgatory = new DelayedFetchPurgatory(options.maxWaitingFetches);
  }

  /** Long-poll fetches waiting now. */
  get waitingFetches(): number {
    return this.#purgatory.size;
  }

  /**
   * The partition `topic`/`partition` if this broker leads it. Throws
   * UnknownTopicOrPartitionError for a topic or partition that does not exist, and
   * NotLeaderOrFollowerError while its log is not open yet (a topic being created).
   */
  partition(topic: string, partition: number): Partition {
    const info = this.#topics.get(topic);
    if (info === undefined || !Number.isInteger(partition) || partition < 0 || partition >= info.partitionCount) {
      throw new UnknownTopicOrPartitionError(`Unknown topic or partition "${topic}-${partition}"`);
    }
    const log = this.#logs.getLog(topic, partition);
    if (log === undefined) {
      throw new NotLeaderOrFollowerError(`Partition "${topic}-${partition}" is not open on this broker yet`);
    }
    const key = log.label;
    const cached = this.#partitions.get(key);
    if (cached !== undefined && cached.log === log) return cached;
    // A topic deleted and created again has a new log; forget partitions of closed logs.
    for (const [k, p] of this.#partitions) if (p.log.isClosed) this.#partitions.delete(k);
    const created = new Partition(topic, partition, log, this.#nodeId);
    this.#partitions.set(key, created);
    return created;
  }

  // ---------------------------------------------------------------- produce

  /**
   * Validates and appends one partition's records. Resolves once they are acknowledged by
   * the log (fdatasync'ed with the default config), for acks 1 and -1 alike: on one node
   * the in-sync replicas are this broker.
   *
   * Assumes it is called synchronously in request order: the append takes its place in
   * the partition's order before the first await.
   */
  async appendRecords(options: ProduceOptions): Promise<ProduceResult> {
    const { topic, acks } = options;
    if (acks !== -1 && acks !== 0 && acks !== 1) {
      throw new InvalidRequiredAcksError(`Invalid required acks ${acks}: expected -1, 0 or 1`);
    }
    const partition = this.partition(topic, options.partition);
    if (!options.internal && this.#topics.get(topic)?.isInternal) {
      throw new InvalidTopicError(`Cannot append to internal topic "${topic}"`);
    }
    const log = partition.log;
    const minIsr = log.config['min.insync.replicas'];
    if (acks === -1 && partition.isr.length < minIsr) {
      throw new NotEnoughReplicasError(
        `Cannot append to "${partition.label}" with acks=all: ${partition.isr.length} in-sync replica(s), "min.insync.replicas" is ${minIsr}`,
      );
    }
    let appendedBytes = 0;
    const info = await partition.append(
      () => {
        const prepared = prepareProducedRecords(options.records, {
          label: partition.label,
          apiVersion: options.apiVersion,
          config: log.config,
          nowMs: this.#clock(),
          fromCoordinator: options.internal === true,
        });
        if (prepared instanceof Promise) {
          return prepared.then((bytes) => {
            appendedBytes = bytes.length;
            return bytes;
          });
        }
        appendedBytes = prepared.length;
        return prepared;
      },
      options.internal === true ? 'coordinator' : 'client',
    );
    this.#purgatory.onAppend(partition.label, appendedBytes);
    return { baseOffset: info.baseOffset, logAppendTimeMs: info.logAppendTime, logStartOffset: info.logStartOffset };
  }

  // ---------------------------------------------------------------- fetch

  /**
   * Reads the partitions in order within the byte limits, and when that is less than
   * `minBytes` (and nothing failed) waits up to `maxWaitMs` for appends before reading
   * again. Errors are per partition, in the results.
   */
  async fetch(params: FetchParams, partitions: readonly FetchPartition[]): Promise<FetchPartitionResult[]> {
    const maxBytes = Math.max(0, Math.min(params.maxBytes, this.#config.int('fetch.max.bytes')));
    const minBytes = Math.min(params.minBytes, maxBytes);
    const deadline = performance.now() + params.maxWaitMs;
    let results = await this.#readAll(params, partitions, maxBytes);
    for (;;) {
      const remaining = deadline - performance.now();
      if (params.maxWaitMs <= 0 || partitions.length === 0 || remaining <= 0) return results;
      let bytes = 0;
      let moved = false;
      const keys = new Set<string>();
      for (let i = 0; i < results.length; i++) {
        const result = results[i]!;
        // Errors and divergence are answered at once, as Kafka does.
        if (result.error !== null || result.divergingEpoch !== null) return results;
        bytes += result.records.length;
        const log = this.#logs.getLog(partitions[i]!.topic!, partitions[i]!.partition);
        if (log === undefined) return results;
        if (log.highWatermark !== result.highWatermark) moved = true;
        keys.add(log.label);
      }
      if (bytes >= minBytes) return results;
      // Data arrived while we read; the waiters would not hear of it: read again.
      if (moved) {
        results = await this.#readAll(params, partitions, maxBytes);
        continue;
      }
      // From here to the wait nothing is awaited, so no append can slip in unseen.
      const waiting = this.#purgatory.wait([...keys], bytes, minBytes, remaining);
      if (waiting === null) return results;
      await waiting;
      return this.#readAll(params, partitions, maxBytes);
    }
  }

  /** Kafka's limits: each partition gets min(partitionMaxBytes, what is left); the first batch found always comes whole. */
  async #readAll(
    params: FetchParams,
    partitions: readonly FetchPartition[],
    maxBytes: number,
  ): Promise<FetchPartitionResult[]> {
    const results: FetchPartitionResult[] = [];
    let limit = maxBytes;
    let minOneBatch = true;
    for (const p of partitions) {
      const result = await this.#readOne(params, p, Math.min(p.partitionMaxBytes, limit), minOneBatch);
      if (result.records.length > 0) {
        minOneBatch = false;
        limit = Math.max(0, limit - result.records.length);
      }
      results.push(result);
    }
    return results;
  }

  async #readOne(
    params: FetchParams,
    p: FetchPartition,
    maxBytes: number,
    minOneBatch: boolean,
  ): Promise<FetchPartitionResult> {
    try {
      if (p.topic === null) throw new UnknownTopicIdError(`Unknown topic id "${p.topicId}"`);
      const partition = this.partition(p.topic, p.partition);
      if (params.replicaId >= 0) {
        throw new NotLeaderOrFollowerError(
          `Broker ${params.replicaId} is not a replica of "${partition.label}": this node has no followers`,
        );
      }
      partition.checkLeaderEpoch(p.currentLeaderEpoch);
      const log = partition.log;
      const readCommitted = params.isolationLevel === 'read_committed';
      // Taken before the read: the last stable offset only grows, so cutting at it is never too late.
      const lastStableOffset = log.lastStableOffset;
      if (p.lastFetchedEpoch >= 0) {
        const end = partition.endOffsetForEpoch(p.lastFetchedEpoch);
        if (end.endOffset < p.fetchOffset || end.leaderEpoch < p.lastFetchedEpoch) {
          const hw = log.highWatermark;
          return {
            error: null,
            highWatermark: hw,
            lastStableOffset,
            logStartOffset: log.logStartOffset,
            records: EMPTY,
            divergingEpoch: end,
            abortedTransactions: readCommitted ? [] : null,
          };
        }
      }
      // read_committed reads below the last stable offset: nothing of a transaction still
      // open, and the aborted transactions the records overlap, for the consumer to skip.
      const blocked = readCommitted && p.fetchOffset >= lastStableOffset && p.fetchOffset <= log.logEndOffset;
      const read = await log.read(p.fetchOffset, {
        maxBytes: blocked ? 0 : maxBytes,
        isolation: 'high-watermark',
        minOneBatch: !blocked && minOneBatch,
        pool: this.readBuffers,
      });
      const records = readCommitted ? batchesBelow(read.records, lastStableOffset) : read.records;
      if (params.apiVersion < 10 && hasZstdBatch(records)) {
        throw new UnsupportedCompressionTypeError(
          `Cannot fetch zstd-compressed batches of "${partition.label}" with Fetch v${params.apiVersion}: v10 or later is needed`,
        );
      }
      return {
        error: null,
        highWatermark: read.highWatermark,
        lastStableOffset,
        logStartOffset: read.logStartOffset,
        records,
        divergingEpoch: null,
        abortedTransactions: readCommitted ? abortedIn(log, p.fetchOffset, records) : null,
      };
    } catch (err) {
      return {
        error: err,
        highWatermark: -1n,
        lastStableOffset: -1n,
        logStartOffset: -1n,
        records: EMPTY,
        divergingEpoch: null,
        abortedTransactions: null,
      };
    }
  }

  // ---------------------------------------------------------------- offsets

  /** ListOffsets v1+ for one partition. Null answers (no such offset) are (-1, -1, -1), as Kafka's. */
  async listOffset(topic: string, partitionIndex: number, query: ListOffsetQuery): Promise<ListOffsetResult> {
    const partition = this.partition(topic, partitionIndex);
    partition.checkLeaderEpoch(query.currentLeaderEpoch);
    const log = partition.log;
    const { timestamp } = query;
    if (timestamp === EARLIEST_TIMESTAMP || timestamp === EARLIEST_LOCAL_TIMESTAMP) {
      return { timestamp: -1n, offset: log.logStartOffset, leaderEpoch: partition.leaderEpoch };
    }
    // Consumers see up to the high watermark (read_committed: the last stable offset);
    // tools and replicas up to the log end.
    const consumer = query.replicaId === CONSUMER_REPLICA_ID;
    const readCommitted = consumer && query.isolationLevel === 'read_committed';
    if (timestamp === LATEST_TIMESTAMP) {
      const offset = readCommitted ? log.lastStableOffset : consumer ? log.highWatermark : log.logEndOffset;
      return { timestamp: -1n, offset, leaderEpoch: partition.leaderEpoch };
    }
    if (timestamp === LATEST_TIERED_TIMESTAMP) return NOT_FOUND;
    // As Kafka: a read_committed lookup by time finds nothing at or past the last stable offset.
    const lastStableOffset = log.lastStableOffset;
    const visible = (r: ListOffsetResult): ListOffsetResult =>
      readCommitted && r.offset >= lastStableOffset ? NOT_FOUND : r;
    if (timestamp === MAX_TIMESTAMP) {
      const found = await log.offsetForTimestamp(MAX_TIMESTAMP);
      if (found === null) return NOT_FOUND;
      return visible(await this.#refine(log, found, (ts) => ts === found.timestamp));
    }
    if (timestamp < 0n) return NOT_FOUND;
    const found = await log.offsetForTimestamp(timestamp);
    if (found === null) return NOT_FOUND;
    return visible(await this.#refine(log, found, (ts) => ts >= timestamp));
  }

  /**
   * Storage finds the batch by its header; the answer Kafka gives is a record: the first one
   * in that batch (at or after the offset storage found) whose timestamp matches. One batch
   * is read and decoded per lookup.
   */
  async #refine(log: Log, found: TimestampOffset, matches: (timestamp: bigint) => boolean): Promise<ListOffsetResult> {
    const fallback = { timestamp: found.timestamp, offset: found.offset, leaderEpoch: found.leaderEpoch };
    try {
      const { records } = await log.read(found.offset, { maxBytes: 1, minOneBatch: true });
      if (records.length < LOG_OVERHEAD) return fallback;
      const size = records.readInt32BE(BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
      const batch = await decodeRecordBatch(records.subarray(0, size), { verifyCrc: false });
      for (const record of batch.records) {
        const offset = recordOffset(batch, record);
        if (offset < found.offset) continue;
        const ts = recordTimestamp(batch, record);
        if (matches(ts)) return { timestamp: ts, offset, leaderEpoch: found.leaderEpoch };
      }
    } catch {
      // The header answer stands if the batch went away (retention) or cannot be decoded.
    }
    return fallback;
  }

  /**
   * ListOffsets v0: up to `maxNumOffsets` offsets, newest first, of segment starts whose
   * files were last modified at or before `timestamp` (-1: from the log end, -2: the log
   * start only), as Kafka's legacyFetchOffsetsBefore. Consumers never see offsets above the
   * high watermark.
   */
  async legacyOffsetsBefore(
    topic: string,
    partitionIndex: number,
    timestamp: bigint,
    maxNumOffsets: number,
    replicaId: number,
  ): Promise<bigint[]> {
    const log = this.partition(topic, partitionIndex).log;
    const logStartOffset = log.logStartOffset;
    const segments = log.segments;
    const points: Array<{ offset: bigint; time: number }> = [];
    for (const segment of segments) {
      const time = await segment.lastModifiedMs();
      points.push({ offset: maxOffset(segment.baseOffset, logStartOffset), time });
    }
    if (segments[segments.length - 1]!.size > 0) points.push({ offset: log.logEndOffset, time: this.#clock() });
    let start: number;
    if (timestamp === LATEST_TIMESTAMP) start = points.length - 1;
    else if (timestamp === EARLIEST_TIMESTAMP) start = 0;
    else {
      start = points.length - 1;
      while (start >= 0 && points[start]!.time > Number(timestamp)) start--;
    }
    const offsets: bigint[] = [];
    for (let i = start; i >= 0 && offsets.length < maxNumOffsets; i--) offsets.push(points[i]!.offset);
    offsets.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    if (replicaId !== CONSUMER_REPLICA_ID) return offsets;
    const hw = log.highWatermark;
    if (!offsets.some((o) => o > hw)) return offsets;
    return [hw, ...offsets.filter((o) => o <= hw)];
  }

  /** OffsetForLeaderEpoch for one partition. */
  offsetForLeaderEpoch(
    topic: string,
    partitionIndex: number,
    leaderEpoch: number,
    currentLeaderEpoch: number,
  ): EpochEndOffset {
    const partition = this.partition(topic, partitionIndex);
    partition.checkLeaderEpoch(currentLeaderEpoch);
    return partition.endOffsetForEpoch(leaderEpoch);
  }

  /** Releases every waiting fetch (they answer with what they have); called when the broker closes. */
  shutdown(): void {
    this.#purgatory.shutdown();
  }
}

/** Math.max for offsets (bigint). */
function maxOffset(a: bigint, b: bigint): bigint {
  if (a > b) return a;
  return b;
}

/** The leading whole batches of a fetched `records` buffer that start below `offset` (the last stable offset). */
function batchesBelow(records: Buffer, offset: bigint): Buffer {
  let pos = 0;
  while (pos + LOG_OVERHEAD <= records.length) {
    if (records.readBigInt64BE(pos + BatchHeaderOffset.BASE_OFFSET) >= offset) break;
    pos += records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
  }
  return pos >= records.length ? records : records.subarray(0, pos);
}

/** The aborted transactions a read_committed consumer must know of to skip their records in `records`. */
function abortedIn(log: Log, fetchOffset: bigint, records: Buffer): AbortedTransaction[] {
  if (records.length === 0) return [];
  let pos = 0;
  let end = fetchOffset;
  while (pos + LOG_OVERHEAD <= records.length) {
    end = records.readBigInt64BE(pos) + BigInt(records.readInt32BE(pos + BatchHeaderOffset.LAST_OFFSET_DELTA)) + 1n;
    pos += records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
  }
  return log
    .abortedTransactions(fetchOffset, end)
    .map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset }));
}

/** Whether any batch in a fetched `records` buffer is zstd-compressed (headers only). */
function hasZstdBatch(records: Buffer): boolean {
  let pos = 0;
  while (pos + BatchHeaderOffset.ATTRIBUTES + 2 <= records.length) {
    const codec = records.readInt16BE(pos + BatchHeaderOffset.ATTRIBUTES) & COMPRESSION_CODEC_MASK;
    if (codec === CompressionCodec.Zstd) return true;
    pos += records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
  }
  return false;
}
