import { join } from 'node:path';
import { DecodeError } from '../../protocol/errors.ts';
import { maxTimestampAt, SCAN_HEADER_BYTES } from '../batches.ts';
import { CorruptRecordError, KafkaStorageError, StorageError } from '../errors.ts';
import { nodeFs, type StorageFs } from '../fs.ts';
import type { Log } from '../log.ts';
import { SegmentWriteError } from '../log-segment.ts';
import { CLEANER_CHECKPOINT_FILE } from '../names.ts';
import { type CheckpointEntry, readCheckpointFile, writeCheckpointFile } from './checkpoint.ts';
import {
  type CleanableLog,
  CleanerAbortedError,
  type CleanerEvent,
  type CleanerStats,
  cleanLog,
  WorkBudget,
} from './cleaner.ts';
import { OffsetMap } from './offset-map.ts';

export interface LogCleanerOptions {
  dataDir: string;
  fs?: StorageFs;
  /** Wall clock in ms (compaction lags, delete horizons); tests inject one. */
  clock?: () => number;
  /** The logs to consider; the LogManager passes its live list. */
  logs: () => readonly Log[];
  /** Pause after a round that found nothing to clean (Kafka's log.cleaner.backoff.ms). Default 15 s. */
  backoffMs?: number;
  /**
   * Bytes a round processes before it yields to the event loop (setImmediate). Default
   * 32 KiB: measured on 100k records, unbounded steps let the event-loop delay reach
   * 50-70 ms at p99, 16-64 KiB steps keep it at 10-30 ms on a loaded machine, and the
   * yields cost no measurable cleaning time.
   */
  bytesPerStep?: number;
  /** Longest stretch a round computes before it yields. Default 2 ms. */
  maxStepMs?: number;
  /**
   * Keys the offset map holds (Kafka's log.cleaner.dedupe.buffer.size, counted in keys):
   * about 100 bytes each. A log with more distinct keys in its dirty range is cleaned in
   * several rounds. Default 500,000.
   */
  dedupeEntries?: number;
  onEvent?: (event: CleanerEvent) => void;
  /** A round failed; the log is skipped until restart when its data is corrupt, retried otherwise. */
  onError?: (log: Log, error: unknown) => void;
}

/**
 * The background log cleaner of a data directory, Kafka's LogCleaner and
 * LogCleanerManager in one: it picks the compacted log most worth cleaning, cleans it
 * (cleaner.ts), records how far in `cleaner-offset-checkpoint`, and repeats; after a round
 * with nothing to do it waits `backoffMs` on an unref'd timer.
 *
 * One log at a time, one round at a time (start() runs them; runOnce() and clean() queue
 * behind the running one). Which log: among those with `compact` in cleanup.policy, the
 * one with the highest dirty ratio above its min.cleanable.dirty.ratio, or any whose oldest
 * dirty record is older than max.compaction.lag.ms; when none is, one whose tombstones'
 * delete horizon has passed (Kafka's rule after KIP-534).
 *
 * Kept in memory only, as in Kafka: the latest delete horizon per log (after a restart,
 * expired tombstones go at the next round the dirty ratio starts) and the logs found
 * corrupt (skipped until restart).
 */
export class LogCleaner {
  readonly #fs: StorageFs;
  readonly #clock: () => number;
  readonly #logs: () => readonly Log[];
  readonly #checkpointPath: string;
  readonly #backoffMs: number;
  readonly #bytesPerStep: number;
  readonly #maxStepMs: number;
  readonly #onEvent: ((event: CleanerEvent) => void) | undefined;
  readonly #onError: ((log: Log, error: unknown) => void) | undefined;
  readonly #map: OffsetMap;
  /** label → cleaned-up-to offset. */
  readonly #checkpoints = new Map<string, CheckpointEntry>();
  readonly #deleteHorizons = new Map<string, number>();
  readonly #uncleanable = new Map<string, unknown>();
  /** label → truncation count, so a round that raced a truncation does not write its checkpoint. */
  readonly #truncations = new Map<string, number>();
  #queue: Promise<unknown> = Promise.resolve();
  #checkpointWrites: Promise<void> = Promise.resolve();
  #current: { label: string; abort: string | null } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  #stopped = false;

