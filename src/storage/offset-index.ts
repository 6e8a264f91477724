import { EntryBuffer } from './entry-buffer.ts';

/** Bytes per offset index entry: int32 offset relative to the segment base, int32 file position. */
export const OFFSET_INDEX_ENTRY_SIZE = 8;

/**
 * The sparse offset index of one segment, in Kafka's `.index` layout: each entry maps the
 * base offset of a batch (relative to the segment's base offset) to the byte position of
 * that batch in the `.log` file. An entry is added once every `index.interval.bytes`
 * appended, so a lookup lands at most that many bytes before the batch it wants.
 */
export class OffsetIndex extends EntryBuffer {
  constructor(bytes?: Buffer) {
    super(OFFSET_INDEX_ENTRY_SIZE, bytes);
  }

  relativeOffsetAt(slot: number): number {
    return this.buf.readInt32BE(slot * OFFSET_INDEX_ENTRY_SIZE);
  }

  positionAt(slot: number): number {
    return this.buf.readUInt32BE(slot * OFFSET_INDEX_ENTRY_SIZE + 4);
  }

  /** Assumes entries only grow: callers append in offset and position order. */
  append(relativeOffset: number, position: number): void {
    const at = this.slotForAppend();
    this.buf.writeInt32BE(relativeOffset, at);
    this.buf.writeUInt32BE(position, at + 4);
  }

  /** Slot of the last entry whose relative offset is <= `relativeOffset`, or -1. */
  floorSlot(relativeOffset: number): number {
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relativeOffsetAt(mid) <= relativeOffset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** A file position at or before the batch holding `relativeOffset` (0 when no entry helps). */
  lookupPosition(relativeOffset: number): number {
    const slot = this.floorSlot(relativeOffset);
    return slot < 0 ? 0 : this.positionAt(slot);
  }

  /** Drops entries for batches at or after `position` (used when the log is truncated there). */
  truncateToPosition(position: number): void {
    let n = this.entries;
    while (n > 0 && this.positionAt(n - 1) >= position) n--;
    this.truncateToEntries(n);
  }

  /**
   * Why the entries cannot belong to a segment of `segmentSize` bytes, or null when they
   * look sane: offsets and positions must strictly increase and stay inside the segment.
   * This is the cheap structural check; the caller also verifies the last entry against
   * the batch header it points at.
   */
  sanityCheck(segmentSize: number): string | null {
    let prevOffset = -1;
    let prevPosition = -1;
    for (let i = 0; i < this.entries; i++) {
      const offset = this.relativeOffsetAt(i);
      const position = this.positionAt(i);
      if (offset <= prevOffset || position <= prevPosition) return `entry ${i} is out of order`;
      if (position >= segmentSize) return `entry ${i} points past the end of the segment`;
      prevOffset = offset;
      prevPosition = position;
    }
    return null;
  }
}
