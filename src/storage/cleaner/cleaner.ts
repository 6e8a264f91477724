import { performance } from 'node:perf_hooks';
import { RECORD_BATCH_OVERHEAD, type RecordBatchHeader, readBatchHeader } from '../../protocol/records/batch-header.ts';
import { batchBaseOffsetAt, batchFramingProblem, batchSizeAt, lastOffsetDeltaAt, maxTimestampAt } from '../batches.ts';
import { CorruptRecordError, LogDirOfflineError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { LogSegment, SegmentBatch } from '../log-segment.ts';
import { type BatchFilterContext, filterBatch, mapBatchKeys } from './batch-filter.ts';
import type { OffsetMap } from './offset-map.ts';
import { TransactionTracker } from './transactions.ts';

const INT32_MAX = 0x7fffffff;
/** Read size when walking a segment's batches. */
const READ_CHUNK = 1 << 20;
/** The cleaned segment is written in pieces of about this size. */
const WRITE_CHUNK = 1 << 20;
const EMPTY: Buffer = Buffer.alloc(0);

/** What the cleaner knows about one compacted log before cleaning it (Kafka's LogToClean). */
export interface CleanableLog {
  log: Log;
  /** Offsets below this were cleaned before (the checkpoint, or logStartOffset). */
  firstDirtyOffset: bigint;
  /**
   * The base offset of the first segment that may not be cleaned: the active one, one that
   * reaches above the last stable offset (so every transaction in the range is complete),
   * or one with records newer than min.compaction.lag.ms.
   */
  firstUncleanableOffset: bigint;
  /** Bytes of the segments entirely below firstDirtyOffset. */
  cleanBytes: number;
  /** Bytes of the cleanable segments from the one holding firstDirtyOffset on. */
  dirtyBytes: number;
  /** dirtyBytes / (cleanBytes + dirtyBytes), compared with min.cleanable.dirty.ratio. */
  cleanableRatio: number;
  /** The oldest dirty record is older than max.compaction.lag.ms: clean whatever the ratio. */
  needCompactionNow: boolean;
  /** Sealed segments that a round would read (0: nothing to do). */
  cleanableSegments: number;
}

/** What one cleaning round did; the tests and the measurements print it. */
export interface CleanerStats {
  topic: string;
  partition: number;
  firstDirtyOffset: bigint;
  /** Where the round stopped: the next round's first dirty offset (the checkpoint). */
  endOffset: bigint;
  /** The offset map filled before the dirty range was done (endOffset is where it got). */
  mapFull: boolean;
  mappedKeys: number;
  segmentsBefore: number;
  segmentsAfter: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRetained: number;
  tombstonesRemoved: number;
  /** Transaction markers removed (their transaction was gone and their delete horizon had passed). */
  markersRemoved: number;
  /** The latest delete horizon of a written batch that still holds tombstones, or -1. */
  latestDeleteHorizonMs: number;
  durationMs: number;
  /** How many times the round yielded to the event loop. */
  steps: number;
}

/** Progress reports, for tests that need to act at a given moment of a round. */
export type CleanerEvent =
  | { kind: 'map-built'; label: string; endOffset: bigint; mappedKeys: number }
  | { kind: 'segment-written'; label: string; baseOffset: bigint; segments: number }
  | { kind: 'segment-swapped'; label: string; baseOffset: bigint }
  | { kind: 'done'; label: string; stats: CleanerStats };

/** Thrown inside a round that must stop without error: the cleaner is stopping, or the log changed under it. */
export class CleanerAbortedError extends Error {
  constructor(reason: string) {
    super(`Cleaning stopped: ${reason}`);
    this.name = 'CleanerAbortedError';
  }
}

/**
 * Bounded work per event-loop turn: the round calls spend() after every batch, and yields
 * (setImmediate) once it has processed `bytesPerStep` bytes or run `maxStepMs`, so that the
 * appends and reads of every partition keep getting their turns. Also where an abort is
 * noticed.
 */
export class WorkBudget {
  readonly bytesPerStep: number;
  readonly maxStepMs: number;
  readonly #aborted: () => string | null;
  steps = 0;
  #bytes = 0;
  #since = performance.now();

  constructor(bytesPerStep: number, maxStepMs: number, aborted: () => string | null) {
    this.bytesPerStep = bytesPerStep;
    this.maxStepMs = maxStepMs;
    this.#aborted = aborted;
  }

  async spend(bytes: number): Promise<void> {
    this.#bytes += bytes;
    if (this.#bytes < this.bytesPerStep && performance.now() - this.#since < this.maxStepMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.steps++;
    this.#bytes = 0;
    this.#since = performance.now();
    this.check();
  }

  check(): void {
    const reason = this.#aborted();
    if (reason !== null) throw new CleanerAbortedError(reason);
  }
}

export interface CleanRoundOptions {
  map: OffsetMap;
  nowMs: number;
  budget: WorkBudget;
  onEvent?: (event: CleanerEvent) => void;
}

/**
 * One cleaning round of one log, Kafka's Cleaner.doClean:
 *
 * 1. Map: walk the dirty range [firstDirtyOffset, firstUncleanableOffset) and put every
 *    key's latest offset in the map. If the map fills, stop at that batch: the round cleans
 *    up to there (endOffset) and the next one goes on. Records of aborted transactions (the
 *    log's aborted-transaction index) are left out.
 * 2. Clean: the sealed segments from the log start up to endOffset, the already-clean ones
 *    too (their keys may have newer values now, their tombstones and markers may be due),
 *    in groups of consecutive segments that fit in one segment (see cleanSegments). Each
 *    group is filtered batch by batch (batch-filter.ts) into a new segment, which
 *    Log.replaceSegments swaps in (crash-safe); groups go in offset order, so a crash between
 *    two swaps never leaves a removed tombstone with an older value of its key behind it.
 *
 * The active segment and anything at or above firstUncleanableOffset are never touched.
 * Throws CleanerAbortedError when stopped or when the log changed under it (nothing is
 * lost: the round's swapped groups are valid, the rest stays as it was), DecodeError or
 * CorruptRecordError for corrupt data, KafkaStorageError for I/O failures.
 */
export async function cleanLog(cleanable: CleanableLog, opts: CleanRoundOptions): Promise<CleanerStats> {
  const started = performance.now();
  const { log, firstDirtyOffset, firstUncleanableOffset } = cleanable;
  const { map, budget } = opts;
  const label = log.label;
  const segments = log.segments;
  const active = segments[segments.length - 1]!;
  const logStartOffset = log.logStartOffset;
  const candidates = segments.filter(
    (s) => s !== active && s.endOffset <= firstUncleanableOffset && s.endOffset > logStartOffset,
  );
  const stats: CleanerStats = {
    topic: log.topic,
    partition: log.partition,
    firstDirtyOffset,
    endOffset: maxOffset(firstDirtyOffset, firstUncleanableOffset),
    mapFull: false,
    mappedKeys: 0,
    segmentsBefore: 0,
    segmentsAfter: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRead: 0,
    recordsRetained: 0,
    tombstonesRemoved: 0,
    markersRemoved: 0,
    latestDeleteHorizonMs: -1,
    durationMs: 0,
    steps: 0,
  };
  map.clear();

  // 1. The offset map of the dirty range; records of aborted transactions are left out.
  const mapTransactions = new TransactionTracker(log.abortedTransactions(firstDirtyOffset, firstUncleanableOffset));
  let mappedEnd = firstDirtyOffset;
  let members = candidates;
  for (let i = 0; i < candidates.length; i++) {
    const segment = candidates[i]!;
    if (segment.endOffset <= firstDirtyOffset) continue;
    for await (const batch of batchesOf(segment)) {
      const header = readBatchHeader(batch);
      if (header.lastOffset >= firstDirtyOffset) {
        if (!header.isControlBatch && map.wouldOverflow(header.recordCount)) {
          stats.mapFull = true;
          stats.endOffset = mappedEnd;
          break;
        }
        await mapBatchKeys(batch, header, map, mapTransactions);
        mappedEnd = header.lastOffset + 1n;
      }
      await budget.spend(batch.length);
    }
    if (stats.mapFull) {
      members = candidates.slice(0, segment.baseOffset < stats.endOffset ? i + 1 : i);
      break;
    }
  }
  stats.mappedKeys = map.size;
  opts.onEvent?.({ kind: 'map-built', label, endOffset: stats.endOffset, mappedKeys: map.size });

  // 2. Filter the members into new segments and swap them in, oldest first.
  const last = members[members.length - 1];
  const producers = log.producerState;
  const filter: BatchFilterContext = {
    map,
    nowMs: opts.nowMs,
    deleteRetentionMs: log.config['delete.retention.ms'],
    transactions: new TransactionTracker(
      last === undefined ? [] : log.abortedTransactions(members[0]!.baseOffset, last.endOffset),
    ),
    // Kafka's rule: keep the batch producer state knows as the producer's last data batch.
    keepEmpty: (header: RecordBatchHeader) =>
      header.producerId >= 0n && producers.entry(header.producerId)?.batches.at(-1)?.lastOffset === header.lastOffset,
  };
  await cleanSegments(log, members, filter, stats, opts);
  stats.durationMs = performance.now() - started;
  stats.steps = budget.steps;
  map.clear();
  opts.onEvent?.({ kind: 'done', label, stats });
  return stats;
}

/**
 * Phase 2: the members, in offset order, filtered into new segments, each swapped in for
 * the consecutive members it was built from. Kafka groups segments by their size *before*
 * cleaning (groupSegmentsBySize), so that the cleaned one surely fits in segment.bytes; but
 * full segments then never merge, and a first cleaning swaps every segment on its own. Here
 * a group grows while the *cleaned* bytes fit: a member that might not fit is filtered into
 * the segment anyway, and if it overflowed it is cut off again (truncating the cleaned
 * file) and starts the next group. Offsets must also stay within 32 bits of the group's base.
 */
async function cleanSegments(
  log: Log,
  members: readonly LogSegment[],
  filter: BatchFilterContext,
  stats: CleanerStats,
  opts: CleanRoundOptions,
): Promise<void> {
  const maxBytes = log.config['segment.bytes'];
  let builder: GroupBuilder | null = null;
  try {
    for (const segment of members) {
      if (builder !== null && segment.endOffset - 1n - builder.baseOffset > BigInt(INT32_MAX)) {
        await builder.finish(stats);
        builder = null;
      }
      builder ??= await GroupBuilder.start(log, segment.baseOffset, filter, opts);
      const mayOverflow = builder.group.length > 0 && builder.size + segment.size > maxBytes;
      const totals = await builder.add(segment);
      if (mayOverflow && builder.size > maxBytes) {
        await builder.cutLast();
        await builder.finish(stats);
        builder = await GroupBuilder.start(log, segment.baseOffset, filter, opts);
        builder.commit(stats, await builder.add(segment));
      } else {
        builder.commit(stats, totals);
      }
    }
    if (builder !== null) await builder.finish(stats);
    builder = null;
  } finally {
    await builder?.abandon();
  }
}

interface MemberTotals {
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRetained: number;
  tombstonesRemoved: number;
  markersRemoved: number;
  latestDeleteHorizonMs: number;
  changed: boolean;
}

/** One cleaned segment under construction and the old segments (the group) it replaces. */
class GroupBuilder {
  readonly baseOffset: bigint;
  readonly group: LogSegment[] = [];
  readonly #log: Log;
  readonly #cleaned: LogSegment;
  readonly #filter: BatchFilterContext;
  readonly #opts: CleanRoundOptions;
  #buffers: Buffer[] = [];
  #batches: SegmentBatch[] = [];
  #pendingBytes = 0;
  /** Offset after the last batch written, the base offset while empty. */
  #contentEnd: bigint;
  #changed = false;
  /** ABORT markers this group removes (their txn index entries go with them). */
  #removedAborts: Array<{ producerId: bigint; lastOffset: bigint }> = [];
  /** State before the last add(), for cutLast(). */
  #beforeLast: {
    contentEnd: bigint;
    changed: boolean;
    removedAborts: number;
    restoreTransactions: () => void;
  } | null = null;
  #done = false;

  private constructor(log: Log, cleaned: LogSegment, filter: BatchFilterContext, opts: CleanRoundOptions) {
    this.baseOffset = cleaned.baseOffset;
    this.#log = log;
    this.#cleaned = cleaned;
    this.#filter = filter;
    this.#opts = opts;
    this.#contentEnd = cleaned.baseOffset;
  }

  static async start(log: Log, baseOffset: bigint, filter: BatchFilterContext, opts: CleanRoundOptions) {
    return new GroupBuilder(log, await log.createCleanedSegment(baseOffset), filter, opts);
  }

  /** Cleaned bytes so far. */
  get size(): number {
    return this.#cleaned.size + this.#pendingBytes;
  }

  /** Filters every batch of `segment` into the cleaned segment; the caller then commit()s or cutLast()s. */
  async add(segment: LogSegment): Promise<MemberTotals> {
    this.#beforeLast = {
      contentEnd: this.#contentEnd,
      changed: this.#changed,
      removedAborts: this.#removedAborts.length,
      restoreTransactions: this.#filter.transactions.snapshot(),
    };
    const totals: MemberTotals = {
      bytesRead: 0,
      bytesWritten: 0,
      recordsRead: 0,
      recordsRetained: 0,
      tombstonesRemoved: 0,
      markersRemoved: 0,
      latestDeleteHorizonMs: -1,
      changed: false,
    };
    for await (const batch of batchesOf(segment)) {
      const result = await filterBatch(batch, this.#filter);
      totals.bytesRead += batch.length;
      totals.recordsRead += result.recordsIn;
      totals.recordsRetained += result.recordsOut;
      totals.tombstonesRemoved += result.tombstonesRemoved;
      totals.markersRemoved += result.markersRemoved;
      if (result.removedAbort !== undefined) this.#removedAborts.push(result.removedAbort);
      if (result.deleteHorizonMs > totals.latestDeleteHorizonMs) totals.latestDeleteHorizonMs = result.deleteHorizonMs;
      const out = result.bytes;
      if (out !== batch) totals.changed = true;
      if (out !== null) {
        const base = batchBaseOffsetAt(out, 0);
        this.#buffers.push(out);
        this.#batches.push({
          relativeOffset: Number(base - this.baseOffset),
          maxTimestamp: maxTimestampAt(out, 0),
          size: out.length,
        });
        this.#pendingBytes += out.length;
        totals.bytesWritten += out.length;
        this.#contentEnd = base + BigInt(lastOffsetDeltaAt(out, 0)) + 1n;
        if (this.#pendingBytes >= WRITE_CHUNK) await this.#write();
      }
      await this.#opts.budget.spend(batch.length);
    }
    this.group.push(segment);
    if (totals.changed) this.#changed = true;
    return totals;
  }

  commit(stats: CleanerStats, totals: MemberTotals): void {
    stats.bytesRead += totals.bytesRead;
    stats.bytesWritten += totals.bytesWritten;
    stats.recordsRead += totals.recordsRead;
    stats.recordsRetained += totals.recordsRetained;
    stats.tombstonesRemoved += totals.tombstonesRemoved;
    stats.markersRemoved += totals.markersRemoved;
    if (totals.latestDeleteHorizonMs > stats.latestDeleteHorizonMs) {
      stats.latestDeleteHorizonMs = totals.latestDeleteHorizonMs;
    }
  }

  /** Takes the last added segment back out (it made the cleaned segment too large); the next group filters it again. */
  async cutLast(): Promise<void> {
    const last = this.group.pop()!;
    await this.#write();
    await this.#cleaned.truncateTo(last.baseOffset);
    this.#contentEnd = this.#beforeLast!.contentEnd;
    this.#changed = this.#beforeLast!.changed;
    this.#removedAborts.length = this.#beforeLast!.removedAborts;
    this.#beforeLast!.restoreTransactions();
  }

  async #write(): Promise<void> {
    if (this.#buffers.length === 0) return;
    await this.#cleaned.append(this.#buffers, this.#pendingBytes, this.#batches, this.#contentEnd, this.#opts.nowMs);
    this.#buffers = [];
    this.#batches = [];
    this.#pendingBytes = 0;
  }

  /** Syncs the cleaned segment and swaps it in for the group (or drops it when nothing changed). */
  async finish(stats: CleanerStats): Promise<void> {
    const log = this.#log;
    const cleaned = this.#cleaned;
    const group = this.group;
    this.#done = true;
    try {
      await this.#write();
      if (!this.#changed && group.length === 1) {
        // Nothing removed and no horizon to set: the segment stays as it is.
        await discard(log, cleaned);
        stats.segmentsBefore += 1;
        stats.segmentsAfter += 1;
        return;
      }
      await cleaned.sync();
      let replacedLargestTimestamp = -1;
      for (const segment of group) {
        const { timestamp } = await segment.largestTimestamp();
        if (timestamp > replacedLargestTimestamp) replacedLargestTimestamp = timestamp;
      }
      cleaned.markSealed(group[group.length - 1]!.endOffset, replacedLargestTimestamp);
      this.#opts.budget.check();
    } catch (err) {
      await discard(log, cleaned);
      throw err;
    }
    this.#opts.onEvent?.({
      kind: 'segment-written',
      label: log.label,
      baseOffset: this.baseOffset,
      segments: group.length,
    });
    let swapped: boolean;
    try {
      swapped = await log.replaceSegments(group, cleaned, this.#contentEnd, this.#removedAborts);
    } catch (err) {
      // After the commit point the cleaned file is the log's (LogDirOfflineError): leave it.
      if (!(err instanceof LogDirOfflineError)) await discard(log, cleaned);
      throw err;
    }
    if (!swapped) {
      await discard(log, cleaned);
      throw new CleanerAbortedError(`the segments of "${log.label}" changed while they were cleaned`);
    }
    stats.segmentsBefore += group.length;
    stats.segmentsAfter += 1;
    this.#opts.onEvent?.({ kind: 'segment-swapped', label: log.label, baseOffset: this.baseOffset });
  }

  /** Removes the cleaned file of a round that stopped before finish(). */
  async abandon(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await discard(this.#log, this.#cleaned);
  }
}

