import { batchCrcValid } from '../protocol/records/batch-header.ts';
import {
  batchBaseOffsetAt,
  batchFramingProblem,
  batchSizeAt,
  lastOffsetDeltaAt,
  maxTimestampAt,
  partitionLeaderEpochAt,
  SCAN_HEADER_BYTES,
} from './batches.ts';
import { CorruptRecordError } from './errors.ts';
import { readFully, readFullyInto, type StorageFile, type StorageFs, shortWrite } from './fs.ts';
import {
  CLEANED_FILE_SUFFIX,
  DELETED_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  segmentFilePath,
  TEMP_FILE_SUFFIX,
  TIME_INDEX_FILE_SUFFIX,
} from './names.ts';
import { OFFSET_INDEX_ENTRY_SIZE, OffsetIndex } from './offset-index.ts';
import type { ReadBufferPool } from './read-buffer-pool.ts';
import { TIME_INDEX_ENTRY_SIZE, TimeIndex } from './time-index.ts';
import { UncheckedRanges } from './unchecked-ranges.ts';

const INT32_MAX = 0x7fffffff;
/** Read size of the recovery scan; batches larger than this are read on their own. */
const RECOVERY_CHUNK = 1 << 20;
/** Read size of header-only scans (index rebuilds, timestamp searches). */
const SCAN_CHUNK = 64 << 10;
const EMPTY: Buffer = Buffer.alloc(0);

/** One batch placed by an append, described in segment-relative terms. */
export interface SegmentBatch {
  /** baseOffset − segment baseOffset. */
  relativeOffset: number;
  maxTimestamp: number;
  size: number;
}

/** Header facts of one stored batch, as searches report them. */
export interface StoredBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
  position: number;
  size: number;
}

/** Thrown by append when the write failed; says whether the file was cut back to its old size. */
export class SegmentWriteError extends Error {
  readonly path: string;
  readonly errno: string;
  readonly rolledBack: boolean;

  constructor(path: string, cause: unknown, rolledBack: boolean) {
    const errno = (cause as NodeJS.ErrnoException)?.code ?? 'EIO';
    super(`Write to "${path}" failed (${errno})${rolledBack ? '' : ' and could not be undone'}`, { cause });
    this.name = 'SegmentWriteError';
    this.path = path;
    this.errno = errno;
    this.rolledBack = rolledBack;
  }
}

/**
 * One segment of a partition log: a `.log` file of record batches stored exactly as they
 * were appended, plus its sparse offset index and time index.
 *
 * Two states. The *active* (last) segment has its file open for writing and its indexes
 * in memory; index entries are never written to disk on the append path, only when the
 * segment is sealed or the log is closed, because recovery rebuilds the last segment's
 * indexes from the log anyway. A *sealed* segment is immutable: its file is opened and its
 * index files are read only when a read or search first needs them, so opening a broker
 * with thousands of segments touches none of them.
 *
 * Concurrency: the owning Log calls the mutating methods (append, sync, seal, truncateTo,
 * recover…) from its serial queue only, so they never overlap one another. Reads and
 * searches may run at any time, concurrently with appends; they never look past the
 * position the caller passes (the high watermark or the written size), so they cannot
 * see a half-written batch. Reads pin the segment, and close/delete defer closing the
 * file until the last reader is done.
 */
export class LogSegment {
  readonly baseOffset: bigint;
  readonly dir: string;
  readonly #fs: StorageFs;
  /**
   * Suffix after every file name: `.deleted` once the segment is scheduled for deletion,
   * `.cleaned` / `.swap` while the cleaner builds and swaps it in (see createCleaned).
   */
  #fileSuffix = '';
  /** The log file's path, kept in step with #fileSuffix (#setFileSuffix): every read names it. */
  #logPath: string;
  #file: StorageFile | null = null;
  #opening: Promise<StorageFile> | null = null;
  #size: number;
  #indexIntervalBytes: number;
  #offsetIndex: OffsetIndex | null = null;
  #timeIndex: TimeIndex | null = null;
  #loadingIndexes: Promise<void> | null = null;
  /** Exclusive end offset: known for the active segment; for a sealed one, the next segment's base. */
  #endOffset: bigint | null = null;
  /** Largest batch maxTimestamp and the relative base offset of the batch holding it; null until known. */
  #maxTimestamp: number | null = null;
  #offsetOfMaxTimestamp = 0;
  #bytesSinceLastIndexEntry = 0;
  /** Broker clock time the segment's first batch arrived (see rollAgeMs). */
  #firstAppendMs: number | null = null;
  /** maxTimestamp of the batch at position 0, when a scan at open saw it. */
  #firstBatchTimestamp: number | null = null;
  #active = false;
  #pins = 0;
  #whenUnpinned: (() => Promise<void>) | null = null;
  #closed = false;
  /**
   * The bytes whose batch CRCs this process has not checked yet; reads check batches
   * there, once (see #verifiedPrefix). Every other byte below the size was checked: by
   * recovery, by an earlier read, or before it was appended (the produce path checks CRCs,
   * replica appends are checked by the log, the cleaner checks what it copies and computes
   * what it writes). It is [0, size) for a segment opened from disk and not recovered,
   * empty otherwise, and it only ever shrinks: reads take out the batches they checked,
   * and a truncation drops what lay past the cut, so the bytes in it never change.
   */
  readonly #unchecked: UncheckedRanges;
  /** How many times this segment's indexes had to be rebuilt from the log (tests look). */
  indexRebuilds = 0;
  /** How many batch CRCs reads have checked (tests look). */
  readCrcChecks = 0;

