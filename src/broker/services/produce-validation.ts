import { DecodeError } from '../../protocol/errors.ts';
import {
  BatchHeaderOffset,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CompressionCodec,
  LOG_OVERHEAD,
  MAGIC_V2,
  MIN_BATCH_LENGTH,
  RECORD_BATCH_OVERHEAD,
  TimestampType,
} from '../../protocol/records/batch-header.ts';
import { crc32c } from '../../protocol/records/crc32c.ts';
import { decodeMessageSet, type LegacyMessage } from '../../protocol/records/legacy-message-set.ts';
import {
  createRecordBatch,
  decodeRecordBatch,
  encodeRecordBatch,
  encodeRecordBatchSync,
  type RecordBatch,
  recordTimestamp,
} from '../../protocol/records/record-batch.ts';
import type { LogConfig } from '../../storage/config.ts';
import {
  CorruptMessageError,
  InvalidRecordError,
  InvalidTimestampError,
  type RecordError,
  RecordTooLargeError,
  UnsupportedCompressionTypeError,
} from './replica-errors.ts';

/**
 * What the broker checks in a produced `records` field before the log sees it, and the one
 * conversion it does (old magic 0/1 message sets up to a magic-2 batch).
 *
 * The common case costs one pass over the batch headers plus the CRC: nothing is
 * decompressed and no record is looked at. Records are decoded only when a topic config
 * needs them: CreateTime bounds (message.timestamp.before/after.max.ms), keys on compacted
 * topics, or a compression.type that differs from the producer's. Those checks are
 * Kafka's, and so are the error codes.
 */

export interface ProduceValidationContext {
  /** `orders-0`, for messages. */
  label: string;
  /** Produce request version: v3+ carries exactly one magic-2 batch; zstd needs v7. */
  apiVersion: number;
  config: LogConfig;
  /** Broker clock in ms, for timestamp bounds. */
  nowMs: number;
  /**
   * The broker's own writers (group and transaction coordinators) may write control
   * batches (transaction markers); clients may not.
   */
  fromCoordinator?: boolean;
}

/** Timestamps and keys as the record-level checks see them, whatever the batch format. */
interface CheckedRecord {
  timestamp: bigint;
  hasKey: boolean;
}

const NO_TIMESTAMP = -1n;
/** A bound at or above this is "no bound" (the configs default to Long.MAX_VALUE). */
const UNBOUNDED_MS = Number.MAX_SAFE_INTEGER;

/**
 * Validates a produced `records` field and returns the bytes to append: the same buffer in
 * the common case, synchronously; a promise when records had to be decoded (zstd has no
 * synchronous decoder). Throws (or rejects with) the errors of replica-errors.ts.
 */
export function prepareProducedRecords(
  records: Buffer | null,
  context: ProduceValidationContext,
): Buffer | Promise<Buffer> {
  if (records === null || records.length === 0) {
    throw new InvalidRecordError(`Cannot append to "${context.label}": the request carries no record batch`);
  }
  if (records.length < LOG_OVERHEAD + 5) {
    throw new CorruptMessageError(`Cannot append to "${context.label}": ${records.length} bytes cannot hold a batch`);
  }
  const magic = records.readInt8(BatchHeaderOffset.MAGIC);
  if (magic === MAGIC_V2) {
    const needsRecords = checkBatches(records, context);
    return needsRecords ? validateRecordsOf(records, context) : records;
  }
  if (magic === 0 || magic === 1) {
    if (context.apiVersion >= 3) {
      throw new InvalidRecordError(
        `Cannot append to "${context.label}": Produce v${context.apiVersion} allows only magic 2 record batches, got magic ${magic}`,
      );
    }
    return upConvertMessageSet(records, context);
  }
  throw new CorruptMessageError(`Cannot append to "${context.label}": unknown record format magic ${magic}`);
}

/**
 * One pass over the batch headers: framing, size, CRC and the header rules Kafka's
 * LogValidator applies to client batches. Returns whether the topic's config needs the
 * records themselves looked at.
 */
