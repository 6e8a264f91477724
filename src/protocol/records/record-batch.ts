/**
 * Magic-2 record batches: decode and encode whole batches, split a `records` field into
 * batches, build batches the way a producer does.
 *
 * The API is promise-based because zstd's binding is; the *Sync variants do the same work
 * without a promise for every codec except zstd, so code that never meets zstd (tests,
 * tools, uncompressed paths) need not await. Decoding throws DecodeError for any bytes,
 * EncodeError is for values the format cannot hold.
 */
import { DecodeError, EncodeError } from '../errors.ts';
import { Reader } from '../reader.ts';
import { Writer } from '../writer.ts';
import {
  BatchHeaderOffset,
  batchAttributes,
  batchSizeAt,
  COMPRESSION_CODEC_MASK,
  CompressionCodec,
  MAGIC_V2,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  parseBatchAttributes,
  RECORD_BATCH_OVERHEAD,
  type RecordBatchHeader,
  readBatchHeader,
  TimestampType,
} from './batch-header.ts';
import {
  codecFor,
  compress,
  compressSync,
  DEFAULT_MAX_DECOMPRESSED_SIZE,
  decompress,
  decompressSync,
} from './compression/index.ts';
import { crc32c } from './crc32c.ts';
import {
  type KafkaRecord,
  MIN_RECORD_SIZE,
  readRecord,
  type SizedRecord,
  sizeOfRecord,
  sizeRecord,
  writeRecord,
} from './record.ts';

/**
 * A magic-2 batch as data. Fields that follow from the others (magic, batchLength, crc,
 * recordCount) are computed when encoding; `attributes` is the single source of the
 * codec and flags (see parseBatchAttributes / batchAttributes). Decoding then encoding
 * gives back the input bytes when its varints are minimal (all clients write them so)
 * and, for compressed batches, when our compressor writes the same stream.
 */
export interface RecordBatch {
  baseOffset: bigint;
  partitionLeaderEpoch: number;
  attributes: number;
  /** Kept rather than derived: after compaction it may exceed the last record's delta. */
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: KafkaRecord[];
}

export interface DecodeRecordBatchOptions {
  /** Check the CRC-32C before trusting any field it covers. Default true. */
  verifyCrc?: boolean;
  /** Largest decompressed records section accepted, against zip bombs. Default 256 MiB. */
  maxDecompressedSize?: number;
}

export interface DecodeRecordBatchesOptions extends DecodeRecordBatchOptions {
  /**
   * Accept a trailing partial batch and leave it out, as consumers must for Fetch
   * responses cut at a byte limit. Default true; Produce handling should pass false.
   */
  allowPartialTail?: boolean;
}

export interface EncodeRecordBatchOptions {
  /** gzip (zlib level) and zstd only; others have no levels here. */
  compressionLevel?: number;
}

// ---------------------------------------------------------------------------- decoding

interface Framed {
  view: Buffer;
  header: RecordBatchHeader;
}

