import { BatchHeaderOffset, setMaxTimestamp, TimestampType } from '../protocol/records/batch-header.ts';
import {
  batchBaseOffsetAt,
  batchSizeAt,
  lastOffsetDeltaAt,
  maxTimestampAt,
  type RecordsSummary,
  summarizeRecords,
} from './batches.ts';
import { completeInterruptedSwap } from './cleaner/swap-recovery.ts';
import { DEFAULT_LOG_CONFIG, type LogConfig, syncsEveryAppend } from './config.ts';
import {
  CorruptRecordError,
  KafkaStorageError,
  LogClosedError,
  LogDirOfflineError,
  OffsetOutOfRangeError,
  StorageError,
  topicPartitionLabel,
  UnexpectedAppendOffsetError,
} from './errors.ts';
import { nodeFs, type StorageFs, writeFileAtomic } from './fs.ts';
import { LogSegment, type SegmentBatch, SegmentWriteError, type StoredBatch } from './log-segment.ts';
import {
  CLEANED_FILE_SUFFIX,
  DELETED_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  LOG_START_OFFSET_FILE,
  PRODUCER_SNAPSHOT_FILE_SUFFIX,
  parseSegmentFileName,
  SWAP_FILE_SUFFIX,
  segmentFilePath,
  TEMP_FILE_SUFFIX,
  TIME_INDEX_FILE_SUFFIX,
  TXN_INDEX_FILE_SUFFIX,
} from './names.ts';
import {
  type AppendOrigin,
  ProducerSnapshots,
  type ProducerStateAppend,
  ProducerStateManager,
  replayProducerState,
} from './producer-state.ts';
import type { ReadBufferPool } from './read-buffer-pool.ts';
import { type AbortedTxn, TxnIndex } from './txn-index.ts';

const INT32_MAX = 0x7fffffff;
/** setTimeout cannot wait longer; a longer flush.ms means "never flush on a timer". */
const MAX_TIMER_MS = 0x7fffffff;
/** Bytes read per step when producer state is rebuilt from the log. */
const REPLAY_READ_BYTES = 1 << 20;
/** ListOffsets special timestamps. */
export const LATEST_TIMESTAMP = -1n;
export const EARLIEST_TIMESTAMP = -2n;
export const MAX_TIMESTAMP = -3n;

export interface LogOptions {
  /** The partition directory, `<dataDir>/<topic>-<partition>`. */
  dir: string;
  topic: string;
  partition: number;
  config?: LogConfig;
  fs?: StorageFs;
  /**
   * True when the data directory was shut down cleanly (LogManager knows from its marker
   * file). Then the last segment's indexes are trusted; otherwise the last segment is
   * recovered: every batch CRC-checked, a torn tail cut off, indexes rebuilt.
   */
  hadCleanShutdown?: boolean;
  /** Wall clock in ms; tests inject one to drive segment.ms and retention.ms. */
  clock?: () => number;
  /** Called once when a failed fsync takes the log offline. */
  onOffline?: (log: Log, error: LogDirOfflineError) => void;
  /** Called after a truncation moved the log end down to `endOffset` (the cleaner resets its checkpoint). */
  onTruncate?: (log: Log, endOffset: bigint) => void;
}

export interface AppendOptions {
  /** Stamped into every batch's partitionLeaderEpoch. Default 0. */
  leaderEpoch?: number;
  /** Which producer-state checks apply (producer-state.ts): 'client' (the default) or 'coordinator'. */
  origin?: AppendOrigin;
}

/** What a produce response needs about a successful append. */
export interface AppendInfo {
  baseOffset: bigint;
  lastOffset: bigint;
  /** The broker time stamped into the batches for LogAppendTime topics, else -1. */
  logAppendTime: bigint;
  logStartOffset: bigint;
  batchCount: number;
}

export type FetchIsolation = 'high-watermark' | 'log-end';

export interface ReadOptions {
  /** Byte budget; default 1 MiB. */
  maxBytes?: number;
  /** Read up to the high watermark (consumers, default) or the log end (replicas). */
  isolation?: FetchIsolation;
  /** Return the first batch whole even when it is larger than maxBytes. Default true. */
  minOneBatch?: boolean;
  /**
   * Read large record sets into this pool's buffers. The caller then owns the buffer behind
   * `records` and must release it to the pool once nothing reads the records any more.
   */
  pool?: ReadBufferPool;
}

export interface ReadResult {
  /** Whole record batches, starting with the one holding the requested offset; may be empty. */
  records: Buffer;
  highWatermark: bigint;
  logStartOffset: bigint;
  logEndOffset: bigint;
}

/** Answer to ListOffsets: an offset, the timestamp it was found by, and the leader epoch of its batch. */
export interface TimestampOffset {
  offset: bigint;
  /** -1 for the earliest/latest lookups. */
  timestamp: bigint;
  /** partitionLeaderEpoch of the batch, or -1 when no batch was involved. */
  leaderEpoch: number;
}

interface PendingAppend {
  records: Buffer;
  summary: RecordsSummary;
  asLeader: boolean;
  leaderEpoch: number;
  origin: AppendOrigin;
  resolve: (info: AppendInfo) => void;
  reject: (error: unknown) => void;
}

/** Where the high watermark is: an offset and the byte position in its segment. */
interface OffsetPosition {
  offset: bigint;
  segment: LogSegment;
  position: number;
}

/**
 * The log of one partition: an ordered list of segments, the last one active.
 *
 * Offsets: logStartOffset (first readable offset), highWatermark (end of acknowledged
 * data: what consumers may read), logEndOffset (end of written data). On one node with the
 * default config they are equal between appends.
 *
 * Concurrency: every operation that changes the log (appends, roll, retention,
 * DeleteRecords, truncation, flush, close) runs in one serial queue, so each one sees the
 * state the previous one left and nothing changes under it across its awaits. Reads and
 * searches are not queued: they snapshot the segment list and the high watermark
 * synchronously, then only read bytes below that position, which appends never rewrite.
 *
 * Durability and faults (the contract the produce path relies on):
 * - With the default `flush.messages=1`, an append resolves only after its bytes were
 *   fdatasync'ed. Appends that arrive while a group is being written and synced are queued
 *   and then written together with one writev and one fdatasync (group commit). The write
 *   is synchronous (LogSegment.append), so the fdatasync is a group's only threadpool
 *   round trip, and an append to a page-cache topic (below) makes none.
 * - With `flush.messages` > 1 (Kafka's page-cache mode, opt-in per topic) an append
 *   resolves after the write; fdatasync happens every `flush.messages` offsets and/or on a
 *   `flush.ms` timer, and always when a segment is rolled or the log is closed.
 * - A failed or short write (ENOSPC, EIO on write) rejects the appends of the group with
 *   KafkaStorageError. The segment file is cut back to its last acknowledged byte and the
 *   log stays online: a later append may succeed once space is freed. If that cut fails
 *   too, the log goes offline as below.
 * - A failed fdatasync takes the log offline for good (LogDirOfflineError on every later
 *   operation, onOffline callback so the LogManager can take the whole directory down).
 *   After a failed fsync the kernel may have dropped the dirty pages and cleared the error,
 *   so neither retrying nor truncating can tell what reached the disk; Kafka, PostgreSQL
 *   and others stop the same way. Acknowledged data is unaffected (it was synced before it
 *   was acknowledged); the rejected appends may or may not be found after restart, whose
 *   recovery keeps every whole, CRC-valid batch. A producer sees an error and retries,
 *   which is at-least-once, as in Kafka (idempotent producers deduplicate).
 * - Every segment but the last was fsynced, with its indexes, before the next one was
 *   created, so crash recovery only ever needs to scan the last segment.
 */
