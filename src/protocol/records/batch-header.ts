import { DecodeError } from '../errors.ts';
import { crc32c } from './crc32c.ts';

/**
 * Byte offsets of the fields of a magic-2 record batch header, relative to the start of
 * the batch. `RECORDS` is where the records begin, which is also the header size.
 */
export const BatchHeaderOffset = {
  BASE_OFFSET: 0,
  BATCH_LENGTH: 8,
  PARTITION_LEADER_EPOCH: 12,
  MAGIC: 16,
  CRC: 17,
  ATTRIBUTES: 21,
  LAST_OFFSET_DELTA: 23,
  BASE_TIMESTAMP: 27,
  MAX_TIMESTAMP: 35,
  PRODUCER_ID: 43,
  PRODUCER_EPOCH: 51,
  BASE_SEQUENCE: 53,
  RECORD_COUNT: 57,
  RECORDS: 61,
} as const;

/** Size of the batch header; an empty batch is exactly this long. */
export const RECORD_BATCH_OVERHEAD = BatchHeaderOffset.RECORDS;
/** baseOffset + batchLength: the framing every magic (0, 1, 2) shares in a log or a `records` field. */
export const LOG_OVERHEAD = 12;
/** batchLength counts the bytes after itself, so it can never be below this. */
export const MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD;

export const MAGIC_V2 = 2;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;
export const DELETE_HORIZON_FLAG_MASK = 0x40;

export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
export const NO_TIMESTAMP = -1n;

/** Codec ids carried in attribute bits 0–2. */
export const CompressionCodec = {
  None: 0,
  Gzip: 1,
  Snappy: 2,
  Lz4: 3,
  Zstd: 4,
} as const;
export type CompressionCodec = (typeof CompressionCodec)[keyof typeof CompressionCodec];

export const TimestampType = {
  CreateTime: 0,
  LogAppendTime: 1,
} as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/** The meaning of a batch's attributes field. */
export interface BatchAttributes {
  /** Attribute bits 0–2. Values 5–7 are not codecs; they are kept so the header can still be read. */
  compression: number;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControlBatch: boolean;
  /** When set, baseTimestamp holds the delete horizon that compaction wrote. */
  hasDeleteHorizon: boolean;
}

export function parseBatchAttributes(attributes: number): BatchAttributes {
  return {
    compression: attributes & COMPRESSION_CODEC_MASK,
    timestampType: attributes & TIMESTAMP_TYPE_MASK ? TimestampType.LogAppendTime : TimestampType.CreateTime,
    isTransactional: (attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControlBatch: (attributes & CONTROL_FLAG_MASK) !== 0,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_FLAG_MASK) !== 0,
  };
}

export function batchAttributes(a: Partial<BatchAttributes>): number {
  const compression = a.compression ?? CompressionCodec.None;
  if (!Number.isInteger(compression) || compression < 0 || compression > COMPRESSION_CODEC_MASK) {
    throw new RangeError(`Invalid compression codec ${compression}`);
  }
  return (
    compression |
    (a.timestampType === TimestampType.LogAppendTime ? TIMESTAMP_TYPE_MASK : 0) |
    (a.isTransactional ? TRANSACTIONAL_FLAG_MASK : 0) |
    (a.isControlBatch ? CONTROL_FLAG_MASK : 0) |
    (a.hasDeleteHorizon ? DELETE_HORIZON_FLAG_MASK : 0)
  );
}

/** The fixed 61-byte header of a magic-2 batch, with the attribute bits spelled out. */
export interface RecordBatchHeader extends BatchAttributes {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** Unsigned, as CRC-32C values are usually printed. */
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  /** baseOffset + lastOffsetDelta. */
  lastOffset: bigint;
  /** Bytes the whole batch occupies: batchLength + 12. */
  sizeInBytes: number;
}

/**
 * Total size of the batch (any magic) starting at `offset`, or null when fewer than the 12
 * framing bytes are there. Lets a caller split concatenated batches, or notice a torn
 * tail, without parsing anything else. Throws DecodeError for a length no batch can have.
 */
export function batchSizeAt(buf: Uint8Array, offset = 0): number | null {
  if (offset < 0 || offset > buf.length)
    throw new RangeError(`Offset ${offset} is outside the ${buf.length}-byte buffer`);
  if (buf.length - offset < LOG_OVERHEAD) return null;
  const view = toBuffer(buf);
  const batchLength = view.readInt32BE(offset + BatchHeaderOffset.BATCH_LENGTH);
  // Magic 0 messages can be as short as 14 bytes, so only the magic-2 minimum is enforced
  // by readBatchHeader; here a length must merely be positive.
  if (batchLength <= 0) throw new DecodeError(`Invalid batch length ${batchLength}`, offset + 8);
  return batchLength + LOG_OVERHEAD;
}

/**
 * Parses the header of the magic-2 batch at `offset` without touching its records, so it
 * costs the same for a 100-byte batch and a 1 MiB one. Needs only the 61 header bytes to
 * be present; the rest of the batch may still be on disk. Throws DecodeError for a short
 * header, a magic other than 2, a batchLength below the header size or a negative count.
 */