  private constructor(fsys: StorageFs, dir: string, baseOffset: bigint, size: number, indexIntervalBytes: number) {
    this.#fs = fsys;
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.#size = size;
    this.#indexIntervalBytes = indexIntervalBytes;
    this.#logPath = segmentFilePath(dir, baseOffset, LOG_FILE_SUFFIX);
    this.#unchecked = UncheckedRanges.upTo(size);
  }

  /**
   * Creates an empty active segment, replacing any leftover files with the same base
   * offset. The caller must fsync the directory before relying on the new file.
   */
  static async create(
    fsys: StorageFs,
    dir: string,
    baseOffset: bigint,
    indexIntervalBytes: number,
  ): Promise<LogSegment> {
    const seg = new LogSegment(fsys, dir, baseOffset, 0, indexIntervalBytes);
    await Promise.all([fsys.unlink(seg.indexPath), fsys.unlink(seg.timeIndexPath)]);
    seg.#file = await fsys.open(seg.logPath, 'create');
    seg.#offsetIndex = new OffsetIndex();
    seg.#timeIndex = new TimeIndex();
    seg.#maxTimestamp = -1;
    seg.#endOffset = baseOffset;
    seg.#active = true;
    return seg;
  }

  /**
   * A segment the log cleaner writes, in `<base>.log.cleaned`: appended to like an active
   * segment (indexes built in memory by the same rule), then synced, sealed with
   * markSealed(endOffset) and handed to Log.replaceSegments, which renames it into place
   * (renameLogFile) and writes its index files. Nothing reads it before that.
   */
  static async createCleaned(
    fsys: StorageFs,
    dir: string,
    baseOffset: bigint,
    indexIntervalBytes: number,
  ): Promise<LogSegment> {
    const seg = new LogSegment(fsys, dir, baseOffset, 0, indexIntervalBytes);
    seg.#setFileSuffix(CLEANED_FILE_SUFFIX);
    seg.#file = await fsys.open(seg.logPath, 'create');
    seg.#offsetIndex = new OffsetIndex();
    seg.#timeIndex = new TimeIndex();
    seg.#maxTimestamp = -1;
    seg.#endOffset = baseOffset;
    seg.#active = true;
    return seg;
  }

  /** A sealed segment found on disk. No I/O: files are opened when first needed. */
  static sealed(
    fsys: StorageFs,
    dir: string,
    baseOffset: bigint,
    size: number,
    endOffset: bigint,
    indexIntervalBytes: number,
  ): LogSegment {
    const seg = new LogSegment(fsys, dir, baseOffset, size, indexIntervalBytes);
    seg.#endOffset = endOffset;
    return seg;
  }