export class Log {
  readonly dir: string;
  readonly topic: string;
  readonly partition: number;
  readonly #fs: StorageFs;
  readonly #clock: () => number;
  readonly #onOffline: ((log: Log, error: LogDirOfflineError) => void) | undefined;
  readonly #onTruncate: ((log: Log, endOffset: bigint) => void) | undefined;
  /** `orders-0`, and the operation names of the hot paths' errors: built once, not per call. */
  readonly #label: string;
  readonly #appendOperation: string;
  readonly #readOperation: string;
  #config: LogConfig;
  #segments: LogSegment[];
  #logStartOffset: bigint;
  /** Offset after the last written batch. */
  #logEndOffset: bigint;
  #highWatermark: OffsetPosition;
  /** Offset below which everything is fdatasync'ed (Kafka's recovery point). */
  #flushedOffset: bigint;
  #queueTail: Promise<unknown> = Promise.resolve();
  /** The append group that has not started yet; new appends join it. */
  #openGroup: PendingAppend[] | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #offline: LogDirOfflineError | null = null;
  #closed = false;
  /** Bytes cut off the tail by recovery when the log was opened. */
  readonly recoveredTruncatedBytes: number;
  // Idempotent and transactional producers (producer-state.ts, txn-index.ts).
  /** Producers' epochs, last sequences and open transactions (Kafka's ProducerStateManager). */
  readonly producerState: ProducerStateManager;
  readonly #txnIndex: TxnIndex;
  #snapshots: ProducerSnapshots;
  /** Producer-state changes of the appends of the group being written; applied when their bytes are. */
  #producerAppend: ProducerStateAppend | null = null;

  private constructor(
    opts: LogOptions,
    fsys: StorageFs,
    segments: LogSegment[],
    logStartOffset: bigint,
    truncatedBytes: number,
  ) {
    this.dir = opts.dir;
    this.topic = opts.topic;
    this.partition = opts.partition;
    this.#fs = fsys;
    this.#clock = opts.clock ?? Date.now;
    this.#onOffline = opts.onOffline;
    this.#onTruncate = opts.onTruncate;
    this.#label = topicPartitionLabel(opts.topic, opts.partition);
    this.#appendOperation = `append to "${this.#label}"`;
    this.#readOperation = `read "${this.#label}"`;
    this.#config = opts.config ?? DEFAULT_LOG_CONFIG;
    this.#segments = segments;
    const active = segments[segments.length - 1]!;
    this.#logEndOffset = active.endOffset;
    this.#logStartOffset = logStartOffset > this.#logEndOffset ? this.#logEndOffset : logStartOffset;
    this.#highWatermark = { offset: this.#logEndOffset, segment: active, position: active.size };
    this.#flushedOffset = this.#logEndOffset;
    this.recoveredTruncatedBytes = truncatedBytes;
    this.producerState = new ProducerStateManager(opts.topic, opts.partition);
    this.#txnIndex = new TxnIndex(fsys, opts.dir);
    this.#snapshots = new ProducerSnapshots(fsys, opts.dir, []);
  }

  /**
   * Opens (or creates) the log in `dir`. A cleaner swap that a crash interrupted is
   * finished or undone first (swap-recovery.ts). Leftovers of interrupted deletions and atomic
   * writes are removed, index files without a log file are dropped, and the last segment
   * is opened for appending (recovered unless `hadCleanShutdown`). Sealed segments are
   * only stat'ed.
   */
  static async open(opts: LogOptions): Promise<Log> {
    const fsys = opts.fs ?? nodeFs;
    const config = opts.config ?? DEFAULT_LOG_CONFIG;
    const clock = opts.clock ?? Date.now;
    const label = topicPartitionLabel(opts.topic, opts.partition);
    try {
      const names = await completeInterruptedSwap(fsys, opts.dir, await readdirOrCreate(fsys, opts.dir));
      const logBases: bigint[] = [];
      const others: { name: string; base: bigint }[] = [];
      const leftovers: string[] = [];
      for (const name of names) {
        if (name.endsWith(DELETED_FILE_SUFFIX) || name.endsWith(TEMP_FILE_SUFFIX)) {
          leftovers.push(name);
          continue;
        }
        const parsed = parseSegmentFileName(name);
        if (parsed === null) continue;
        if (parsed.suffix === LOG_FILE_SUFFIX) logBases.push(parsed.baseOffset);
        // Snapshots are named by any offset, and a txn index outlives a segment the cleaner merged away.
        else if (parsed.suffix !== PRODUCER_SNAPSHOT_FILE_SUFFIX && parsed.suffix !== TXN_INDEX_FILE_SUFFIX) {
          others.push({ name, base: parsed.baseOffset });
        }
      }
      logBases.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const bases = new Set(logBases);
      for (const o of others) if (!bases.has(o.base)) leftovers.push(o.name);
      await Promise.all(leftovers.map((name) => fsys.unlink(`${opts.dir}/${name}`)));

      const checkpoint = names.includes(LOG_START_OFFSET_FILE) ? await readLogStartOffset(fsys, opts.dir) : null;
      const interval = config['index.interval.bytes'];
      const segments: LogSegment[] = [];
      let truncatedBytes = 0;
      if (logBases.length === 0) {
        segments.push(await LogSegment.create(fsys, opts.dir, checkpoint ?? 0n, interval));
        await fsys.syncDir(opts.dir);
      } else {
        const sealedBases = logBases.slice(0, -1);
        const sizes = await Promise.all(
          sealedBases.map(
            async (base) => (await fsys.stat(segmentFilePath(opts.dir, base, LOG_FILE_SUFFIX)))?.size ?? 0,
          ),
        );
        for (let i = 0; i < sealedBases.length; i++) {
          segments.push(LogSegment.sealed(fsys, opts.dir, sealedBases[i]!, sizes[i]!, logBases[i + 1]!, interval));
        }
        const last = await LogSegment.openLast(
          fsys,
          opts.dir,
          logBases[logBases.length - 1]!,
          interval,
          opts.hadCleanShutdown !== true,
          clock(),
        );
        segments.push(last.segment);
        truncatedBytes = last.truncatedBytes;
        // Whatever recovery found may still sit only in the page cache (a process crash
        // does not lose it, a power cut would). Sync it before anything depends on it.
        if (opts.hadCleanShutdown !== true) await last.segment.sync();
      }
      const first = segments[0]!.baseOffset;
      const logStartOffset = checkpoint !== null && checkpoint > first ? checkpoint : first;
      const log = new Log(opts, fsys, segments, logStartOffset, truncatedBytes);
      try {
        await log.#loadProducerState(names);
      } catch (err) {
        await Promise.all(segments.map((s) => s.close().catch(() => {})));
        throw err;
      }
      return log;
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw KafkaStorageError.fromIo(`open log "${label}"`, err);
    }
  }