function checkBatches(records: Buffer, context: ProduceValidationContext): boolean {
  const { label, apiVersion, config } = context;
  const maxSize = config['max.message.bytes'];
  let pos = 0;
  let count = 0;
  let needsRecords = recordChecksWanted(config);
  while (pos < records.length) {
    if (records.length - pos < RECORD_BATCH_OVERHEAD) {
      throw new CorruptMessageError(`Cannot append to "${label}": truncated batch header at byte ${pos}`);
    }
    const magic = records.readInt8(pos + BatchHeaderOffset.MAGIC);
    if (magic !== MAGIC_V2) {
      throw new InvalidRecordError(`Cannot append to "${label}": magic ${magic} after a magic 2 batch`);
    }
    const batchLength = records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH);
    const size = batchLength + LOG_OVERHEAD;
    if (batchLength < MIN_BATCH_LENGTH || size > records.length - pos) {
      throw new CorruptMessageError(`Cannot append to "${label}": invalid batch length ${batchLength} at byte ${pos}`);
    }
    if (count === 1 && apiVersion >= 3) {
      throw new InvalidRecordError(
        `Cannot append to "${label}": Produce v${apiVersion} allows exactly one record batch per partition`,
      );
    }
    if (size > maxSize) {
      throw new RecordTooLargeError(
        `Cannot append to "${label}": record batch of ${size} bytes exceeds "max.message.bytes" ${maxSize}`,
        size,
        maxSize,
      );
    }
    const stored = records.readUInt32BE(pos + BatchHeaderOffset.CRC);
    const computed = crc32c(records, pos + BatchHeaderOffset.ATTRIBUTES, pos + size);
    if (stored !== computed) {
      throw new CorruptMessageError(
        `Cannot append to "${label}": batch CRC 0x${hex32(stored)} does not match its content (0x${hex32(computed)})`,
      );
    }
    const attributes = records.readInt16BE(pos + BatchHeaderOffset.ATTRIBUTES);
    const codec = attributes & COMPRESSION_CODEC_MASK;
    if (codec > CompressionCodec.Zstd) {
      throw new UnsupportedCompressionTypeError(`Cannot append to "${label}": unknown compression codec ${codec}`);
    }
    if (codec === CompressionCodec.Zstd && apiVersion < 7) {
      throw new UnsupportedCompressionTypeError(
        `Cannot append to "${label}": zstd-compressed batches need Produce v7 or later, got v${apiVersion}`,
      );
    }
    if (attributes & CONTROL_FLAG_MASK && !context.fromCoordinator) {
      throw new InvalidRecordError(`Cannot append to "${label}": clients may not write control batches`);
    }
    const baseOffset = records.readBigInt64BE(pos + BatchHeaderOffset.BASE_OFFSET);
    if (baseOffset !== 0n) {
      throw new InvalidRecordError(`Cannot append to "${label}": batch base offset must be 0, got ${baseOffset}`);
    }
    const lastOffsetDelta = records.readInt32BE(pos + BatchHeaderOffset.LAST_OFFSET_DELTA);
    const recordCount = records.readInt32BE(pos + BatchHeaderOffset.RECORD_COUNT);
    if (recordCount <= 0 || lastOffsetDelta + 1 !== recordCount) {
      throw new InvalidRecordError(
        `Cannot append to "${label}": batch holds ${recordCount} records but its last offset delta is ${lastOffsetDelta}`,
      );
    }
    const producerId = records.readBigInt64BE(pos + BatchHeaderOffset.PRODUCER_ID);
    const baseSequence = records.readInt32BE(pos + BatchHeaderOffset.BASE_SEQUENCE);
    // As Kafka's LogValidator, for clients only: coordinators' markers carry no sequence.
    if (producerId >= 0n && baseSequence < 0 && !context.fromCoordinator) {
      throw new InvalidRecordError(
        `Cannot append to "${label}": invalid sequence number ${baseSequence} for producer id ${producerId}`,
      );
    }
    if (!needsRecords && codec !== targetCodec(config, codec)) needsRecords = true;
    count++;
    pos += size;
  }
  return needsRecords;
}

/** Whether a topic's config asks for checks that read every record. */
function recordChecksWanted(config: LogConfig): boolean {
  if (config['cleanup.policy'].includes('compact')) return true;
  if (config['message.timestamp.type'] !== 'CreateTime') return false;
  return (
    config['message.timestamp.before.max.ms'] < UNBOUNDED_MS || config['message.timestamp.after.max.ms'] < UNBOUNDED_MS
  );
}

/** The codec a batch is stored with: the producer's, unless the topic's compression.type says otherwise. */
function targetCodec(config: LogConfig, producerCodec: number): number {
  switch (config['compression.type']) {
    case 'producer':
      return producerCodec;
    case 'uncompressed':
      return CompressionCodec.None;
    case 'gzip':
      return CompressionCodec.Gzip;
    case 'snappy':
      return CompressionCodec.Snappy;
    case 'lz4':
      return CompressionCodec.Lz4;
    case 'zstd':
      return CompressionCodec.Zstd;
    default:
      return producerCodec;
  }
}

/**
 * The slow path for topics whose config needs the records: decodes each batch, checks its
 * records and, when compression.type differs from the producer's codec, re-encodes it with
 * the topic's codec (producer id, epoch, sequence and timestamps unchanged).
 */
async function validateRecordsOf(records: Buffer, context: ProduceValidationContext): Promise<Buffer> {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < records.length) {
    const size = records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
    const bytes = records.subarray(pos, pos + size);
    let batch: RecordBatch;
    try {
      batch = await decodeRecordBatch(bytes, { verifyCrc: false });
    } catch (err) {
      if (err instanceof DecodeError) {
        throw new CorruptMessageError(`Cannot append to "${context.label}": ${err.message}`);
      }
      throw err;
    }
    checkRecords(
      batch.records.map((r) => ({ timestamp: recordTimestamp(batch, r), hasKey: r.key !== null })),
      context,
    );
    const codec = batch.attributes & COMPRESSION_CODEC_MASK;
    const target = targetCodec(context.config, codec);
    if (target === codec) {
      out.push(bytes);
    } else {
      out.push(
        await encodeRecordBatch({ ...batch, attributes: (batch.attributes & ~COMPRESSION_CODEC_MASK) | target }),
      );
    }
    pos += size;
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out);
}

