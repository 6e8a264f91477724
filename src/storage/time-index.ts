import { EntryBuffer } from './entry-buffer.ts';

/** Bytes per time index entry: int64 timestamp, int32 offset relative to the segment base. */
export const TIME_INDEX_ENTRY_SIZE = 12;

const TWO_32 = 2 ** 32;

/**
 * The time index of one segment, in Kafka's `.timeindex` layout. An entry (T, O) says: the
 * largest timestamp among the batches up to and including the batch at offset O is T, and
 * that batch holds it. Entries are added with offset index entries (every
 * `index.interval.bytes`) when the largest timestamp grew, and once more when the segment
 * is sealed, so the last entry carries the segment's largest timestamp.
 *
 * Timestamps are milliseconds as JS numbers (exact up to 2^53, far beyond any real clock).
 */
export class TimeIndex extends EntryBuffer {
  constructor(bytes?: Buffer) {
    super(TIME_INDEX_ENTRY_SIZE, bytes);
  }

  timestampAt(slot: number): number {
    const at = slot * TIME_INDEX_ENTRY_SIZE;
    return this.buf.readInt32BE(at) * TWO_32 + this.buf.readUInt32BE(at + 4);
  }

  relativeOffsetAt(slot: number): number {
    return this.buf.readInt32BE(slot * TIME_INDEX_ENTRY_SIZE + 8);
  }

  get lastTimestamp(): number {
    return this.entries === 0 ? -1 : this.timestampAt(this.entries - 1);
  }

  /** Appends (timestamp, relativeOffset) if the timestamp is larger than the last one. */
  maybeAppend(timestamp: number, relativeOffset: number): void {
    if (this.entries > 0 && timestamp <= this.lastTimestamp) return;
    if (this.entries > 0 && relativeOffset < this.relativeOffsetAt(this.entries - 1)) return;
    const at = this.slotForAppend();
    this.buf.writeInt32BE(Math.floor(timestamp / TWO_32), at);
    this.buf.writeUInt32BE(timestamp >>> 0, at + 4);
    this.buf.writeInt32BE(relativeOffset, at + 8);
  }

  /**
   * Slot of the last entry whose timestamp is strictly below `timestamp`, or -1. Every
   * batch up to that entry's offset has only smaller timestamps, so a search for the first
   * batch reaching `timestamp` can start there. (Kafka uses <=, which can skip an earlier
   * record with exactly the target timestamp.)
   */
  lowerSlot(timestamp: number): number {
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestampAt(mid) < timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Drops entries pointing at offsets >= relativeOffset. */
  truncateToOffset(relativeOffset: number): void {
    let n = this.entries;
    while (n > 0 && this.relativeOffsetAt(n - 1) >= relativeOffset) n--;
    this.truncateToEntries(n);
  }

  /** Why the entries are not sane (timestamps and offsets must not go backwards, offsets within range), or null. */
  sanityCheck(maxRelativeOffset: number): string | null {
    let prevTs = Number.NEGATIVE_INFINITY;
    let prevOffset = -1;
    for (let i = 0; i < this.entries; i++) {
      const ts = this.timestampAt(i);
      const offset = this.relativeOffsetAt(i);
      if (ts <= prevTs || offset < prevOffset) return `entry ${i} is out of order`;
      if (offset < 0 || offset > maxRelativeOffset) return `entry ${i} points outside the segment`;
      prevTs = ts;
      prevOffset = offset;
    }
    return null;
  }
}