  private constructor(opts: LogCleanerOptions, entries: CheckpointEntry[]) {
    this.#fs = opts.fs ?? nodeFs;
    this.#clock = opts.clock ?? Date.now;
    this.#logs = opts.logs;
    this.#checkpointPath = join(opts.dataDir, CLEANER_CHECKPOINT_FILE);
    this.#backoffMs = opts.backoffMs ?? 15_000;
    this.#bytesPerStep = opts.bytesPerStep ?? 32 << 10;
    this.#maxStepMs = opts.maxStepMs ?? 2;
    this.#onEvent = opts.onEvent;
    this.#onError = opts.onError;
    this.#map = new OffsetMap(opts.dedupeEntries ?? 500_000);
    for (const e of entries) this.#checkpoints.set(`${e.topic}-${e.partition}`, e);
  }

  /** Reads the checkpoint file; does not start the background rounds (start()). */
  static async open(opts: LogCleanerOptions): Promise<LogCleaner> {
    const fsys = opts.fs ?? nodeFs;
    const path = join(opts.dataDir, CLEANER_CHECKPOINT_FILE);
    let entries: CheckpointEntry[];
    try {
      entries = await readCheckpointFile(fsys, path);
    } catch (err) {
      throw KafkaStorageError.fromIo(`read "${path}"`, err);
    }
    return new LogCleaner(opts, entries);
  }

  /** Starts the background rounds: the first after `backoffMs`, then back to back while there is work. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedule(this.#backoffMs);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.runOnce().then(
        (stats) => this.#schedule(stats === null ? this.#backoffMs : 0),
        () => this.#schedule(this.#backoffMs),
      );
    }, ms);
    this.#timer.unref();
  }

  /** Stops the background rounds; a round under way stops at its next step (its swapped segments stay). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#current !== null) this.#current.abort ??= 'the cleaner is stopping';
    await this.#queue.catch(() => {});
    await this.#checkpointWrites;
  }

  /** Logs skipped because cleaning found them corrupt, with the error. */
  get uncleanable(): ReadonlyMap<string, unknown> {
    return this.#uncleanable;
  }

  /** The checkpointed cleaned-up-to offset of a log, if any. */
  cleanedOffset(log: Log): bigint | undefined {
    return this.#checkpoints.get(log.label)?.offset;
  }