function frame(bytes: Uint8Array, options: DecodeRecordBatchOptions): Framed {
  const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readBatchHeader(view, 0);
  if (header.sizeInBytes > view.length) {
    throw new DecodeError(`Record batch of ${header.sizeInBytes} bytes is truncated to ${view.length}`, 0);
  }
  if (header.sizeInBytes < view.length) {
    throw new DecodeError(
      `Record batch of ${header.sizeInBytes} bytes is followed by ${view.length - header.sizeInBytes} more`,
      header.sizeInBytes,
    );
  }
  if (options.verifyCrc ?? true) {
    const computed = crc32c(view, BatchHeaderOffset.ATTRIBUTES, view.length);
    if (computed !== header.crc) {
      throw new DecodeError(
        `Record batch CRC 0x${hex32(header.crc)} does not match its content (0x${hex32(computed)})`,
        BatchHeaderOffset.CRC,
      );
    }
  }
  return { view, header };
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function readRecords(r: Reader, count: number, countAt: number): KafkaRecord[] {
  if (count > r.remaining / MIN_RECORD_SIZE) {
    throw new DecodeError(`Record count ${count} cannot fit in ${r.remaining} bytes of records`, countAt);
  }
  const records: KafkaRecord[] = new Array(count);
  for (let i = 0; i < count; i++) records[i] = readRecord(r);
  if (r.remaining !== 0) {
    throw new DecodeError(`${r.remaining} bytes follow the last of the ${count} records`, r.offset);
  }
  return records;
}

function recordsFrom(data: Buffer, header: RecordBatchHeader, codec: string): KafkaRecord[] {
  try {
    return readRecords(new Reader(data), header.recordCount, 0);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    throw new DecodeError(`${e.message} of the records after ${codec} decompression`, RECORD_BATCH_OVERHEAD);
  }
}

function toBatch(header: RecordBatchHeader, records: KafkaRecord[]): RecordBatch {
  return {
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    attributes: header.attributes,
    lastOffsetDelta: header.lastOffsetDelta,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    records,
  };
}

function decodeUncompressed({ view, header }: Framed): RecordBatch {
  const r = new Reader(view, RECORD_BATCH_OVERHEAD, view.length);
  return toBatch(header, readRecords(r, header.recordCount, BatchHeaderOffset.RECORD_COUNT));
}

function decompressOptions(options: DecodeRecordBatchOptions) {
  return { maxSize: options.maxDecompressedSize ?? DEFAULT_MAX_DECOMPRESSED_SIZE, position: RECORD_BATCH_OVERHEAD };
}

/**
 * Decodes exactly one magic-2 batch (the whole of `bytes`), decompressing its records.
 * Throws DecodeError, and only DecodeError, for anything malformed. Records of an
 * uncompressed batch are views into `bytes`.
 */
export async function decodeRecordBatch(
  bytes: Uint8Array,
  options: DecodeRecordBatchOptions = {},
): Promise<RecordBatch> {
  const framed = frame(bytes, options);
  const { view, header } = framed;
  if (header.compression === CompressionCodec.None) return decodeUncompressed(framed);
  const codec = codecFor(header.compression, BatchHeaderOffset.ATTRIBUTES);
  const data = await decompress(codec.id, view.subarray(RECORD_BATCH_OVERHEAD), decompressOptions(options));
  return toBatch(header, recordsFrom(data, header, codec.name));
}

/**
 * decodeRecordBatch without a promise. Works for every codec but zstd, whose library is
 * asynchronous only: a zstd batch throws SyncCompressionUnavailableError.
 */
export function decodeRecordBatchSync(bytes: Uint8Array, options: DecodeRecordBatchOptions = {}): RecordBatch {
  const framed = frame(bytes, options);
  const { view, header } = framed;
  if (header.compression === CompressionCodec.None) return decodeUncompressed(framed);
  const codec = codecFor(header.compression, BatchHeaderOffset.ATTRIBUTES);
  const data = decompressSync(codec.id, view.subarray(RECORD_BATCH_OVERHEAD), decompressOptions(options));
  return toBatch(header, recordsFrom(data, header, codec.name));
}

/** The complete batches of a `records` field, and how many bytes of a partial one follow. */
export interface SplitRecordBatches {
  /** Views into the input, one per batch, whatever the magic; decoding is up to the caller. */
  batches: Buffer[];
  /** Bytes at the end that do not hold a complete batch (0 when the input ends cleanly). */
  partialTailBytes: number;
}

/**
 * Splits concatenated batches by their length prefixes alone. The framing (baseOffset,
 * length) is the same for magic 0, 1 and 2, so this works on any `records` field. A
 * length no batch can have throws DecodeError; a batch cut short at the end is reported
 * in partialTailBytes, since Kafka cuts Fetch responses at a byte limit.
 */
export function splitRecordBatches(records: Uint8Array): SplitRecordBatches {
  const view = Buffer.isBuffer(records) ? records : Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  const batches: Buffer[] = [];
  let at = 0;
  while (at < view.length) {
    const size = batchSizeAt(view, at);
    if (size === null || size > view.length - at) break;
    batches.push(view.subarray(at, at + size));
    at += size;
  }
  return { batches, partialTailBytes: view.length - at };
}

function splitForDecode(records: Uint8Array, options: DecodeRecordBatchesOptions): Buffer[] {
  const { batches, partialTailBytes } = splitRecordBatches(records);
  if (partialTailBytes > 0 && !(options.allowPartialTail ?? true)) {
    throw new DecodeError(
      `Records end with a partial batch of ${partialTailBytes} bytes`,
      records.length - partialTailBytes,
    );
  }
  return batches;
}

function shifted(e: unknown, by: number): unknown {
  // Offsets inside a batch are relative to it; report them relative to the whole field.
  if (!(e instanceof DecodeError) || by === 0) return e;
  const message = e.message.replace(/ at byte \d+$/, '');
  return new DecodeError(message, e.offset + by);
}

/** Decodes every complete magic-2 batch of a `records` field, in order. */
export async function decodeRecordBatches(
  records: Uint8Array,
  options: DecodeRecordBatchesOptions = {},
): Promise<RecordBatch[]> {
  const out: RecordBatch[] = [];
  let at = 0;
  for (const batch of splitForDecode(records, options)) {
    try {
      out.push(await decodeRecordBatch(batch, options));
    } catch (e) {
      throw shifted(e, at);
    }
    at += batch.length;
  }
  return out;
}

export function decodeRecordBatchesSync(records: Uint8Array, options: DecodeRecordBatchesOptions = {}): RecordBatch[] {
  const out: RecordBatch[] = [];
  let at = 0;
  for (const batch of splitForDecode(records, options)) {
    try {
      out.push(decodeRecordBatchSync(batch, options));
    } catch (e) {
      throw shifted(e, at);
    }
    at += batch.length;
  }
  return out;
}

// ---------------------------------------------------------------------------- encoding

function checkInt(name: string, v: number, bits: 8 | 16 | 32): void {
  const limit = 2 ** (bits - 1);
  if (!Number.isInteger(v) || v < -limit || v >= limit) throw new EncodeError(`Invalid ${name} ${v}`);
}

function checkInt64(name: string, v: bigint): void {
  if (typeof v !== 'bigint' || BigInt.asIntN(64, v) !== v) throw new EncodeError(`Invalid ${name} ${v}`);
}

function checkHeader(batch: RecordBatch): void {
  checkInt64('baseOffset', batch.baseOffset);
  checkInt('partitionLeaderEpoch', batch.partitionLeaderEpoch, 32);
  checkInt('attributes', batch.attributes, 16);
  checkInt('lastOffsetDelta', batch.lastOffsetDelta, 32);
  checkInt64('baseTimestamp', batch.baseTimestamp);
  checkInt64('maxTimestamp', batch.maxTimestamp);
  checkInt64('producerId', batch.producerId);
  checkInt('producerEpoch', batch.producerEpoch, 16);
  checkInt('baseSequence', batch.baseSequence, 32);
}

/** The records section before compression, in one exactly sized buffer. */
function encodeRecords(records: KafkaRecord[]): Buffer {
  const sized: SizedRecord[] = records.map(sizeRecord);
  let total = 0;
  for (const s of sized) total += sizeOfRecord(s);
  const w = new Writer(Math.max(total, 1));
  for (const s of sized) writeRecord(w, s);
  return w.toBuffer();
}

function assemble(batch: RecordBatch, payload: Uint8Array): Buffer {
  const size = RECORD_BATCH_OVERHEAD + payload.length;
  if (size - 12 > 0x7fffffff) throw new EncodeError(`Record batch of ${size} bytes is too large`);
  const out = Buffer.allocUnsafe(size);
  out.writeBigInt64BE(batch.baseOffset, BatchHeaderOffset.BASE_OFFSET);
  out.writeInt32BE(size - 12, BatchHeaderOffset.BATCH_LENGTH);
  out.writeInt32BE(batch.partitionLeaderEpoch, BatchHeaderOffset.PARTITION_LEADER_EPOCH);
  out.writeInt8(MAGIC_V2, BatchHeaderOffset.MAGIC);
  out.writeInt16BE(batch.attributes, BatchHeaderOffset.ATTRIBUTES);
  out.writeInt32BE(batch.lastOffsetDelta, BatchHeaderOffset.LAST_OFFSET_DELTA);
  out.writeBigInt64BE(batch.baseTimestamp, BatchHeaderOffset.BASE_TIMESTAMP);
  out.writeBigInt64BE(batch.maxTimestamp, BatchHeaderOffset.MAX_TIMESTAMP);
  out.writeBigInt64BE(batch.producerId, BatchHeaderOffset.PRODUCER_ID);
  out.writeInt16BE(batch.producerEpoch, BatchHeaderOffset.PRODUCER_EPOCH);
  out.writeInt32BE(batch.baseSequence, BatchHeaderOffset.BASE_SEQUENCE);
  out.writeInt32BE(batch.records.length, BatchHeaderOffset.RECORD_COUNT);
  out.set(payload, RECORD_BATCH_OVERHEAD);
  out.writeUInt32BE(crc32c(out, BatchHeaderOffset.ATTRIBUTES, size), BatchHeaderOffset.CRC);
  return out;
}

function codecOf(batch: RecordBatch): number {
  const id = batch.attributes & COMPRESSION_CODEC_MASK;
  if (id > CompressionCodec.Zstd) throw new EncodeError(`Unknown compression codec ${id}`);
  return id;
}

/**
 * Encodes a batch, compressing its records with the codec its attributes name; magic,
 * batchLength, recordCount and the CRC are computed. Throws EncodeError for values the
 * format cannot carry.
 */
export async function encodeRecordBatch(batch: RecordBatch, options: EncodeRecordBatchOptions = {}): Promise<Buffer> {
  checkHeader(batch);
  const codec = codecOf(batch);
  const records = encodeRecords(batch.records);
  if (codec === CompressionCodec.None) return assemble(batch, records);
  return assemble(batch, await compress(codec, records, options.compressionLevel));
}

/** encodeRecordBatch without a promise; zstd throws SyncCompressionUnavailableError. */
export function encodeRecordBatchSync(batch: RecordBatch, options: EncodeRecordBatchOptions = {}): Buffer {
  checkHeader(batch);
  const codec = codecOf(batch);
  const records = encodeRecords(batch.records);
  if (codec === CompressionCodec.None) return assemble(batch, records);
  return assemble(batch, compressSync(codec, records, options.compressionLevel));
}

// ---------------------------------------------------------------------------- building

export interface RecordInput {
  key?: Uint8Array | string | null;
  value?: Uint8Array | string | null;
  headers?: ReadonlyArray<{ key: string; value: Uint8Array | string | null }>;
  /** Milliseconds since the epoch; defaults to the batch's `timestamp` option. */
  timestamp?: bigint;
}

export interface CreateRecordBatchOptions {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  compression?: CompressionCodec;
  timestampType?: TimestampType;
  isTransactional?: boolean;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  /** For records without their own timestamp; defaults to now. */
  timestamp?: bigint;
}

function bytes(v: Uint8Array | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Builds a batch the way a producer does: offset deltas 0..n−1, timestamps relative to the
 * first record, maxTimestamp the largest, and Kafka's "none" values (−1) for producer
 * fields not given.
 */
export function createRecordBatch(
  records: readonly RecordInput[],
  options: CreateRecordBatchOptions = {},
): RecordBatch {
  const now = options.timestamp ?? BigInt(Date.now());
  const timestamps = records.map((r) => r.timestamp ?? now);
  const baseTimestamp = timestamps[0] ?? NO_TIMESTAMP;
  let maxTimestamp = timestamps.length === 0 ? NO_TIMESTAMP : baseTimestamp;
  for (const t of timestamps) if (t > maxTimestamp) maxTimestamp = t;
  return {
    baseOffset: options.baseOffset ?? 0n,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    attributes: batchAttributes({
      compression: options.compression ?? CompressionCodec.None,
      timestampType: options.timestampType ?? TimestampType.CreateTime,
      isTransactional: options.isTransactional ?? false,
    }),
    lastOffsetDelta: Math.max(records.length - 1, 0),
    baseTimestamp,
    maxTimestamp,
    producerId: options.producerId ?? NO_PRODUCER_ID,
    producerEpoch: options.producerEpoch ?? NO_PRODUCER_EPOCH,
    baseSequence: options.baseSequence ?? NO_SEQUENCE,
    records: records.map((r, i) => ({
      attributes: 0,
      timestampDelta: timestamps[i]! - baseTimestamp,
      offsetDelta: i,
      key: bytes(r.key),
      value: bytes(r.value),
      headers: (r.headers ?? []).map((h) => ({ key: h.key, value: bytes(h.value) })),
    })),
  };
}

// ---------------------------------------------------------------------------- reading

export function recordOffset(batch: Pick<RecordBatch, 'baseOffset'>, record: Pick<KafkaRecord, 'offsetDelta'>): bigint {
  return batch.baseOffset + BigInt(record.offsetDelta);
}

/** With LogAppendTime the broker's maxTimestamp stands for every record, whatever its delta. */
export function recordTimestamp(
  batch: Pick<RecordBatch, 'attributes' | 'baseTimestamp' | 'maxTimestamp'>,
  record: Pick<KafkaRecord, 'timestampDelta'>,
): bigint {
  if (parseBatchAttributes(batch.attributes).timestampType === TimestampType.LogAppendTime) return batch.maxTimestamp;
  return batch.baseTimestamp + record.timestampDelta;
}