/** Kafka's record-level rules: CreateTime bounds and keys on compacted topics, with per-record errors. */
function checkRecords(records: readonly CheckedRecord[], context: ProduceValidationContext): void {
  const { config, nowMs, label } = context;
  if (config['cleanup.policy'].includes('compact')) {
    const errors: RecordError[] = [];
    records.forEach((r, i) => {
      if (!r.hasKey) errors.push({ batchIndex: i, message: 'Compacted topic cannot accept message without key' });
    });
    if (errors.length > 0) {
      throw new InvalidRecordError(
        `Cannot append to "${label}": compacted topic cannot accept message without key`,
        errors,
      );
    }
  }
  if (config['message.timestamp.type'] !== 'CreateTime') return;
  const before = config['message.timestamp.before.max.ms'];
  const after = config['message.timestamp.after.max.ms'];
  if (before >= UNBOUNDED_MS && after >= UNBOUNDED_MS) return;
  const lowest = before >= UNBOUNDED_MS ? null : BigInt(nowMs - before);
  const highest = after >= UNBOUNDED_MS ? null : BigInt(nowMs + after);
  const errors: RecordError[] = [];
  records.forEach((r, i) => {
    if (r.timestamp === NO_TIMESTAMP) return;
    if ((lowest !== null && r.timestamp < lowest) || (highest !== null && r.timestamp > highest)) {
      errors.push({
        batchIndex: i,
        message: `Timestamp ${r.timestamp} of record ${i} is out of range: it must be within [${lowest ?? '-inf'}, ${highest ?? '+inf'}]`,
      });
    }
  });
  if (errors.length > 0) {
    throw new InvalidTimestampError(
      `Cannot append to "${label}": ${errors.length} record(s) have timestamps outside "message.timestamp.before.max.ms" / "message.timestamp.after.max.ms"`,
      errors,
    );
  }
}

/**
 * Produce v0–v2 may carry magic 0/1 message sets. The log holds magic-2 batches only, so
 * the set is converted the way Kafka's LogValidator does: one batch holding every message,
 * compressed with the codec the producer used (magic 0 messages have no timestamp, -1).
 * Compressed messages must be decompressed for this, which is fine on a path no current
 * client takes by default.
 */
function upConvertMessageSet(records: Buffer, context: ProduceValidationContext): Buffer | Promise<Buffer> {
  const { label, config } = context;
  const maxSize = config['max.message.bytes'];
  let codec: number = CompressionCodec.None;
  let pos = 0;
  while (pos < records.length) {
    if (records.length - pos < LOG_OVERHEAD + 5) {
      throw new CorruptMessageError(`Cannot append to "${label}": truncated message at byte ${pos}`);
    }
    const magic = records.readInt8(pos + BatchHeaderOffset.MAGIC);
    if (magic !== 0 && magic !== 1) {
      throw new InvalidRecordError(`Cannot append to "${label}": magic ${magic} mixed into a magic 0/1 message set`);
    }
    const size = records.readInt32BE(pos + BatchHeaderOffset.BATCH_LENGTH) + LOG_OVERHEAD;
    if (size <= LOG_OVERHEAD || size > records.length - pos) {
      throw new CorruptMessageError(`Cannot append to "${label}": invalid message size at byte ${pos}`);
    }
    if (size > maxSize) {
      throw new RecordTooLargeError(
        `Cannot append to "${label}": message of ${size} bytes exceeds "max.message.bytes" ${maxSize}`,
        size,
        maxSize,
      );
    }
    const attributes = records.readInt8(pos + BatchHeaderOffset.MAGIC + 1);
    if (codec === CompressionCodec.None) codec = attributes & COMPRESSION_CODEC_MASK;
    pos += size;
  }
  let messages: LegacyMessage[];
  try {
    messages = decodeMessageSet(records, { verifyCrc: true, allowPartialTail: false, deep: true });
  } catch (err) {
    if (err instanceof DecodeError) throw new CorruptMessageError(`Cannot append to "${label}": ${err.message}`);
    throw err;
  }
  if (messages.length === 0) {
    throw new InvalidRecordError(`Cannot append to "${label}": the message set holds no message`);
  }
  const timestampOf = (m: LegacyMessage): bigint => m.timestamp ?? NO_TIMESTAMP;
  checkRecords(
    messages.map((m) => ({ timestamp: timestampOf(m), hasKey: m.key !== null })),
    context,
  );
  const compression = targetCodec(config, codec) as CompressionCodec;
  const batch = createRecordBatch(
    messages.map((m) => ({ key: m.key, value: m.value, timestamp: timestampOf(m) })),
    { compression, timestampType: TimestampType.CreateTime },
  );
  if (compression === CompressionCodec.Zstd) return encodeRecordBatch(batch);
  return encodeRecordBatchSync(batch);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