  /**
   * Opens the last segment of a log for appending. With `recover`, every batch is read
   * and CRC-checked, the file is cut at the first torn or corrupt batch and the indexes
   * are rebuilt (the crash path). Without it, the index files written at the clean
   * shutdown are trusted after a sanity check, and only the batches after the last index
   * entry are scanned; anything odd falls back to full recovery. Returns how many bytes
   * recovery cut off.
   */
  static async openLast(
    fsys: StorageFs,
    dir: string,
    baseOffset: bigint,
    indexIntervalBytes: number,
    recover: boolean,
    nowMs: number,
  ): Promise<{ segment: LogSegment; truncatedBytes: number }> {
    const seg = new LogSegment(fsys, dir, baseOffset, 0, indexIntervalBytes);
    const file = await fsys.open(seg.logPath, 'readWrite');
    seg.#file = file;
    seg.#size = await file.size();
    seg.#active = true;
    let truncatedBytes = 0;
    if (recover || !(await seg.#loadTrustedTail())) truncatedBytes = await seg.#recover();
    // The first batch's timestamp stands in for "when it arrived", but never in the future,
    // so a segment of replayed old data rolls at most once after a restart. The scans above
    // saw it when they started at position 0.
    if (seg.#size > 0) {
      if (seg.#firstBatchTimestamp === null) {
        seg.#firstBatchTimestamp = maxTimestampAt(await readFully(file, 0, SCAN_HEADER_BYTES), 0);
      }
      const first = seg.#firstBatchTimestamp;
      seg.#firstAppendMs = first < 0 || first > nowMs ? nowMs : first;
    }
    return { segment: seg, truncatedBytes };
  }

  get logPath(): string {
    return this.#logPath;
  }

  #setFileSuffix(suffix: string): void {
    this.#fileSuffix = suffix;
    this.#logPath = segmentFilePath(this.dir, this.baseOffset, LOG_FILE_SUFFIX) + suffix;
  }

  get indexPath(): string {
    return segmentFilePath(this.dir, this.baseOffset, INDEX_FILE_SUFFIX) + this.#fileSuffix;
  }

  get timeIndexPath(): string {
    return segmentFilePath(this.dir, this.baseOffset, TIME_INDEX_FILE_SUFFIX) + this.#fileSuffix;
  }

  /** Bytes of batches written (for the active segment, including ones not yet fsynced). */
  get size(): number {
    return this.#size;
  }

  get isActive(): boolean {
    return this.#active;
  }

  /** Offset after the last batch (active segment), or the next segment's base (sealed). */
  get endOffset(): bigint {
    return this.#endOffset ?? this.baseOffset;
  }

  set indexIntervalBytes(bytes: number) {
    this.#indexIntervalBytes = bytes;
  }

  /** Entries in the offset index (active segment; 0 when not loaded). */
  get offsetIndexEntries(): number {
    return this.#offsetIndex?.entries ?? 0;
  }

  get timeIndexEntries(): number {
    return this.#timeIndex?.entries ?? 0;
  }

  /** Milliseconds since the first batch arrived, for `segment.ms`; 0 while empty. */
  rollAgeMs(nowMs: number): number {
    return this.#firstAppendMs === null ? 0 : nowMs - this.#firstAppendMs;
  }

  // ---------------------------------------------------------------- appending

  /**
   * Writes whole batches (already carrying their final offsets) at the end of the file
   * with one vectored write, then records them in the in-memory indexes. Nothing is
   * recorded unless every byte was written; a failed or short write is cut back off the
   * file, and the SegmentWriteError says whether that worked.
   *
   * The write is synchronous: copying a group into the page cache takes tens of µs, less
   * than a threadpool round trip. Only the fdatasync (see sync) goes to the pool, so an
   * append to a page-cache topic makes no round trip at all. The buffers have been copied
   * by the time this returns or throws.
   *
   * Assumes: called from the log's serial queue on the active segment; the relative
   * offsets fit in int32 (the log rolls before they would not); every batch's CRC was
   * checked (reads do not check it again, see #uncheckedFrom).
   */
  async append(
    buffers: readonly Buffer[],
    bytes: number,
    batches: readonly SegmentBatch[],
    endOffset: bigint,
    nowMs: number,
  ): Promise<void> {
    const file = this.#file!;
    const position = this.#size;
    let written: number;
    try {
      written = file.writevSync(buffers, position);
    } catch (err) {
      throw await this.#undoWrite(file, position, err);
    }
    if (written !== bytes) throw await this.#undoWrite(file, position, shortWrite(file.path, written, bytes));
    let pos = position;
    for (const b of batches) {
      this.#indexBatch(b.relativeOffset, b.maxTimestamp, pos, b.size);
      pos += b.size;
    }
    this.#size = pos;
    this.#endOffset = endOffset;
    if (this.#firstAppendMs === null) this.#firstAppendMs = nowMs;
  }

  async #undoWrite(file: StorageFile, position: number, cause: unknown): Promise<SegmentWriteError> {
    try {
      await file.truncate(position);
      return new SegmentWriteError(file.path, cause, true);
    } catch {
      return new SegmentWriteError(file.path, cause, false);
    }
  }

  /** Kafka's rule: an index entry for the first batch that starts more than index.interval.bytes after the last one. */
  #indexBatch(relativeOffset: number, maxTimestamp: number, position: number, size: number): void {
    if (maxTimestamp > this.#maxTimestamp!) {
      this.#maxTimestamp = maxTimestamp;
      this.#offsetOfMaxTimestamp = relativeOffset;
    }
    if (this.#bytesSinceLastIndexEntry > this.#indexIntervalBytes) {
      this.#offsetIndex!.append(relativeOffset, position);
      this.#timeIndex!.maybeAppend(this.#maxTimestamp!, this.#offsetOfMaxTimestamp);
      this.#bytesSinceLastIndexEntry = 0;
    }
    this.#bytesSinceLastIndexEntry += size;
  }

