import { DecodeError } from '../../protocol/errors.ts';
import {
  BatchHeaderOffset,
  RECORD_BATCH_OVERHEAD,
  type RecordBatchHeader,
} from '../../protocol/records/batch-header.ts';
import { DEFAULT_MAX_DECOMPRESSED_SIZE, decompress } from '../../protocol/records/compression/index.ts';
import { crc32c } from '../../protocol/records/crc32c.ts';

/**
 * The cleaner's own walk over the records of a batch: where each record's bytes are, its
 * offset and timestamp deltas, its key and whether its value is null; nothing allocated
 * per record. The cleaner decides what to keep from this alone, and copies the kept
 * records' bytes as they are when their deltas do not change. (Decoding every record into
 * objects, as the protocol decoder does, costs about ten times as much.)
 *
 * Records are checked as strictly as the decoder checks them, minus header contents: every
 * length within bounds, exactly `recordCount` records filling the section.
 */
export class RecordScan {
  /** The records section, decompressed. */
  readonly data: Buffer;
  readonly count: number;
  /** Per record: byte range in `data` (including its length prefix), deltas, key range (-1: null key), null value. */
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly offsetDelta: Int32Array;
  readonly timestampDelta: Float64Array;
  readonly keyStart: Int32Array;
  readonly keyEnd: Int32Array;
  readonly nullValue: Uint8Array;

  private constructor(data: Buffer, count: number) {
    this.data = data;
    this.count = count;
    this.start = new Int32Array(count);
    this.end = new Int32Array(count);
    this.offsetDelta = new Int32Array(count);
    this.timestampDelta = new Float64Array(count);
    this.keyStart = new Int32Array(count);
    this.keyEnd = new Int32Array(count);
    this.nullValue = new Uint8Array(count);
  }

  /**
   * Checks the batch's CRC, decompresses its records and walks them. Throws DecodeError for
   * anything malformed.
   */
  static async of(batch: Buffer, header: RecordBatchHeader): Promise<RecordScan> {
    if (crc32c(batch, BatchHeaderOffset.ATTRIBUTES, batch.length) !== header.crc) {
      throw new DecodeError('Record batch CRC does not match its content', BatchHeaderOffset.CRC);
    }
    const payload = batch.subarray(RECORD_BATCH_OVERHEAD);
    const data =
      header.compression === 0
        ? payload
        : await decompress(header.compression, payload, {
            maxSize: DEFAULT_MAX_DECOMPRESSED_SIZE,
            position: RECORD_BATCH_OVERHEAD,
          });
    const scan = new RecordScan(data, header.recordCount);
    scan.#walk();
    return scan;
  }

  #walk(): void {
    const buf = this.data;
    const limit = buf.length;
    const cursor = { pos: 0 };
    for (let i = 0; i < this.count; i++) {
      const at = cursor.pos;
      const length = varint(buf, cursor, limit);
      const bodyStart = cursor.pos;
      if (length < 6 || bodyStart + length > limit) throw new DecodeError(`Invalid record length ${length}`, at);
      const bodyEnd = bodyStart + length;
      cursor.pos++; // attributes
      this.timestampDelta[i] = varlong(buf, cursor, bodyEnd);
      this.offsetDelta[i] = varint(buf, cursor, bodyEnd);
      const keyLength = varint(buf, cursor, bodyEnd);
      if (keyLength < -1 || cursor.pos + Math.max(keyLength, 0) > bodyEnd) {
        throw new DecodeError(`Invalid record key length ${keyLength}`, cursor.pos);
      }
      this.keyStart[i] = keyLength < 0 ? -1 : cursor.pos;
      this.keyEnd[i] = keyLength < 0 ? -1 : cursor.pos + keyLength;
      cursor.pos += Math.max(keyLength, 0);
      const valueLength = varint(buf, cursor, bodyEnd);
      if (valueLength < -1 || cursor.pos + Math.max(valueLength, 0) > bodyEnd) {
        throw new DecodeError(`Invalid record value length ${valueLength}`, cursor.pos);
      }
      this.nullValue[i] = valueLength < 0 ? 1 : 0;
      this.start[i] = at;
      this.end[i] = bodyEnd;
      cursor.pos = bodyEnd;
    }
    if (cursor.pos !== limit) throw new DecodeError(`${limit - cursor.pos} bytes follow the last record`, cursor.pos);
  }

  hasKey(i: number): boolean {
    return this.keyStart[i]! >= 0;
  }
}

/** A zig-zag varint (32-bit) ending before `limit`. */
function varint(buf: Buffer, cursor: { pos: number }, limit: number): number {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (cursor.pos >= limit || shift > 28) throw new DecodeError('Invalid varint', cursor.pos);
    const b = buf[cursor.pos++]!;
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return (value >>> 1) ^ -(value & 1);
}

/** A zig-zag varlong as a number (exact up to 2^53, far beyond any timestamp delta). */
function varlong(buf: Buffer, cursor: { pos: number }, limit: number): number {
  let value = 0;
  let scale = 1;
  for (let n = 0; ; n++) {
    if (cursor.pos >= limit || n >= 10) throw new DecodeError('Invalid varlong', cursor.pos);
    const b = buf[cursor.pos++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) break;
    scale *= 128;
  }
  return value % 2 === 1 ? -(value + 1) / 2 : value / 2;
}