function maxOffset(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Removes a cleaned segment that was not swapped in. If even that fails, the log goes offline (see Log.replaceSegments). */
async function discard(log: Log, cleaned: LogSegment): Promise<void> {
  try {
    await cleaned.discard();
  } catch (err) {
    log.markOffline(err);
  }
}

/**
 * The batches of a sealed segment, each a Buffer of its own bytes, read in 1 MiB chunks
 * (a larger batch on its own). Checks framing only; the filter checks each CRC.
 */
async function* batchesOf(segment: LogSegment): AsyncGenerator<Buffer> {
  const size = segment.size;
  let buf = EMPTY;
  let bufStart = 0;
  let pos = 0;
  while (pos < size) {
    let at = pos - bufStart;
    if (at + RECORD_BATCH_OVERHEAD > buf.length) {
      buf = await segment.readBytes(pos, READ_CHUNK);
      bufStart = pos;
      at = 0;
    }
    const problem = batchFramingProblem(buf, at, size - bufStart);
    if (problem !== null) throw new CorruptRecordError(`clean "${segment.logPath}"`, problem, pos);
    const batchSize = batchSizeAt(buf, at);
    if (at + batchSize > buf.length) {
      buf = await segment.readBytes(pos, Math.max(batchSize, READ_CHUNK));
      bufStart = pos;
      at = 0;
      if (buf.length < batchSize) throw new CorruptRecordError(`clean "${segment.logPath}"`, 'truncated batch', pos);
    }
    yield buf.subarray(at, at + batchSize);
    pos += batchSize;
  }
}