  /** fdatasync of the log file: everything appended so far survives a crash. */
  async sync(): Promise<void> {
    if (this.#file !== null) await this.#file.datasync();
  }

  /**
   * Writes both index files (temp file, fdatasync, rename) from memory. The log calls
   * this when it rolls past this segment and when it closes; the renames become durable
   * with the directory fsync that follows (the roll creates a file, close writes the
   * clean-shutdown marker).
   */
  async writeIndexFiles(): Promise<void> {
    if (this.#offsetIndex === null || this.#timeIndex === null) return;
    if (this.#size > 0 || this.#maxTimestamp! >= 0) {
      this.#timeIndex.maybeAppend(this.#maxTimestamp!, this.#offsetOfMaxTimestamp);
    }
    await Promise.all([
      this.#writeIndexFile(this.indexPath, this.#offsetIndex.bytes()),
      this.#writeIndexFile(this.timeIndexPath, this.#timeIndex.bytes()),
    ]);
  }

  async #writeIndexFile(path: string, bytes: Buffer): Promise<void> {
    const tmp = path + TEMP_FILE_SUFFIX;
    const file = await this.#fs.open(tmp, 'create');
    try {
      const n = await file.writev([bytes], 0);
      if (n !== bytes.length) throw shortWrite(tmp, n, bytes.length);
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.#fs.rename(tmp, path);
  }

  /**
   * The log has rolled: this segment takes no more appends. Keeps indexes and file for reads.
   * A cleaned segment passes the end offset of the segments it replaces, which may lie
   * beyond its last batch, and their largest timestamp: if no batch survived, that stands
   * for its age (its time index carries it), as the original files' modification time does
   * in Kafka, so time retention treats it like the data it replaced.
   */
  markSealed(endOffset?: bigint, replacedLargestTimestamp = -1): void {
    this.#active = false;
    this.#endOffset = endOffset ?? this.#endOffset ?? this.baseOffset;
    if (this.#size === 0 && replacedLargestTimestamp >= 0) this.#maxTimestamp = replacedLargestTimestamp;
  }

  /**
   * Renames the log file from its current suffix to `suffix` (`.cleaned` → `.swap` → ``),
   * the steps of the cleaner's swap. Only the log file: a segment in the swap has its
   * indexes in memory and gets index files once it is in place. The open file handle keeps
   * serving reads across the renames.
   */
  async renameLogFile(suffix: string): Promise<void> {
    const to = segmentFilePath(this.dir, this.baseOffset, LOG_FILE_SUFFIX) + suffix;
    await this.#fs.rename(this.logPath, to);
    this.#setFileSuffix(suffix);
  }

  /** Closes and removes a segment the cleaner built but did not swap in. */
  async discard(): Promise<void> {
    this.#closed = true;
    this.#active = false;
    const file = this.#file;
    this.#file = null;
    await file?.close().catch(() => {});
    await this.#fs.unlink(this.logPath);
  }

  /**
   * Waits for a file open or index load that started before a rename (markForDeletion) to
   * finish. Once it has, every later access uses the new names, so a file that then takes
   * over the old name (a cleaned segment with the same base offset) is never opened, or
   * overwritten with stale index files, by this segment.
   */
  async settle(): Promise<void> {
    await Promise.allSettled([this.#opening, this.#loadingIndexes]);
  }

  // ---------------------------------------------------------------- loading and recovery

  /**
   * Clean-shutdown path for the last segment: adopt the index files, then scan the
   * batches after the last offset index entry to find the end offset and timestamps.
   * Returns false when anything does not add up, and the caller recovers instead.
   */
  async #loadTrustedTail(): Promise<boolean> {
    const indexes = await this.#readIndexFiles();
    if (indexes === null) return false;
    const { offsetIndex, timeIndex } = indexes;
    this.#offsetIndex = offsetIndex;
    this.#timeIndex = timeIndex;
    this.#maxTimestamp = timeIndex.entries > 0 ? timeIndex.lastTimestamp : -1;
    this.#offsetOfMaxTimestamp = timeIndex.entries > 0 ? timeIndex.relativeOffsetAt(timeIndex.entries - 1) : 0;
    const lastSlot = offsetIndex.entries - 1;
    const start = lastSlot < 0 ? 0 : offsetIndex.positionAt(lastSlot);
    let endOffset = this.baseOffset;
    let expected = lastSlot < 0 ? null : this.baseOffset + BigInt(offsetIndex.relativeOffsetAt(lastSlot));
    const scan = await this.#scan(start, this.#size, false, (buf, at, position, size) => {
      const base = batchBaseOffsetAt(buf, at);
      if (expected !== null && base !== expected) return false;
      expected = null;
      const ts = maxTimestampAt(buf, at);
      if (position === 0) this.#firstBatchTimestamp = ts;
      if (ts > this.#maxTimestamp!) {
        this.#maxTimestamp = ts;
        this.#offsetOfMaxTimestamp = Number(base - this.baseOffset);
      }
      endOffset = base + BigInt(lastOffsetDeltaAt(buf, at)) + 1n;
      this.#bytesSinceLastIndexEntry += size;
      return true;
    });
    if (scan.problem !== null || scan.position !== this.#size) {
      this.#offsetIndex = null;
      this.#timeIndex = null;
      this.#bytesSinceLastIndexEntry = 0;
      return false;
    }
    this.#endOffset = endOffset;
    // Only headers were looked at: reads check the CRCs of what was there before the restart.
    this.#unchecked.reset(this.#size);
    return true;
  }

  /**
   * Crash path: reads every batch, checks framing, CRC and that offsets only grow, and
   * rebuilds both indexes on the way. The file is cut at the first batch that fails
   * (a torn tail, garbage, a bit flip) and the cut is fsynced before anything is appended
   * after it. Returns the number of bytes removed.
   */
  async #recover(): Promise<number> {
    const fileSize = this.#size;
    this.#resetIndexes();
    let expected = this.baseOffset;
    const scan = await this.#scan(0, fileSize, true, (buf, at, position, size) => {
      const base = batchBaseOffsetAt(buf, at);
      const lastRelative = base + BigInt(lastOffsetDeltaAt(buf, at)) - this.baseOffset;
      if (base < expected || lastRelative > BigInt(INT32_MAX) || !batchCrcValid(buf, at)) return false;
      const ts = maxTimestampAt(buf, at);
      if (position === 0) this.#firstBatchTimestamp = ts;
      this.#indexBatch(Number(base - this.baseOffset), ts, position, size);
      expected = this.baseOffset + lastRelative + 1n;
      return true;
    });
    this.#endOffset = expected;
    this.#size = scan.position;
    // Every batch below the cut had its CRC checked just now.
    this.#unchecked.reset(0);
    if (scan.position < fileSize) {
      await this.#file!.truncate(scan.position);
      await this.#file!.datasync();
    }
    this.indexRebuilds++;
    return fileSize - scan.position;
  }

  #resetIndexes(): void {
    this.#offsetIndex = new OffsetIndex();
    this.#timeIndex = new TimeIndex();
    this.#maxTimestamp = -1;
    this.#offsetOfMaxTimestamp = 0;
    this.#bytesSinceLastIndexEntry = 0;
  }

  /**
   * Reads and sanity-checks both index files. Null when either is missing, has a partial
   * entry, is out of order, points outside the segment, or when the last offset index
   * entry does not point at a batch with the offset it claims.
   */
  async #readIndexFiles(): Promise<{ offsetIndex: OffsetIndex; timeIndex: TimeIndex } | null> {
    const [ib, tb] = await Promise.all([this.#fs.readFile(this.indexPath), this.#fs.readFile(this.timeIndexPath)]);
    if (ib === null || tb === null) return null;
    if (ib.length % OFFSET_INDEX_ENTRY_SIZE !== 0 || tb.length % TIME_INDEX_ENTRY_SIZE !== 0) return null;
    const offsetIndex = new OffsetIndex(ib);
    const timeIndex = new TimeIndex(tb);
    if (offsetIndex.sanityCheck(this.#size) !== null) return null;
    const maxRelative = this.#endOffset === null ? INT32_MAX : Number(this.#endOffset - this.baseOffset);
    if (timeIndex.sanityCheck(maxRelative) !== null) return null;
    // Sealed segments always end with an entry carrying their largest timestamp.
    if (!this.#active && this.#size > 0 && timeIndex.entries === 0) return null;
    if (offsetIndex.entries > 0) {
      const slot = offsetIndex.entries - 1;
      const file = await this.#openFile();
      const head = await readFully(file, offsetIndex.positionAt(slot), SCAN_HEADER_BYTES);
      if (batchFramingProblem(head, 0, this.#size - offsetIndex.positionAt(slot)) !== null) return null;
      if (batchBaseOffsetAt(head, 0) !== this.baseOffset + BigInt(offsetIndex.relativeOffsetAt(slot))) return null;
    }
    return { offsetIndex, timeIndex };
  }

  /** Makes sure a sealed segment's indexes are in memory, rebuilding them from the log when the files are unusable. */
  #ensureIndexes(): Promise<void> {
    if (this.#offsetIndex !== null) return Promise.resolve();
    this.#loadingIndexes ??= this.#loadIndexes().finally(() => {
      this.#loadingIndexes = null;
    });
    return this.#loadingIndexes;
  }

  async #loadIndexes(): Promise<void> {
    const indexes = await this.#readIndexFiles();
    if (indexes !== null) {
      const { offsetIndex, timeIndex } = indexes;
      this.#maxTimestamp = timeIndex.entries > 0 ? timeIndex.lastTimestamp : -1;
      this.#offsetOfMaxTimestamp = timeIndex.entries > 0 ? timeIndex.relativeOffsetAt(timeIndex.entries - 1) : 0;
      this.#timeIndex = timeIndex;
      this.#offsetIndex = offsetIndex;
      return;
    }
    await this.#rebuildIndexesFromHeaders();
    // The rebuilt files are derived data: if writing them fails the memory copy still
    // serves, and the next load rebuilds again.
    await this.writeIndexFiles().catch(() => {});
  }

  /**
   * Index rebuild for a sealed segment: headers only (its bytes were fsynced before it was
   * sealed, recovery already checked their CRCs). Returns the segment's end offset.
   */
  async #rebuildIndexesFromHeaders(): Promise<bigint> {
    const offsetIndex = new OffsetIndex();
    const timeIndex = new TimeIndex();
    let maxTs = -1;
    let offsetOfMax = 0;
    let since = 0;
    let end = this.baseOffset;
    const scan = await this.#scan(0, this.#size, false, (buf, at, position, size) => {
      const base = batchBaseOffsetAt(buf, at);
      const relative = Number(base - this.baseOffset);
      end = base + BigInt(lastOffsetDeltaAt(buf, at)) + 1n;
      const ts = maxTimestampAt(buf, at);
      if (ts > maxTs) {
        maxTs = ts;
        offsetOfMax = relative;
      }
      if (since > this.#indexIntervalBytes) {
        offsetIndex.append(relative, position);
        timeIndex.maybeAppend(maxTs, offsetOfMax);
        since = 0;
      }
      since += size;
      return true;
    });
    if (scan.problem !== null) {
      throw new CorruptRecordError(`rebuild the index of "${this.logPath}"`, scan.problem, scan.position);
    }
    this.#offsetIndex = offsetIndex;
    this.#timeIndex = timeIndex;
    this.#maxTimestamp = maxTs;
    this.#offsetOfMaxTimestamp = offsetOfMax;
    this.#bytesSinceLastIndexEntry = since;
    this.indexRebuilds++;
    return end;
  }

  /**
   * Walks the batches in [from, to) through a read window, calling `visit` with each
   * batch's header (with `whole`, the whole batch) in memory. Stops at `to`, at the first
   * batch whose framing is broken (returned as `problem`), or where `visit` returns false.
   */
  async #scan(
    from: number,
    to: number,
    whole: boolean,
    visit: (buf: Buffer, at: number, position: number, size: number) => boolean,
  ): Promise<{ position: number; problem: string | null }> {
    const file = await this.#openFile();
    const chunk = whole ? RECOVERY_CHUNK : SCAN_CHUNK;
    let buf = EMPTY;
    let bufStart = from;
    let pos = from;
    while (pos < to) {
      let at = pos - bufStart;
      if (at + SCAN_HEADER_BYTES > buf.length) {
        buf = await readFully(file, pos, Math.min(chunk, to - pos));
        bufStart = pos;
        at = 0;
      }
      const problem = batchFramingProblem(buf, at, to - bufStart);
      if (problem !== null) return { position: pos, problem };
      const size = batchSizeAt(buf, at);
      if (whole && at + size > buf.length) {
        buf = await readFully(file, pos, Math.max(size, Math.min(chunk, to - pos)));
        bufStart = pos;
        at = 0;
        if (buf.length < size) return { position: pos, problem: 'truncated record batch' };
      }
      if (!visit(buf, at, pos, size)) return { position: pos, problem: null };
      pos += size;
    }
    return { position: pos, problem: null };
  }

  /**
   * Opens a sealed segment's file on first use. Read-write, so that a truncation for
   * replication can reuse it. A deletion may rename the file while the open is under way;
   * then the open is retried under the new name.
   */
  #openFile(): Promise<StorageFile> {
    if (this.#file !== null) return Promise.resolve(this.#file);
    this.#opening ??= (async () => {
      const path = this.logPath;
      let file: StorageFile;
      try {
        file = await this.#fs.open(path, 'readWrite');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path === this.logPath) throw err;
        file = await this.#fs.open(this.logPath, 'readWrite');
      }
      this.#file = file;
      this.#opening = null;
      return file;
    })();
    return this.#opening;
  }

  // ---------------------------------------------------------------- reading and searching

  /**
   * Whole batches starting with the one that holds `offset`, up to `maxBytes` in total,
   * never reading at or past `maxPosition`. With `minOneBatch` the first batch is
   * returned whole even when it alone is larger than `maxBytes` (Kafka's rule, so a
   * consumer can always make progress). Returns null when no batch in the segment below
   * `maxPosition` reaches `offset`, and an empty buffer when the first batch is too
   * large and `minOneBatch` is off.
   */
  async read(
    offset: bigint,
    maxBytes: number,
    maxPosition: number,
    minOneBatch: boolean,
    pool: ReadBufferPool | null = null,
  ): Promise<Buffer | null> {
    this.#pins++;
    let window: ReadWindow | null = null;
    let returned: Buffer | null = null;
    try {
      if (maxPosition <= 0) return null;
      // Loaded and open after the first read: no await (a promise turn each) for those.
      if (this.#offsetIndex === null) await this.#ensureIndexes();
      const relative = offset <= this.baseOffset ? 0 : Number(offset - this.baseOffset);
      let pos = relative > INT32_MAX ? maxPosition : this.#offsetIndex!.lookupPosition(relative);
      const file = this.#file ?? (await this.#openFile());
      // One read usually serves both the search from the index entry and the data.
      window = new ReadWindow(file, maxPosition, this.#indexIntervalBytes + Math.max(maxBytes, 0) + 4096, pool);
      const path = this.#logPath;
      let start = -1;
      while (pos < maxPosition) {
        // Most headers are in the window already: no await (and no promise) for those.
        let at = window.find(pos);
        if (at < 0) at = await window.load(pos);
        window.check(at, pos, path);
        const last = batchBaseOffsetAt(window.buf, at) + BigInt(lastOffsetDeltaAt(window.buf, at));
        if (last >= offset) {
          start = pos;
          break;
        }
        pos += batchSizeAt(window.buf, at);
      }
      if (start < 0) return null;
      let end = start;
      while (end < maxPosition) {
        let at = window.find(end);
        if (at < 0) at = await window.load(end);
        window.check(at, end, path);
        const size = batchSizeAt(window.buf, at);
        if (end - start + size > maxBytes && !(end === start && minOneBatch)) break;
        end += size;
      }
      if (end === start) return EMPTY;
      const bytes = window.slice(start, end) ?? (await window.bytes(start, end, path));
      returned = this.#unchecked.overlaps(start, end) ? this.#verifiedPrefix(bytes, start) : bytes;
      return returned;
    } finally {
      // A pooled window buffer goes back unless the records returned are a view of it.
      if (window !== null && (returned === null || !window.holds(returned))) window.discard();
      this.#unpin();
    }
  }

  /**
   * The batches of `bytes` (read at `filePosition`) up to the first whose CRC does not
   * match, so that a byte the disk flipped is never served as data. Only unchecked batches
   * are hashed, and those that pass are taken out of the unchecked ranges, so each batch is
   * hashed once however often it is read; a corrupt one stays unchecked and fails every
   * read that reaches it. A bad first batch throws: the reader cannot skip
   * it, and the error names the file and position for the one log line the caller writes.
   */
  #verifiedPrefix(bytes: Buffer, filePosition: number): Buffer {
    let pos = 0;
    while (pos < bytes.length) {
      const at = filePosition + pos;
      const size = batchSizeAt(bytes, pos);
      if (this.#unchecked.contains(at)) {
        this.readCrcChecks++;
        if (!batchCrcValid(bytes, pos)) {
          this.#unchecked.remove(filePosition, at);
          if (pos === 0) {
            throw new CorruptRecordError(
              `read "${this.#logPath}"`,
              'record batch CRC does not match its contents',
              filePosition,
            );
          }
          return bytes.subarray(0, pos);
        }
      }
      pos += size;
    }
    this.#unchecked.remove(filePosition, filePosition + bytes.length);
    return bytes;
  }

  /**
   * Raw bytes of [position, position + length) (fewer at the end of the file), for the log
   * cleaner, which walks a sealed segment's batches itself. Pins the segment meanwhile.
   */
  async readBytes(position: number, length: number): Promise<Buffer> {
    this.#pins++;
    try {
      return await readFully(await this.#openFile(), position, Math.max(0, Math.min(length, this.#size - position)));
    } finally {
      this.#unpin();
    }
  }

  /** Header facts of the batch holding `offset`, or null when none below `maxPosition` does. */
  async findBatch(offset: bigint, maxPosition: number): Promise<StoredBatch | null> {
    return this.#search(maxPosition, offset, (buf, at) => {
      return batchBaseOffsetAt(buf, at) + BigInt(lastOffsetDeltaAt(buf, at)) >= offset;
    });
  }

  /**
   * The first batch at or after `minOffset` whose maxTimestamp is at least `timestamp`
   * (ListOffsets by timestamp), or null. The time index gives a starting point before
   * which every timestamp is smaller; batch headers are scanned from there.
   */
  async findByTimestamp(timestamp: number, minOffset: bigint, maxPosition: number): Promise<StoredBatch | null> {
    return this.#search(
      maxPosition,
      minOffset,
      (buf, at) =>
        maxTimestampAt(buf, at) >= timestamp &&
        batchBaseOffsetAt(buf, at) + BigInt(lastOffsetDeltaAt(buf, at)) >= minOffset,
      (fromOffset) => {
        const slot = this.#timeIndex!.lowerSlot(timestamp);
        const fromTime = slot < 0 ? 0 : this.#offsetIndex!.lookupPosition(this.#timeIndex!.relativeOffsetAt(slot));
        return Math.max(fromTime, fromOffset);
      },
    );
  }

  /** Scans headers from the index position for `offset` (adjusted by `start`) for the first batch that matches. */
  async #search(
    maxPosition: number,
    offset: bigint,
    match: (buf: Buffer, at: number) => boolean,
    start: (fromOffset: number) => number = (p) => p,
  ): Promise<StoredBatch | null> {
    this.#pins++;
    try {
      if (maxPosition <= 0) return null;
      await this.#ensureIndexes();
      const relative = offset <= this.baseOffset ? 0 : Number(offset - this.baseOffset);
      const from = start(relative > INT32_MAX ? maxPosition : this.#offsetIndex!.lookupPosition(relative));
      let found: StoredBatch | null = null;
      const scan = await this.#scan(from, maxPosition, false, (buf, at, position, size) => {
        if (!match(buf, at)) return true;
        const baseOffset = batchBaseOffsetAt(buf, at);
        found = {
          baseOffset,
          lastOffset: baseOffset + BigInt(lastOffsetDeltaAt(buf, at)),
          maxTimestamp: maxTimestampAt(buf, at),
          partitionLeaderEpoch: partitionLeaderEpochAt(buf, at),
          position,
          size,
        };
        return false;
      });
      if (scan.problem !== null) throw new CorruptRecordError(`read "${this.logPath}"`, scan.problem, scan.position);
      return found;
    } finally {
      this.#unpin();
    }
  }

  /**
   * Largest batch timestamp in the segment and the base offset of the batch holding it
   * (-1 when no batch carries a timestamp). For a sealed segment whose indexes are not
   * loaded, only the last time index entry is read.
   */
  async largestTimestamp(): Promise<{ timestamp: number; offset: bigint }> {
    if (this.#maxTimestamp === null) {
      const tail = await this.#readLastTimeIndexEntry();
      if (tail !== null) {
        this.#maxTimestamp = tail.timestamp;
        this.#offsetOfMaxTimestamp = tail.relativeOffset;
      } else {
        this.#pins++;
        try {
          await this.#ensureIndexes();
        } finally {
          this.#unpin();
        }
      }
    }
    return { timestamp: this.#maxTimestamp!, offset: this.baseOffset + BigInt(this.#offsetOfMaxTimestamp) };
  }

  async #readLastTimeIndexEntry(): Promise<{ timestamp: number; relativeOffset: number } | null> {
    let file: StorageFile;
    try {
      file = await this.#fs.open(this.timeIndexPath, 'read');
    } catch {
      return null;
    }
    try {
      const size = await file.size();
      if (size === 0 || size % TIME_INDEX_ENTRY_SIZE !== 0) return null;
      const entry = new TimeIndex(await readFully(file, size - TIME_INDEX_ENTRY_SIZE, TIME_INDEX_ENTRY_SIZE));
      if (entry.entries !== 1) return null;
      return { timestamp: entry.timestampAt(0), relativeOffset: entry.relativeOffsetAt(0) };
    } finally {
      await file.close().catch(() => {});
    }
  }

  /** Last-modified time of the log file, Kafka's fallback age for segments without timestamps. */
  async lastModifiedMs(): Promise<number> {
    return (await this.#fs.stat(this.logPath))?.mtimeMs ?? 0;
  }

  // ---------------------------------------------------------------- truncation, closing, deletion

  /**
   * Removes the batch holding `offset` and everything after it, makes this the active
   * segment again and returns its new end offset. Used by Log.truncateTo (replication).
   * Assumes: called from the log's serial queue, after every later segment was removed.
   */
  async truncateTo(offset: bigint): Promise<bigint> {
    const batch = await this.findBatch(offset, this.#size);
    const file = await this.#openFile();
    this.#active = true;
    if (batch !== null) {
      this.#unchecked.truncate(batch.position);
      await file.truncate(batch.position);
      await file.datasync();
      this.#size = batch.position;
    }
    // Truncation is rare; a full header rescan is the simple way to get every counter right.
    await this.#rebuildIndexesFromHeaders();
    // The log now ends where the removed batch began, or at `offset` itself when that lies
    // in a gap compaction left (no batch holds it): not at the last batch before the gap.
    const end = batch !== null && batch.baseOffset < offset ? batch.baseOffset : offset;
    this.#endOffset = end;
    return end;
  }

  #unpin(): void {
    this.#pins--;
    if (this.#pins === 0 && this.#whenUnpinned !== null) {
      const task = this.#whenUnpinned;
      this.#whenUnpinned = null;
      void task().catch(() => {});
    }
  }

  #whenIdle(task: () => Promise<void>): Promise<void> {
    if (this.#pins === 0) return task();
    this.#whenUnpinned = task;
    return Promise.resolve();
  }

  /** Closes the file, once in-flight reads are done. Does not write index files (see writeIndexFiles). */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#active = false;
    return this.#whenIdle(async () => {
      const file = this.#file ?? (this.#opening ? await this.#opening.catch(() => null) : null);
      this.#file = null;
      await file?.close();
    });
  }

  /**
   * Schedules the segment's files for deletion: they are renamed to `*.deleted` now (the
   * log file first, so a crash half-way never leaves index files describing a missing
   * log as live), and unlinked once no read holds the segment. A crash before the unlink
   * leaves `*.deleted` files, which the next open removes. With `unlinkDelayMs` (the
   * cleaner passes `file.delete.delay.ms`, as Kafka does) the unlink waits that much longer,
   * so that a search that took the old segment list before a swap can still finish on it.
   */
  async markForDeletion(unlinkDelayMs = 0): Promise<void> {
    const paths = [this.logPath, this.indexPath, this.timeIndexPath];
    await this.#fs.rename(paths[0]!, paths[0] + DELETED_FILE_SUFFIX);
    this.#setFileSuffix(this.#fileSuffix + DELETED_FILE_SUFFIX);
    const renamed = [this.logPath, this.indexPath, this.timeIndexPath];
    // Index files are derived data: one that cannot be renamed is an orphan without its
    // log file, which the next open removes.
    await Promise.all([
      this.#fs.rename(paths[1]!, renamed[1]!).catch(() => {}),
      this.#fs.rename(paths[2]!, renamed[2]!).catch(() => {}),
    ]);
    this.#closed = true;
    this.#active = false;
    const remove = () =>
      this.#whenIdle(async () => {
        const file = this.#file ?? (this.#opening ? await this.#opening.catch(() => null) : null);
        this.#file = null;
        await file?.close().catch(() => {});
        await Promise.all(renamed.map((p) => this.#fs.unlink(p).catch(() => {})));
      });
    if (unlinkDelayMs <= 0) return remove();
    setTimeout(() => void remove().catch(() => {}), Math.min(unlinkDelayMs, 0x7fffffff)).unref();
  }
}

