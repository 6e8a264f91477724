import {
  BatchHeaderOffset,
  batchCrcValid,
  LOG_OVERHEAD,
  MAGIC_V2,
  MIN_BATCH_LENGTH,
  RECORD_BATCH_OVERHEAD,
} from '../protocol/records/batch-header.ts';
import { CorruptRecordError, RecordBatchTooLargeError } from './errors.ts';

/**
 * The few batch-header reads the storage layer does on its hot paths, straight off the
 * buffer at the offsets batch-header.ts defines. readBatchHeader builds a 20-field object
 * with five bigints; appends and scans only need two or three fields of each batch.
 */

const TWO_32 = 2 ** 32;

/** Whole size of the batch at `pos` (batchLength + 12). Assumes the 12 framing bytes are there. */
export function batchSizeAt(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
}

export function batchBaseOffsetAt(buf: Buffer, pos: number): bigint {
  return buf.readBigInt64BE(pos + BatchHeaderOffset.BASE_OFFSET);
}

export function lastOffsetDeltaAt(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + BatchHeaderOffset.LAST_OFFSET_DELTA);
}

export function partitionLeaderEpochAt(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos + BatchHeaderOffset.PARTITION_LEADER_EPOCH);
}

/** maxTimestamp as a number of milliseconds (exact for any real clock value). */
export function maxTimestampAt(buf: Buffer, pos: number): number {
  const at = pos + BatchHeaderOffset.MAX_TIMESTAMP;
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

/** Bytes of a header the scans need: everything up to and including maxTimestamp. */
export const SCAN_HEADER_BYTES = BatchHeaderOffset.PRODUCER_ID;

/**
 * Why the batch at `pos` cannot be a whole magic-2 batch ending by `end`, or null. Needs
 * SCAN_HEADER_BYTES of the header in `buf`, or reports the batch as short. It checks the
 * framing only; CRCs are checked by the produce validator upstream, summarizeRecords for
 * replica appends, recovery, and the first read of bytes this process did not append.
 */
export function batchFramingProblem(buf: Buffer, pos: number, end: number): string | null {
  if (end - pos < RECORD_BATCH_OVERHEAD || buf.length - pos < SCAN_HEADER_BYTES) return 'truncated batch header';
  const magic = buf.readInt8(pos + BatchHeaderOffset.MAGIC);
  if (magic !== MAGIC_V2) return `unsupported record batch magic ${magic}`;
  const batchLength = buf.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH);
  if (batchLength < MIN_BATCH_LENGTH) return `invalid record batch length ${batchLength}`;
  if (batchLength + LOG_OVERHEAD > end - pos) return `record batch of ${batchLength + LOG_OVERHEAD} bytes is truncated`;
  if (lastOffsetDeltaAt(buf, pos) < 0) return `negative last offset delta ${lastOffsetDeltaAt(buf, pos)}`;
  return null;
}

export interface RecordsSummary {
  batchCount: number;
  sizeInBytes: number;
  /** baseOffset of the first batch as carried in the bytes (meaningful for replica appends). */
  firstOffset: bigint;
  /** Last offset of the last batch as carried in the bytes. */
  lastOffset: bigint;
  /** How many offsets the batches take: the sum of lastOffsetDelta + 1. */
  offsetCount: bigint;
}

/**
 * Checks that `records` is a sequence of whole magic-2 batches no larger than
 * `maxBatchBytes` each, and sums up what the log needs to place them. One pass over the
 * headers, nothing per record. With `offsetsAssigned` (replica appends) the offsets the
 * batches carry must also increase, and each batch's CRC must match, as Kafka's follower
 * checks: reads trust appended batches (LogSegment), and a leader's were checked by the
 * produce path.
 */
export function summarizeRecords(
  records: Buffer,
  maxBatchBytes: number,
  operation: string,
  offsetsAssigned: boolean,
): RecordsSummary {
  if (records.length === 0) throw new CorruptRecordError(operation, 'no record batches', 0);
  let pos = 0;
  let batchCount = 0;
  let offsetCount = 0;
  let firstOffset = 0n;
  let lastOffset = -1n;
  while (pos < records.length) {
    const problem = batchFramingProblem(records, pos, records.length);
    if (problem !== null) throw new CorruptRecordError(operation, problem, pos);
    const size = batchSizeAt(records, pos);
    if (size > maxBatchBytes) throw new RecordBatchTooLargeError(operation, size, maxBatchBytes);
    const delta = lastOffsetDeltaAt(records, pos);
    if (offsetsAssigned) {
      const base = batchBaseOffsetAt(records, pos);
      if (batchCount === 0) firstOffset = base;
      else if (base <= lastOffset) throw new CorruptRecordError(operation, `offset ${base} goes backwards`, pos);
      lastOffset = base + BigInt(delta);
      if (!batchCrcValid(records, pos)) {
        throw new CorruptRecordError(operation, 'record batch CRC does not match its contents', pos);
      }
    }
    offsetCount += delta + 1;
    batchCount++;
    pos += size;
  }
  if (!offsetsAssigned) lastOffset = BigInt(offsetCount) - 1n;
  return { batchCount, sizeInBytes: records.length, firstOffset, lastOffset, offsetCount: BigInt(offsetCount) };
}