  get label(): string {
    return this.#label;
  }

  get logStartOffset(): bigint {
    return this.#logStartOffset;
  }

  get logEndOffset(): bigint {
    return this.#logEndOffset;
  }

  get highWatermark(): bigint {
    return this.#highWatermark.offset;
  }

  /** Total bytes of all segments. */
  get size(): number {
    let total = 0;
    for (const s of this.#segments) total += s.size;
    return total;
  }

  get numberOfSegments(): number {
    return this.#segments.length;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): bigint[] {
    return this.#segments.map((s) => s.baseOffset);
  }

  /** The segments, oldest first (a copy of the list; for tests and tools). */
  get segments(): readonly LogSegment[] {
    return [...this.#segments];
  }

  get config(): LogConfig {
    return this.#config;
  }

  get isOffline(): boolean {
    return this.#offline !== null;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Applies a changed topic config. Takes effect for the next append, roll and retention run. */
  updateConfig(config: LogConfig): void {
    this.#config = config;
    this.#segments[this.#segments.length - 1]!.indexIntervalBytes = config['index.interval.bytes'];
    if (syncsEveryAppend(config)) this.#cancelFlushTimer();
  }

  /**
   * Takes the log offline: every later operation fails with LogDirOfflineError. Used by
   * the log itself after a failed fsync, and by the LogManager when another log of the
   * same directory failed.
   */
  markOffline(cause?: unknown): void {
    if (this.#offline !== null) return;
    this.#offline = new LogDirOfflineError(`use log "${this.label}"`, this.dir, cause);
    this.#cancelFlushTimer();
    this.#onOffline?.(this, this.#offline);
  }

  #checkUsable(operation: string): void {
    if (this.#offline !== null) throw new LogDirOfflineError(operation, this.dir, this.#offline.cause);
    if (this.#closed) throw new LogClosedError(operation, this.topic, this.partition);
  }

  /** Runs `task` after everything queued before it; see the class comment. */
  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queueTail.then(task);
    this.#queueTail = run.catch(() => {});
    return run;
  }

  // ---------------------------------------------------------------- appends

  /**
   * Appends record batches produced to this leader: assigns offsets (rewriting each
   * batch's baseOffset in place), stamps the leader epoch and, for LogAppendTime topics,
   * the broker time. `records` is one or more whole magic-2 batches already validated by
   * the produce path (CRC, sequence numbers); only framing and `max.message.bytes` are
   * checked here, and reads trust those CRCs (they check only bytes this process did not
   * append). The buffer is written as it is, without copying: the caller must not
   * reuse it until the promise settles.
   */
  appendAsLeader(records: Buffer, options: AppendOptions = {}): Promise<AppendInfo> {
    return this.#append(records, true, options.leaderEpoch ?? 0, options.origin ?? 'client');
  }

  /**
   * Appends batches that already carry their offsets (replication): they must start at
   * or after the log end offset and increase. The batches are stored unchanged.
   */
  appendAsFollower(records: Buffer): Promise<AppendInfo> {
    return this.#append(records, false, 0, 'replication');
  }

  #append(records: Buffer, asLeader: boolean, leaderEpoch: number, origin: AppendOrigin): Promise<AppendInfo> {
    const operation = this.#appendOperation;
    try {
      this.#checkUsable(operation);
      const summary = summarizeRecords(records, this.#config['max.message.bytes'], operation, !asLeader);
      return new Promise<AppendInfo>((resolve, reject) => {
        let group = this.#openGroup;
        if (group === null) {
          const newGroup: PendingAppend[] = [];
          this.#openGroup = group = newGroup;
          void this.#enqueue(() => {
            // From here on, appends go to a new group that waits for this one.
            this.#openGroup = null;
            return this.#commitGroup(newGroup);
          });
        }
        group.push({ records, summary, asLeader, leaderEpoch, origin, resolve, reject });
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Writes a group of appends and acknowledges them: offsets are assigned in order, the
   * bytes go out in one writev per segment, then one fdatasync covers them all.
   * Assumes (serial queue): no other change to segments, offsets or files happens until
   * this returns; reads may run and see only bytes below the high watermark.
   */
  async #commitGroup(items: PendingAppend[]): Promise<void> {
    const operation = this.#appendOperation;
    let next = 0;
    let unacked: { item: PendingAppend; info: AppendInfo }[] = [];
    try {
      this.#checkUsable(operation);
      const nowMs = this.#clock();
      const logAppendTime = this.#config['message.timestamp.type'] === 'LogAppendTime' ? BigInt(nowMs) : -1n;
      let segment = this.#segments[this.#segments.length - 1]!;
      let offset = this.#logEndOffset;
      let buffers: Buffer[] = [];
      let bytes = 0;
      let batches: SegmentBatch[] = [];
      for (; next < items.length; next++) {
        const item = items[next]!;
        const { summary, records } = item;
        if (!item.asLeader && summary.firstOffset < offset) {
          item.reject(new UnexpectedAppendOffsetError(operation, summary.firstOffset, offset));
          continue;
        }
        const firstOffset = item.asLeader ? offset : summary.firstOffset;
        const lastOffset = item.asLeader ? offset + summary.offsetCount - 1n : summary.lastOffset;
        if (this.#shouldRoll(segment, bytes, summary.sizeInBytes, firstOffset, lastOffset, nowMs)) {
          if (buffers.length > 0) {
            await this.#writeAndAck(segment, buffers, bytes, batches, offset, nowMs, unacked);
            unacked = [];
            buffers = [];
            batches = [];
            bytes = 0;
          }
          segment = await this.#roll(firstOffset);
        }
        const producerCheck = this.#checkProducers(item, firstOffset);
        if (producerCheck === 'rejected') continue;
        if (producerCheck !== null) {
          // A retried batch: answered with the offsets it got the first time, not written again.
          unacked.push({ item, info: producerCheck });
          continue;
        }
        let pos = 0;
        while (pos < records.length) {
          const size = batchSizeAt(records, pos);
          if (item.asLeader) {
            // baseOffset and partitionLeaderEpoch are outside the CRC: no rehash needed.
            records.writeBigInt64BE(offset, pos + BatchHeaderOffset.BASE_OFFSET);
            records.writeInt32BE(item.leaderEpoch, pos + BatchHeaderOffset.PARTITION_LEADER_EPOCH);
            if (logAppendTime >= 0n) setMaxTimestamp(records, pos, TimestampType.LogAppendTime, logAppendTime);
          } else {
            offset = batchBaseOffsetAt(records, pos);
          }
          batches.push({
            relativeOffset: Number(offset - segment.baseOffset),
            maxTimestamp: maxTimestampAt(records, pos),
            size,
          });
          offset += BigInt(lastOffsetDeltaAt(records, pos)) + 1n;
          pos += size;
        }
        buffers.push(records);
        bytes += records.length;
        unacked.push({
          item,
          info: {
            baseOffset: firstOffset,
            lastOffset,
            logAppendTime,
            logStartOffset: this.#logStartOffset,
            batchCount: summary.batchCount,
          },
        });
      }
      if (buffers.length > 0) await this.#writeAndAck(segment, buffers, bytes, batches, offset, nowMs, unacked);
      else for (const { item, info } of unacked) item.resolve(info);
    } catch (err) {
      this.#producerAppend?.reset();
      for (const { item } of unacked) item.reject(err);
      for (let i = next; i < items.length; i++) items[i]!.reject(err);
    }
  }

  /**
   * The producer-state checks of one append (sequences, epochs, transactions): null to
   * write it, the AppendInfo of the earlier batch it duplicates, or 'rejected' once the
   * item was rejected. Changes are kept in #producerAppend until #writeAndAck applies them.
   */
  #checkProducers(item: PendingAppend, firstOffset: bigint): AppendInfo | 'rejected' | null {
    this.#producerAppend ??= this.producerState.begin();
    try {
      const duplicate = this.#producerAppend.analyze(item.records, item.asLeader ? firstOffset : null, item.origin);
      if (duplicate === null) return null;
      const logAppendTime = this.#config['message.timestamp.type'] === 'LogAppendTime';
      return {
        baseOffset: duplicate.firstOffset,
        lastOffset: duplicate.lastOffset,
        logAppendTime: logAppendTime ? BigInt(duplicate.timestamp) : -1n,
        logStartOffset: this.#logStartOffset,
        batchCount: item.summary.batchCount,
      };
    } catch (err) {
      item.reject(err);
      return 'rejected';
    }
  }

  /**
   * Kafka's roll rule: the active segment is full (`segment.bytes`), old enough
   * (`segment.ms`), its indexes are full (`segment.index.bytes`), or the new batches'
   * offsets would not fit its 32-bit relative offsets. Never rolls an empty segment for
   * size or age.
   */
  #shouldRoll(
    segment: LogSegment,
    pendingBytes: number,
    itemBytes: number,
    firstOffset: bigint,
    lastOffset: bigint,
    nowMs: number,
  ): boolean {
    const config = this.#config;
    const size = segment.size + pendingBytes;
    const maxIndexEntries = Math.floor(config['segment.index.bytes'] / 8);
    if (size > 0 && size + itemBytes > config['segment.bytes']) return true;
    // Kafka's maxSegmentMs: a compacted log rolls by max.compaction.lag.ms too, since the
    // cleaner never touches the active segment.
    const segmentMs = config['cleanup.policy'].includes('compact')
      ? Math.min(config['segment.ms'], config['max.compaction.lag.ms'])
      : config['segment.ms'];
    if (size > 0 && segment.rollAgeMs(nowMs) > segmentMs - config['segment.jitter.ms']) return true;
    if (segment.offsetIndexEntries >= maxIndexEntries || segment.timeIndexEntries >= maxIndexEntries) return true;
    return firstOffset < segment.baseOffset || lastOffset - segment.baseOffset > BigInt(INT32_MAX);
  }

  /**
   * Writes one segment's share of a group, makes it durable as the config asks, advances
   * the offsets and resolves the appends. On failure, classifies it (see the class
   * comment) and throws; the caller rejects whatever is still unacknowledged.
   */
  async #writeAndAck(
    segment: LogSegment,
    buffers: Buffer[],
    bytes: number,
    batches: SegmentBatch[],
    endOffset: bigint,
    nowMs: number,
    unacked: { item: PendingAppend; info: AppendInfo }[],
  ): Promise<void> {
    const operation = this.#appendOperation;
    try {
      await segment.append(buffers, bytes, batches, endOffset, nowMs);
    } catch (err) {
      if (err instanceof SegmentWriteError && err.rolledBack) {
        throw new KafkaStorageError(operation, `write to "${err.path}" failed (${err.errno})`, {
          path: err.path,
          errno: err.errno,
          cause: err,
        });
      }
      this.markOffline(err);
      throw new LogDirOfflineError(operation, this.dir, err);
    }
    this.#logEndOffset = endOffset;
    const config = this.#config;
    if (syncsEveryAppend(config) || endOffset - this.#flushedOffset >= BigInt(config['flush.messages'])) {
      await this.#syncActive(operation, segment, endOffset);
    } else {
      this.#scheduleFlush();
    }
    // Producer state moves with the high watermark, so the last stable offset never lags the data.
    if (this.#producerAppend !== null && !this.#producerAppend.isEmpty) {
      this.producerState.commit(this.#producerAppend, (txn) => this.#txnIndex.add(segment.baseOffset, txn));
    }
    this.#highWatermark = { offset: endOffset, segment, position: segment.size };
    for (const { item, info } of unacked) {
      info.logStartOffset = this.#logStartOffset;
      item.resolve(info);
    }
  }

  /** fdatasync of `segment`; a failure takes the log offline (see the class comment). */
  async #syncActive(operation: string, segment: LogSegment, endOffset: bigint): Promise<void> {
    try {
      await segment.sync();
    } catch (err) {
      this.markOffline(err);
      throw new LogDirOfflineError(operation, this.dir, err);
    }
    if (endOffset > this.#flushedOffset) this.#flushedOffset = endOffset;
  }

  #scheduleFlush(): void {
    const ms = this.#config['flush.ms'];
    if (this.#flushTimer !== null || ms >= MAX_TIMER_MS) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null;
      this.flush().catch(() => {});
    }, ms);
    this.#flushTimer.unref();
  }

  #cancelFlushTimer(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
  }