  /** Runs `task` after the rounds queued before it. */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** One background round: cleans the log most worth it, if any. Null when there was nothing to do or the round stopped. */
  runOnce(): Promise<CleanerStats | null> {
    return this.#exclusive(async () => {
      if (this.#stopped) return null;
      const cleanable = await this.grabFilthiestLog();
      return cleanable === null ? null : this.#clean(cleanable);
    });
  }

  /**
   * Cleans `log` now, whatever its dirty ratio (for tools and tests), as long as it is
   * compacted and has sealed segments the rules allow cleaning. Null otherwise.
   */
  clean(log: Log): Promise<CleanerStats | null> {
    return this.#exclusive(async () => {
      if (this.#stopped || !isCompacted(log) || log.isClosed || log.isOffline) return null;
      const cleanable = await this.cleanableInfo(log);
      return cleanable.cleanableSegments === 0 ? null : this.#clean(cleanable);
    });
  }

  /** Kafka's grabFilthiestCompactedLog; see the class comment. */
  async grabFilthiestLog(): Promise<CleanableLog | null> {
    const now = this.#clock();
    let filthiest: CleanableLog | null = null;
    let expired: CleanableLog | null = null;
    for (const log of this.#logs()) {
      if (!isCompacted(log) || log.isClosed || log.isOffline || this.#uncleanable.has(log.label)) continue;
      let cleanable: CleanableLog;
      try {
        cleanable = await this.cleanableInfo(log, now);
      } catch {
        continue;
      }
      if (cleanable.cleanableSegments === 0) continue;
      const due =
        cleanable.dirtyBytes > 0 &&
        (cleanable.needCompactionNow || cleanable.cleanableRatio > log.config['min.cleanable.dirty.ratio']);
      if (due) {
        if (filthiest === null || cleanable.cleanableRatio > filthiest.cleanableRatio) filthiest = cleanable;
      } else if (expired === null) {
        const horizon = this.#deleteHorizons.get(log.label);
        if (horizon !== undefined && horizon <= now) expired = cleanable;
      }
    }
    return filthiest ?? expired;
  }

  /** Kafka's cleanableOffsets and LogToClean: what a round of `log` would cover, and whether it is due. */
  async cleanableInfo(log: Log, now = this.#clock()): Promise<CleanableLog> {
    const config = log.config;
    const segments = log.segments;
    const active = segments[segments.length - 1]!;
    const logStartOffset = log.logStartOffset;
    const checkpoint = this.#checkpoints.get(log.label)?.offset;
    // A checkpoint below the log start (retention, DeleteRecords) or past the end (the log
    // was recreated or truncated) does not describe this log's data.
    const firstDirtyOffset =
      checkpoint === undefined || checkpoint < logStartOffset || checkpoint > log.logEndOffset
        ? logStartOffset
        : checkpoint;
    // Below the last stable offset every transaction is complete (and it is never above the high watermark).
    const lastStableOffset = log.lastStableOffset;
    const minLagMs = config['min.compaction.lag.ms'];
    let firstUncleanableOffset = active.baseOffset;
    for (const segment of segments) {
      if (segment === active) break;
      if (segment.endOffset <= firstDirtyOffset) continue;
      if (segment.endOffset > lastStableOffset) {
        firstUncleanableOffset = segment.baseOffset;
        break;
      }
      if (minLagMs > 0 && (await newestTimestamp(segment)) > now - minLagMs) {
        firstUncleanableOffset = segment.baseOffset;
        break;
      }
    }
    let cleanBytes = 0;
    let dirtyBytes = 0;
    let cleanableSegments = 0;
    let firstDirtySegment: (typeof segments)[number] | null = null;
    for (const segment of segments) {
      if (segment === active || segment.endOffset > firstUncleanableOffset) break;
      if (segment.endOffset <= logStartOffset) continue;
      cleanableSegments++;
      if (segment.endOffset <= firstDirtyOffset) {
        cleanBytes += segment.size;
      } else {
        dirtyBytes += segment.size;
        firstDirtySegment ??= segment;
      }
    }
    let needCompactionNow = false;
    const maxLagMs = config['max.compaction.lag.ms'];
    if (firstDirtySegment !== null && firstDirtySegment.size > 0 && maxLagMs < Number.MAX_SAFE_INTEGER) {
      const first = await firstDirtySegment.readBytes(0, SCAN_HEADER_BYTES);
      const firstBatchTimestamp = first.length === SCAN_HEADER_BYTES ? maxTimestampAt(first, 0) : -1;
      needCompactionNow = firstBatchTimestamp > 0 && firstBatchTimestamp < now - maxLagMs;
    }
    const total = cleanBytes + dirtyBytes;
    return {
      log,
      firstDirtyOffset,
      firstUncleanableOffset,
      cleanBytes,
      dirtyBytes,
      cleanableRatio: total === 0 ? 0 : dirtyBytes / total,
      needCompactionNow,
      cleanableSegments,
    };
  }

  async #clean(cleanable: CleanableLog): Promise<CleanerStats | null> {
    const { log } = cleanable;
    const label = log.label;
    const truncations = this.#truncations.get(label) ?? 0;
    const current: { label: string; abort: string | null } = { label, abort: null };
    this.#current = current;
    const budget = new WorkBudget(this.#bytesPerStep, this.#maxStepMs, () => {
      if (current.abort !== null) return current.abort;
      if (log.isClosed || log.isOffline) return `log "${label}" is closed or offline`;
      return null;
    });
    let stats: CleanerStats;
    try {
      stats = await cleanLog(cleanable, { map: this.#map, nowMs: this.#clock(), budget, onEvent: this.#onEvent });
    } catch (err) {
      if (err instanceof CleanerAbortedError || log.isClosed) return null;
      // Corrupt data stays corrupt: skip the log until restart, as Kafka marks it uncleanable.
      if (err instanceof DecodeError || err instanceof CorruptRecordError) this.#uncleanable.set(label, err);
      const error = asStorageError(`clean "${label}"`, err);
      this.#onError?.(log, error);
      throw error;
    } finally {
      this.#current = null;
      this.#map.clear();
    }
    // Tombstones and markers with a horizon are left: come back once it has passed (KIP-534).
    if (stats.latestDeleteHorizonMs >= 0) this.#deleteHorizons.set(label, stats.latestDeleteHorizonMs);
    else this.#deleteHorizons.delete(label);
    if ((this.#truncations.get(label) ?? 0) === truncations && !log.isClosed) {
      this.#checkpoints.set(label, { topic: log.topic, partition: log.partition, offset: stats.endOffset });
      await this.#writeCheckpoints().catch((err) => this.#onError?.(log, err));
    }
    return stats;
  }

  /**
   * The log was truncated to `endOffset` (replication): a checkpoint above it would call new
   * records at those offsets clean. Lowered at once, in memory and on disk.
   */
  truncated(log: Log, endOffset: bigint): void {
    const label = log.label;
    this.#truncations.set(label, (this.#truncations.get(label) ?? 0) + 1);
    const entry = this.#checkpoints.get(label);
    if (entry !== undefined && entry.offset > endOffset) {
      this.#checkpoints.set(label, { ...entry, offset: endOffset });
      this.#writeCheckpoints().catch((err) => this.#onError?.(log, err));
    }
  }

  /**
   * The log is being deleted: stops a round of it (waiting for it to end) and forgets its
   * checkpoint, so that a log created later under the same name starts from scratch.
   */
  async forget(log: Log): Promise<void> {
    const label = log.label;
    if (this.#current?.label === label) {
      this.#current.abort ??= `log "${label}" is being deleted`;
      await this.#queue.catch(() => {});
    }
    this.#deleteHorizons.delete(label);
    this.#uncleanable.delete(label);
    if (this.#checkpoints.delete(label)) await this.#writeCheckpoints().catch((err) => this.#onError?.(log, err));
  }

  /** Writes the checkpoint file; writes happen one after another, each with the latest entries. */
  #writeCheckpoints(): Promise<void> {
    const write = this.#checkpointWrites.then(() =>
      writeCheckpointFile(this.#fs, this.#checkpointPath, [...this.#checkpoints.values()]),
    );
    this.#checkpointWrites = write.catch(() => {});
    return write.catch((err: unknown) => {
      throw KafkaStorageError.fromIo(`write "${this.#checkpointPath}"`, err);
    });
  }
}

/** I/O failures as KafkaStorageError (a failed write of the cleaned file comes as SegmentWriteError). */
function asStorageError(operation: string, err: unknown): unknown {
  if (err instanceof StorageError || err instanceof DecodeError) return err;
  if (err instanceof SegmentWriteError) {
    return new KafkaStorageError(operation, `write to "${err.path}" failed (${err.errno})`, {
      path: err.path,
      errno: err.errno,
      cause: err,
    });
  }
  return KafkaStorageError.fromIo(operation, err);
}

function isCompacted(log: Log): boolean {
  return log.config['cleanup.policy'].includes('compact');
}

/** A segment's largest timestamp, or its file's modification time when its batches carry none (as retention does). */
async function newestTimestamp(segment: Log['segments'][number]): Promise<number> {
  const { timestamp } = await segment.largestTimestamp();
  return timestamp >= 0 ? timestamp : segment.lastModifiedMs();
}