/** Reads smaller than this allocate: the pool is for the large reads of consumers catching up. */
const POOLED_READ_MIN_BYTES = 64 * 1024;

/**
 * A window of file bytes for the read path: header lookups are served from it and refill
 * it when they fall outside, and the final slice is a view into it when it fits, so a
 * typical read costs one pread and no copy. Given a pool, a large window's buffer comes
 * from it; LogSegment.read gives it back unless the records it returns are a view of it.
 */
class ReadWindow {
  buf: Buffer = EMPTY;
  #start = 0;
  readonly #file: StorageFile;
  readonly #limit: number;
  readonly #size: number;
  readonly #pool: ReadBufferPool | null;
  /** The pooled buffer `buf` is a view of, when the window read through the pool. */
  #pooled: Buffer | null = null;

  constructor(file: StorageFile, limit: number, size: number, pool: ReadBufferPool | null) {
    this.#file = file;
    this.#limit = limit;
    this.#size = size;
    this.#pool = pool;
  }

  /** Index in `buf` of the batch header at file position `pos`, or -1 when the window does not hold it (then load). */
  find(pos: number): number {
    const at = pos - this.#start;
    return at < 0 || at + SCAN_HEADER_BYTES > this.buf.length ? -1 : at;
  }

  /** Refills the window from file position `pos`; returns the index of `pos` in `buf` (0). */
  async load(pos: number): Promise<number> {
    const length = Math.min(this.#size, this.#limit - pos);
    if (this.#pool === null || length < POOLED_READ_MIN_BYTES) {
      this.discard();
      this.buf = await readFully(this.#file, pos, length);
    } else {
      // Nothing read into the window so far has been handed out: its buffer can be reused.
      if (this.#pooled !== null && this.#pooled.length < length) this.discard();
      this.#pooled ??= this.#pool.acquire(length);
      this.buf = await readFullyInto(this.#file, this.#pooled.subarray(0, length), pos, length);
    }
    this.#start = pos;
    return 0;
  }

  /** Whether `bytes` is a view of the window's pooled buffer. */
  holds(bytes: Buffer): boolean {
    return this.#pooled !== null && bytes.buffer === this.#pooled.buffer;
  }

  /** Gives the pooled buffer back: nothing of it is in use any more. */
  discard(): void {
    if (this.#pooled !== null) this.#pool!.release(this.#pooled);
    this.#pooled = null;
  }

  /** Checks the framing of the batch header at `buf[at]` (file position `pos`). */
  check(at: number, pos: number, path: string): void {
    const problem = batchFramingProblem(this.buf, at, this.#limit - this.#start);
    if (problem !== null) throw new CorruptRecordError(`read "${path}"`, problem, pos);
  }

  /** The bytes of [from, to) as a view into the window, or null when it does not hold them all (then bytes). */
  slice(from: number, to: number): Buffer | null {
    const at = from - this.#start;
    return at >= 0 && to - this.#start <= this.buf.length ? this.buf.subarray(at, to - this.#start) : null;
  }

  /** The bytes of [from, to), read from the file when the window does not hold them all. */
  async bytes(from: number, to: number, path: string): Promise<Buffer> {
    const inWindow = this.slice(from, to);
    if (inWindow !== null) return inWindow;
    const out = await readFully(this.#file, from, to - from);
    if (out.length !== to - from) throw new CorruptRecordError(`read "${path}"`, 'file ends inside a batch', from);
    return out;
  }
}