  /** fdatasync of everything written so far (page-cache mode; a no-op cost otherwise). */
  flush(): Promise<void> {
    return this.#enqueue(async () => {
      const operation = `flush "${this.label}"`;
      this.#checkUsable(operation);
      if (this.#flushedOffset >= this.#logEndOffset) return;
      await this.#syncActive(operation, this.#segments[this.#segments.length - 1]!, this.#logEndOffset);
    });
  }

  // ---------------------------------------------------------------- rolling

  /** Starts a new segment at the log end offset (no-op when the active segment is empty). */
  roll(): Promise<void> {
    return this.#enqueue(async () => {
      this.#checkUsable(`roll "${this.label}"`);
      await this.#roll(this.#logEndOffset);
    });
  }

  /**
   * Seals the active segment and creates the next one at `baseOffset`. Order matters for
   * recovery: the old segment's bytes are fsynced and its index files written before the
   * new file exists, and the directory fsync makes both visible. So a new segment on disk
   * implies every older one is complete.
   * Assumes: called from the serial queue.
   */
  async #roll(baseOffset: bigint): Promise<LogSegment> {
    const old = this.#segments[this.#segments.length - 1]!;
    if (old.size === 0 && old.baseOffset === baseOffset) return old;
    const operation = `roll "${this.label}"`;
    await this.#syncActive(operation, old, this.#logEndOffset);
    let segment: LogSegment;
    try {
      if (old.size > 0) await old.writeIndexFiles();
      // The sealed segment's aborted transactions, then the producer state as of the new
      // segment: recovery replays only from there (Kafka's snapshot on roll).
      await this.#txnIndex.writeFile(old.baseOffset);
      await this.#snapshots.write(baseOffset, this.producerState);
      segment = await LogSegment.create(this.#fs, this.dir, baseOffset, this.#config['index.interval.bytes']);
      await this.#fs.syncDir(this.dir);
    } catch (err) {
      // The old segment stays active; its index files on disk are now just stale hints.
      throw KafkaStorageError.fromIo(operation, err);
    }
    if (old.size === 0) {
      // An empty segment at another base offset (a replica append with a gap): replace it.
      this.#segments.pop();
      await old.markForDeletion().catch(() => {});
    } else {
      old.markSealed();
    }
    this.#segments.push(segment);
    if (this.#highWatermark.offset >= baseOffset) {
      this.#highWatermark = { offset: this.#highWatermark.offset, segment, position: 0 };
    }
    return segment;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Whole batches starting with the one holding `offset` (Kafka's Fetch semantics), from
   * one segment, at most `maxBytes` unless the first batch alone is larger. Throws
   * OffsetOutOfRangeError below logStartOffset or above logEndOffset; returns no records
   * at the end (or above the high watermark for consumer reads).
   */
  async read(offset: bigint, options: ReadOptions = {}): Promise<ReadResult> {
    const operation = this.#readOperation;
    this.#checkUsable(operation);
    const maxBytes = options.maxBytes ?? 1 << 20;
    const isolation = options.isolation ?? 'high-watermark';
    const minOneBatch = options.minOneBatch ?? true;
    // Snapshot synchronously: the queue may change offsets and segments while we read.
    const hw = this.#highWatermark;
    const logStartOffset = this.#logStartOffset;
    const logEndOffset = this.#logEndOffset;
    const result = (records: Buffer): ReadResult => ({
      records,
      highWatermark: hw.offset,
      logStartOffset,
      logEndOffset,
    });
    if (offset < logStartOffset || offset > logEndOffset) {
      throw new OffsetOutOfRangeError('read', {
        topic: this.topic,
        partition: this.partition,
        offset,
        logStartOffset,
        logEndOffset,
      });
    }
    const upper = isolation === 'high-watermark' ? hw.offset : logEndOffset;
    if (offset >= upper) return result(EMPTY);
    let segments = this.#segments;
    let i = floorSegment(segments, offset);
    while (i >= 0 && i < segments.length) {
      const segment = segments[i]!;
      const maxPosition = isolation === 'high-watermark' ? positionBelow(segment, hw) : segment.size;
      let records: Buffer | null;
      try {
        records = await segment.read(offset, maxBytes, maxPosition, minOneBatch, options.pool ?? null);
      } catch (err) {
        if (err instanceof StorageError) throw err;
        throw KafkaStorageError.fromIo(operation, err);
      }
      if (records !== null) return result(records);
      // Nothing at or after `offset` in this segment: the next one starts there. The list
      // may have changed during the await, so find the successor again. If a cleaner swap
      // replaced the segment, the one now holding `offset` may start below it.
      segments = this.#segments;
      i = segments.includes(segment)
        ? segments.findIndex((s) => s.baseOffset > segment.baseOffset)
        : Math.max(0, floorSegment(segments, offset));
    }
    return result(EMPTY);
  }

  // ---------------------------------------------------------------- offsets by timestamp

  /**
   * ListOffsets. `timestamp` is a time in ms, or EARLIEST_TIMESTAMP (-2: logStartOffset),
   * LATEST_TIMESTAMP (-1: high watermark), MAX_TIMESTAMP (-3: the batch with the largest
   * timestamp). For a time, the answer is the first batch (at or after logStartOffset,
   * below the high watermark) whose maxTimestamp reaches it: its base offset, clamped to
   * logStartOffset, and its maxTimestamp. Records are not decoded, so for a batch that
   * starts earlier than the first matching record the caller can refine the offset by
   * reading that batch. Null when no batch qualifies (Kafka answers offset -1).
   */
  async offsetForTimestamp(timestamp: bigint): Promise<TimestampOffset | null> {
    this.#checkUsable(`list offsets of "${this.label}"`);
    const hw = this.#highWatermark;
    const logStartOffset = this.#logStartOffset;
    if (timestamp === EARLIEST_TIMESTAMP) return { offset: logStartOffset, timestamp: -1n, leaderEpoch: -1 };
    if (timestamp === LATEST_TIMESTAMP) return { offset: hw.offset, timestamp: -1n, leaderEpoch: -1 };
    const segments = this.#segments;
    if (timestamp === MAX_TIMESTAMP) return this.#maxTimestampOffset(segments, hw, logStartOffset);
    if (timestamp < 0n) return null;
    const target = Number(timestamp);
    for (let i = Math.max(0, floorSegment(segments, logStartOffset)); i < segments.length; i++) {
      const segment = segments[i]!;
      const maxPosition = positionBelow(segment, hw);
      if (maxPosition <= 0) {
        // A sealed segment can be empty once compaction removed all its records.
        if (segment.baseOffset < hw.segment.baseOffset) continue;
        break;
      }
      if ((await segment.largestTimestamp()).timestamp < target) continue;
      const batch = await segment.findByTimestamp(target, logStartOffset, maxPosition);
      if (batch !== null) return toTimestampOffset(batch, logStartOffset);
    }
    return null;
  }

  async #maxTimestampOffset(
    segments: LogSegment[],
    hw: OffsetPosition,
    logStartOffset: bigint,
  ): Promise<TimestampOffset | null> {
    let best: { segment: LogSegment; timestamp: number; offset: bigint } | null = null;
    for (const segment of segments) {
      if (positionBelow(segment, hw) <= 0 || segment.endOffset <= logStartOffset) continue;
      const largest = await segment.largestTimestamp();
      if (best === null || largest.timestamp > best.timestamp) best = { segment, ...largest };
    }
    if (best === null) return null;
    const batch = await best.segment.findBatch(best.offset, positionBelow(best.segment, hw));
    return batch === null ? null : toTimestampOffset(batch, logStartOffset);
  }

  // ---------------------------------------------------------------- retention and DeleteRecords

  /**
   * DeleteRecords: makes `offset` the new logStartOffset (persisted before it takes
   * effect) and deletes the segments entirely below it. `offset` -1 means the high
   * watermark. Returns the new logStartOffset (Kafka's low watermark). Throws
   * OffsetOutOfRangeError above the high watermark.
   */
  deleteRecordsBefore(offset: bigint): Promise<bigint> {
    return this.#enqueue(async () => {
      const operation = `delete records of "${this.label}"`;
      this.#checkUsable(operation);
      const target = offset === -1n ? this.#highWatermark.offset : offset;
      if (target < 0n || target > this.#highWatermark.offset) {
        throw new OffsetOutOfRangeError('delete records of', {
          topic: this.topic,
          partition: this.partition,
          offset,
          logStartOffset: this.#logStartOffset,
          logEndOffset: this.#highWatermark.offset,
        });
      }
      if (target <= this.#logStartOffset) return this.#logStartOffset;
      try {
        await writeFileAtomic(this.#fs, `${this.dir}/${LOG_START_OFFSET_FILE}`, Buffer.from(`${target}\n`));
      } catch (err) {
        throw KafkaStorageError.fromIo(operation, err);
      }
      this.#logStartOffset = target;
      await this.#deleteSegments(this.#countBelowLogStart(), operation);
      return this.#logStartOffset;
    });
  }

  /**
   * One retention pass (the LogManager runs it on a timer): deletes the oldest segments
   * that lie entirely below logStartOffset, and, when `cleanup.policy` includes delete,
   * those older than `retention.ms` (by their largest timestamp) and those beyond
   * `retention.bytes`. Only whole segments go. If every segment is expired, the active
   * one is rolled first so that it can go too. Returns how many segments were deleted.
   */
  deleteOldSegments(): Promise<number> {
    return this.#enqueue(async () => {
      const operation = `apply retention to "${this.label}"`;
      this.#checkUsable(operation);
      const config = this.#config;
      const segments = this.#segments;
      let count = this.#countBelowLogStart();
      if (config['cleanup.policy'].includes('delete')) {
        const retentionMs = config['retention.ms'];
        if (retentionMs >= 0) {
          const cutoff = this.#clock() - retentionMs;
          while (count < segments.length && this.#deletable(count)) {
            const segment = segments[count]!;
            let { timestamp } = await segment.largestTimestamp();
            if (timestamp < 0) timestamp = await segment.lastModifiedMs();
            if (timestamp >= cutoff) break;
            count++;
          }
        }
        const retentionBytes = config['retention.bytes'];
        if (retentionBytes >= 0) {
          let excess = this.size - retentionBytes;
          for (let i = 0; i < count; i++) excess -= segments[i]!.size;
          while (count < segments.length && this.#deletable(count) && excess - segments[count]!.size >= 0) {
            excess -= segments[count]!.size;
            count++;
          }
        }
      }
      return this.#deleteSegments(count, operation);
    });
  }

  /** A segment may go when it is not the empty active one and all its data is below the high watermark. */
  #deletable(i: number): boolean {
    const segment = this.#segments[i]!;
    const isLast = i === this.#segments.length - 1;
    if (isLast && segment.size === 0) return false;
    const end = isLast ? this.#logEndOffset : this.#segments[i + 1]!.baseOffset;
    return end <= this.#highWatermark.offset;
  }

  /** How many of the oldest segments end at or below logStartOffset. */
  #countBelowLogStart(): number {
    let count = 0;
    while (count < this.#segments.length && this.#deletable(count)) {
      const end = count === this.#segments.length - 1 ? this.#logEndOffset : this.#segments[count + 1]!.baseOffset;
      if (end > this.#logStartOffset) break;
      count++;
    }
    return count;
  }

  /**
   * Removes the `count` oldest segments. Each is taken out of the list (so no new read
   * finds it) before its files are renamed to `*.deleted`; in-flight reads finish on the
   * open file. Assumes: called from the serial queue.
   */
  async #deleteSegments(count: number, operation: string): Promise<number> {
    if (count <= 0) return 0;
    if (count >= this.#segments.length) await this.#roll(this.#logEndOffset);
    let deleted = 0;
    try {
      for (; deleted < count; deleted++) {
        const segment = this.#segments.shift()!;
        // In the same synchronous step: a read must never find the segment gone while its
        // offsets still count as readable (it would answer nothing instead of OFFSET_OUT_OF_RANGE).
        const first = this.#segments[0]!.baseOffset;
        if (first > this.#logStartOffset) this.#logStartOffset = first;
        await segment.markForDeletion();
      }
    } catch (err) {
      throw KafkaStorageError.fromIo(operation, err);
    } finally {
      const first = this.#segments[0]!.baseOffset;
      if (first > this.#logStartOffset) this.#logStartOffset = first;
    }
    await this.#txnIndex.deleteBelow(this.#logStartOffset).catch(() => {});
    await this.#snapshots.deleteBelow(this.#segments[0]!.baseOffset).catch(() => {});
    return deleted;
  }

  // ---------------------------------------------------------------- truncation (replication)

  /**
   * Removes every batch at or after `offset` (a whole batch when `offset` falls inside
   * it), for a follower that diverged from its leader. Below the first segment, the log
   * is emptied and restarted at `offset`.
   */
  truncateTo(offset: bigint): Promise<void> {
    return this.#enqueue(async () => {
      const operation = `truncate "${this.label}"`;
      this.#checkUsable(operation);
      if (offset >= this.#logEndOffset) return;
      if (offset <= this.#segments[0]!.baseOffset) return this.#truncateFullyAndStartAt(offset, operation);
      try {
        while (this.#segments.length > 1 && this.#segments[this.#segments.length - 1]!.baseOffset >= offset) {
          const segment = this.#segments.pop()!;
          await segment.markForDeletion();
        }
        await this.#fs.syncDir(this.dir);
        const last = this.#segments[this.#segments.length - 1]!;
        const end = await last.truncateTo(offset);
        await this.#afterTruncation(last, end);
        await this.#txnIndex.truncateTo(end);
        await this.#rebuildProducerState();
      } catch (err) {
        this.markOffline(err);
        throw new LogDirOfflineError(operation, this.dir, err);
      }
    });
  }

  /** Deletes all data and restarts the log at `offset` (logStartOffset = logEndOffset = offset). */
  truncateFullyAndStartAt(offset: bigint): Promise<void> {
    return this.#enqueue(() => this.#truncateFullyAndStartAt(offset, `truncate "${this.label}"`));
  }

  async #truncateFullyAndStartAt(offset: bigint, operation: string): Promise<void> {
    this.#checkUsable(operation);
    try {
      await writeFileAtomic(this.#fs, `${this.dir}/${LOG_START_OFFSET_FILE}`, Buffer.from(`${offset}\n`));
      const segment = await LogSegment.create(this.#fs, this.dir, offset, this.#config['index.interval.bytes']);
      const old = this.#segments;
      this.#segments = [segment];
      // A segment with the same base offset was just replaced by create (same file names).
      for (const s of old) await (s.baseOffset === offset ? s.close() : s.markForDeletion());
      await this.#fs.syncDir(this.dir);
      this.#logStartOffset = offset;
      await this.#afterTruncation(segment, offset);
      this.producerState.clear();
      await this.#snapshots.clear();
      await this.#txnIndex.clear();
    } catch (err) {
      this.markOffline(err);
      throw new LogDirOfflineError(operation, this.dir, err);
    }
  }

  /**
   * Moves the offsets down to a new log end. Removing the whole batch that holds the
   * target can take the end below logStartOffset; then logStartOffset follows it down, and
   * the checkpoint must too, or a restart would bring the higher value back.
   */
  async #afterTruncation(last: LogSegment, end: bigint): Promise<void> {
    this.#logEndOffset = end;
    this.#onTruncate?.(this, end);
    if (this.#logStartOffset > end) {
      await writeFileAtomic(this.#fs, `${this.dir}/${LOG_START_OFFSET_FILE}`, Buffer.from(`${end}\n`));
      this.#logStartOffset = end;
    }
    if (this.#flushedOffset > end) this.#flushedOffset = end;
    if (this.#highWatermark.offset >= end) this.#highWatermark = { offset: end, segment: last, position: last.size };
  }

  // ---------------------------------------------------------------- compaction

  /** A new segment for the cleaner to write (`<baseOffset>.log.cleaned`), with this log's file system and index interval. */
  createCleanedSegment(baseOffset: bigint): Promise<LogSegment> {
    return LogSegment.createCleaned(this.#fs, this.dir, baseOffset, this.#config['index.interval.bytes']);
  }

  /**
   * Swaps a segment built by the log cleaner in for the consecutive sealed segments `old` it
   * was cleaned from (Kafka's replaceSegments). `cleaned` has the base offset of `old[0]`,
   * lives in `<base>.log.cleaned`, is fsynced and sealed with the end offset of the last old
   * segment; `contentEnd` is the offset after its last batch (its base offset when empty).
   * `removedAborts` are the ABORT markers the cleaning removed: their aborted-transaction
   * index entries go first, before the commit point (an entry without its marker would make
   * read_committed consumers skip the producer's later transactions; a marker without its
   * entry, should the swap not happen, is harmless: no batch of its transaction is left).
   *
   * On disk, so that a crash at any point leaves the old segments or the new one, never a mix
   * (Log.open finishes or undoes an interrupted swap: cleaner/swap-recovery.ts):
   * 1. Each old segment starting at or after `contentEnd` (all its records were removed) gets
   *    an empty `.cleaned` file, so that a swap finished at open replaces it too, instead of
   *    leaving its stale records behind a cleaned segment that no longer reaches it.
   * 2. `.cleaned` → `.swap`, the highest base offset first and `cleaned` last; that rename,
   *    made durable by a directory fsync, is the commit point. Before it, open removes the
   *    swap's files (a `.cleaned` file is left); after it, open completes the swap.
   * 3. The segment list switches to `cleaned` in one synchronous step: a read sees the old
   *    segments or the new one. Reads already on an old segment finish on it.
   * 4. The old segments are renamed to `.deleted` and unlinked after `file.delete.delay.ms`
   *    once no read holds them; `.swap` → final name; the empty swap files go; directory
   *    fsync; then the index files of `cleaned` are written (derived data).
   *
   * Returns false, changing nothing, when the log no longer holds exactly `old` followed by
   * another segment (retention, DeleteRecords or truncation got there first). A failure
   * before the commit point undoes the files and throws KafkaStorageError; in both cases the
   * caller discards `cleaned`. A failure after the commit point takes the log offline
   * (LogDirOfflineError; a restart completes the swap), as a failed fsync does.
   */
  replaceSegments(
    old: readonly LogSegment[],
    cleaned: LogSegment,
    contentEnd: bigint,
    removedAborts: ReadonlyArray<{ producerId: bigint; lastOffset: bigint }> = [],
  ): Promise<boolean> {
    return this.#enqueue(async () => {
      const operation = `swap a cleaned segment into "${this.label}"`;
      this.#checkUsable(operation);
      const segments = this.#segments;
      const start = old.length === 0 ? -1 : segments.indexOf(old[0]!);
      if (start < 0 || start + old.length >= segments.length || old.some((s, i) => segments[start + i] !== s)) {
        return false;
      }
      const base = (s: LogSegment) => segmentFilePath(this.dir, s.baseOffset, LOG_FILE_SUFFIX);
      const emptied = old.slice(1).filter((s) => s.baseOffset >= contentEnd);
      try {
        if (removedAborts.length > 0) await this.#txnIndex.remove(removedAborts);
      } catch (err) {
        throw KafkaStorageError.fromIo(operation, err);
      }
      try {
        for (const s of emptied) await createEmptyFile(this.#fs, base(s) + CLEANED_FILE_SUFFIX);
        for (const s of [...emptied].reverse()) {
          await this.#fs.rename(base(s) + CLEANED_FILE_SUFFIX, base(s) + SWAP_FILE_SUFFIX);
        }
        await cleaned.renameLogFile(SWAP_FILE_SUFFIX);
      } catch (err) {
        try {
          // The emptied swaps go first: while cleaned's own file is still there, open undoes them.
          for (const s of emptied) {
            await this.#fs.unlink(base(s) + SWAP_FILE_SUFFIX);
            await this.#fs.unlink(base(s) + CLEANED_FILE_SUFFIX);
          }
          await this.#fs.unlink(base(cleaned) + SWAP_FILE_SUFFIX);
          await this.#fs.unlink(base(cleaned) + CLEANED_FILE_SUFFIX);
        } catch (undoErr) {
          // Swap files that outlive a failed swap could be taken for a later one's at open.
          this.markOffline(undoErr);
          throw new LogDirOfflineError(operation, this.dir, undoErr);
        }
        throw KafkaStorageError.fromIo(operation, err);
      }
      try {
        await this.#fs.syncDir(this.dir);
      } catch (err) {
        this.markOffline(err);
        throw new LogDirOfflineError(operation, this.dir, err);
      }
      this.#segments = [...segments.slice(0, start), cleaned, ...segments.slice(start + old.length)];
      try {
        const delayMs = this.#config['file.delete.delay.ms'];
        for (const s of old) await s.markForDeletion(delayMs);
        await Promise.all(old.map((s) => s.settle()));
        // Index files of the first old segment left behind by a failed rename would describe
        // other bytes under the name the cleaned segment takes.
        await this.#fs.unlink(segmentFilePath(this.dir, cleaned.baseOffset, INDEX_FILE_SUFFIX));
        await this.#fs.unlink(segmentFilePath(this.dir, cleaned.baseOffset, TIME_INDEX_FILE_SUFFIX));
        await this.#fs.syncDir(this.dir);
        await cleaned.renameLogFile('');
        for (const s of emptied) await this.#fs.unlink(base(s) + SWAP_FILE_SUFFIX);
        await this.#fs.syncDir(this.dir);
      } catch (err) {
        this.markOffline(err);
        throw new LogDirOfflineError(operation, this.dir, err);
      }
      await cleaned.writeIndexFiles().catch(() => {});
      return true;
    });
  }

  // ---------------------------------------------------------------- producer state and transactions

  /**
   * Kafka's last stable offset: the high watermark, or the first offset of the oldest
   * transaction still open if that is lower. read_committed consumers read below it.
   */
  get lastStableOffset(): bigint {
    const hw = this.#highWatermark.offset;
    const firstUnstable = this.producerState.firstUnstableOffset;
    return firstUnstable !== null && firstUnstable < hw ? firstUnstable : hw;
  }

  /** Aborted transactions overlapping [fetchOffset, upperBound), by first offset (read_committed fetches). */
  abortedTransactions(fetchOffset: bigint, upperBound: bigint): AbortedTxn[] {
    return this.#txnIndex.collect(fetchOffset, upperBound);
  }

  /** Forgets producers idle for `expirationMs` (producer.id.expiration.ms) that have no open transaction. */
  removeExpiredProducers(nowMs: number, expirationMs: number): Promise<number> {
    return this.#enqueue(async () => this.producerState.removeExpired(nowMs, expirationMs));
  }

  /** At open: the txn index files, then the producer state (snapshot and replay). */
  async #loadProducerState(names: readonly string[]): Promise<void> {
    const txnIndexBases: bigint[] = [];
    for (const name of names) {
      const parsed = parseSegmentFileName(name);
      if (parsed?.suffix === TXN_INDEX_FILE_SUFFIX) txnIndexBases.push(parsed.baseOffset);
    }
    await this.#txnIndex.load(txnIndexBases);
    await this.#txnIndex.truncateTo(this.#logEndOffset);
    this.#snapshots = new ProducerSnapshots(this.#fs, this.dir, names);
    await this.#rebuildProducerState();
  }

  /**
   * The newest snapshot at or below the log end, then the batches after it: the active
   * segment after a crash, nothing after a clean close. Assumes: at open, or from the queue.
   */
  async #rebuildProducerState(): Promise<void> {
    const snapshot = await this.#snapshots.loadLatest(this.producerState, this.#logEndOffset);
    try {
      await replayProducerState({
        manager: this.producerState,
        from: snapshot !== null && snapshot > this.#logStartOffset ? snapshot : this.#logStartOffset,
        to: this.#logEndOffset,
        read: async (offset) =>
          (await this.read(offset, { isolation: 'log-end', maxBytes: REPLAY_READ_BYTES })).records,
        segmentBaseOf: (offset) => this.#segments[Math.max(0, floorSegment(this.#segments, offset))]!.baseOffset,
        onAborted: (segmentBase, txn) => this.#txnIndex.add(segmentBase, txn),
      });
    } catch (err) {
      // A damaged sealed segment fails its reads, as it did before; it must not keep the log
      // from opening. The state stops where the damage starts (de-duplication is best effort there).
      if (!(err instanceof CorruptRecordError)) throw err;
    }
  }

  // ---------------------------------------------------------------- closing

  /**
   * Waits for queued operations, fsyncs the active segment and writes its index files,
   * then closes every segment (files stay open until in-flight reads finish). After a
   * close the directory holds what a clean-shutdown open trusts; the LogManager then
   * writes the marker that says so.
   */
  close(): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#closed) return;
      this.#cancelFlushTimer();
      const offline = this.#offline;
      this.#closed = true;
      const active = this.#segments[this.#segments.length - 1]!;
      try {
        if (offline === null) {
          await active.sync();
          this.#flushedOffset = this.#logEndOffset;
          await active.writeIndexFiles();
          await this.#txnIndex.writeFile(active.baseOffset);
          await this.#snapshots.write(this.#logEndOffset, this.producerState);
        }
      } catch (err) {
        this.markOffline(err);
        throw new LogDirOfflineError(`close "${this.label}"`, this.dir, err);
      } finally {
        await Promise.all(this.#segments.map((s) => s.close().catch(() => {})));
      }
    });
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Index of the last segment whose base offset is <= offset, or -1. */
function floorSegment(segments: readonly LogSegment[], offset: bigint): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (segments[mid]!.baseOffset <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** How many bytes of `segment` lie below the high watermark. */
function positionBelow(segment: LogSegment, hw: OffsetPosition): number {
  if (segment === hw.segment) return hw.position;
  return segment.baseOffset < hw.segment.baseOffset ? segment.size : 0;
}

function toTimestampOffset(batch: StoredBatch, logStartOffset: bigint): TimestampOffset {
  return {
    offset: batch.baseOffset < logStartOffset ? logStartOffset : batch.baseOffset,
    timestamp: BigInt(batch.maxTimestamp),
    leaderEpoch: batch.partitionLeaderEpoch,
  };
}

/** An empty, durable file (its directory entry still needs a directory fsync). */
async function createEmptyFile(fsys: StorageFs, path: string): Promise<void> {
  const file = await fsys.open(path, 'create');
  try {
    await file.datasync();
  } finally {
    await file.close();
  }
}

/** Lists a partition directory, creating it when missing (one round trip when it exists). */
async function readdirOrCreate(fsys: StorageFs, dir: string): Promise<string[]> {
  try {
    return await fsys.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fsys.mkdir(dir);
    return [];
  }
}

async function readLogStartOffset(fsys: StorageFs, dir: string): Promise<bigint | null> {
  const bytes = await fsys.readFile(`${dir}/${LOG_START_OFFSET_FILE}`);
  if (bytes === null) return null;
  const text = bytes.toString('utf8').trim();
  // A damaged checkpoint only loses a DeleteRecords; the segments still bound the log.
  return /^[0-9]+$/.test(text) ? BigInt(text) : null;
}