export function readBatchHeader(buf: Uint8Array, offset = 0): RecordBatchHeader {
  if (offset < 0 || offset > buf.length)
    throw new RangeError(`Offset ${offset} is outside the ${buf.length}-byte buffer`);
  const view = toBuffer(buf);
  if (view.length - offset < RECORD_BATCH_OVERHEAD) {
    // The magic byte decides how the rest is read, so report it when that is the problem.
    if (view.length - offset > BatchHeaderOffset.MAGIC && view[offset + BatchHeaderOffset.MAGIC] !== MAGIC_V2) {
      throw new DecodeError(`Unsupported record batch magic ${view.readInt8(offset + 16)}`, offset + 16);
    }
    throw new DecodeError(
      `Record batch header needs ${RECORD_BATCH_OVERHEAD} bytes, ${view.length - offset} left`,
      offset,
    );
  }
  const magic = view.readInt8(offset + BatchHeaderOffset.MAGIC);
  if (magic !== MAGIC_V2) throw new DecodeError(`Unsupported record batch magic ${magic}`, offset + 16);
  const batchLength = view.readInt32BE(offset + BatchHeaderOffset.BATCH_LENGTH);
  if (batchLength < MIN_BATCH_LENGTH) {
    throw new DecodeError(`Record batch length ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`, offset + 8);
  }
  const recordCount = view.readInt32BE(offset + BatchHeaderOffset.RECORD_COUNT);
  if (recordCount < 0) throw new DecodeError(`Negative record count ${recordCount}`, offset + 57);
  const attributes = view.readInt16BE(offset + BatchHeaderOffset.ATTRIBUTES);
  const baseOffset = view.readBigInt64BE(offset + BatchHeaderOffset.BASE_OFFSET);
  const lastOffsetDelta = view.readInt32BE(offset + BatchHeaderOffset.LAST_OFFSET_DELTA);
  return {
    baseOffset,
    batchLength,
    partitionLeaderEpoch: view.readInt32BE(offset + BatchHeaderOffset.PARTITION_LEADER_EPOCH),
    magic,
    crc: view.readUInt32BE(offset + BatchHeaderOffset.CRC),
    attributes,
    lastOffsetDelta,
    baseTimestamp: view.readBigInt64BE(offset + BatchHeaderOffset.BASE_TIMESTAMP),
    maxTimestamp: view.readBigInt64BE(offset + BatchHeaderOffset.MAX_TIMESTAMP),
    producerId: view.readBigInt64BE(offset + BatchHeaderOffset.PRODUCER_ID),
    producerEpoch: view.readInt16BE(offset + BatchHeaderOffset.PRODUCER_EPOCH),
    baseSequence: view.readInt32BE(offset + BatchHeaderOffset.BASE_SEQUENCE),
    recordCount,
    lastOffset: baseOffset + BigInt(lastOffsetDelta),
    sizeInBytes: batchLength + LOG_OVERHEAD,
    ...parseBatchAttributes(attributes),
  };
}

/** End of the batch at `offset`, after checking the whole of it is in `buf`. */
function batchEnd(buf: Buffer, offset: number): number {
  const header = readBatchHeader(buf, offset);
  const end = offset + header.sizeInBytes;
  if (end > buf.length) {
    throw new DecodeError(`Record batch of ${header.sizeInBytes} bytes is truncated to ${buf.length - offset}`, offset);
  }
  return end;
}

/** The CRC-32C the batch at `offset` should carry: attributes through the last byte. */
export function computeBatchCrc(buf: Uint8Array, offset = 0): number {
  const view = toBuffer(buf);
  return crc32c(view, offset + BatchHeaderOffset.ATTRIBUTES, batchEnd(view, offset));
}

/**
 * Whether the stored CRC matches the batch's bytes. False means corrupt content; a batch
 * that is not even whole (short, bad magic or length) throws DecodeError instead, which
 * is what lets recovery tell a torn tail from a bit flip.
 */
export function batchCrcValid(buf: Uint8Array, offset = 0): boolean {
  const view = toBuffer(buf);
  return computeBatchCrc(view, offset) === view.readUInt32BE(offset + BatchHeaderOffset.CRC);
}

/** Recomputes and stores the CRC after a change to a covered field. */
export function updateBatchCrc(buf: Uint8Array, offset = 0): void {
  const view = toBuffer(buf);
  view.writeUInt32BE(computeBatchCrc(view, offset), offset + BatchHeaderOffset.CRC);
}

/** baseOffset is outside the CRC, so the broker assigns offsets without rehashing. */
export function setBaseOffset(buf: Uint8Array, offset: number, baseOffset: bigint): void {
  const view = toBuffer(buf);
  readBatchHeader(view, offset);
  view.writeBigInt64BE(baseOffset, offset + BatchHeaderOffset.BASE_OFFSET);
}

/** partitionLeaderEpoch is outside the CRC as well. */
export function setPartitionLeaderEpoch(buf: Uint8Array, offset: number, partitionLeaderEpoch: number): void {
  const view = toBuffer(buf);
  readBatchHeader(view, offset);
  view.writeInt32BE(partitionLeaderEpoch, offset + BatchHeaderOffset.PARTITION_LEADER_EPOCH);
}

/**
 * Sets the timestamp type bit and maxTimestamp, then the CRC, which covers both. This is
 * the broker's LogAppendTime rewrite: `setMaxTimestamp(buf, 0, TimestampType.LogAppendTime, now)`.
 * Like Kafka it leaves the bytes (and the CRC work) alone when nothing would change.
 */
export function setMaxTimestamp(
  buf: Uint8Array,
  offset: number,
  timestampType: TimestampType,
  maxTimestamp: bigint,
): void {
  const view = toBuffer(buf);
  const header = readBatchHeader(view, offset);
  if (header.timestampType === timestampType && header.maxTimestamp === maxTimestamp) return;
  batchEnd(view, offset);
  const attributes =
    timestampType === TimestampType.LogAppendTime
      ? header.attributes | TIMESTAMP_TYPE_MASK
      : header.attributes & ~TIMESTAMP_TYPE_MASK;
  view.writeInt16BE(attributes, offset + BatchHeaderOffset.ATTRIBUTES);
  view.writeBigInt64BE(maxTimestamp, offset + BatchHeaderOffset.MAX_TIMESTAMP);
  updateBatchCrc(view, offset);
}

function toBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}
