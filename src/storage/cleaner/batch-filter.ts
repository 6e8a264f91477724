import { DecodeError } from '../../protocol/errors.ts';
import {
  BatchHeaderOffset,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  DELETE_HORIZON_FLAG_MASK,
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  type RecordBatchHeader,
  readBatchHeader,
  TimestampType,
} from '../../protocol/records/batch-header.ts';
import { compress } from '../../protocol/records/compression/index.ts';
import { ControlRecordType } from '../../protocol/records/control-record.ts';
import { crc32c } from '../../protocol/records/crc32c.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../protocol/records/record-batch.ts';
import type { OffsetMap } from './offset-map.ts';
import { RecordScan } from './record-scan.ts';
import { controlTypeOf, type TransactionTracker } from './transactions.ts';

/** The largest delete horizon written: far future, and still an exact number and a valid int64. */
const MAX_HORIZON_MS = Number.MAX_SAFE_INTEGER;

export interface BatchFilterContext {
  /** Latest offset per key over the dirty range (see OffsetMap). */
  map: OffsetMap;
  nowMs: number;
  /** The topic's `delete.retention.ms`. */
  deleteRetentionMs: number;
  /** Aborted transactions and markers over the range being cleaned; fed every batch in offset order. */
  transactions: TransactionTracker;
  /**
   * Whether a batch of an idempotent or transactional producer whose records were all
   * removed must stay as an empty batch: Kafka keeps the batch that producer state knows as
   * the producer's last, so that its sequence survives a rebuild of the state from the log.
   */
  keepEmpty(header: RecordBatchHeader): boolean;
}

export interface BatchFilterResult {
  /** The batch to write (the original bytes, a rewritten batch or an empty header), or null to drop it. */
  bytes: Buffer | null;
  recordsIn: number;
  recordsOut: number;
  /** Tombstones dropped because their batch's delete horizon had passed. */
  tombstonesRemoved: number;
  /** 1 when this was a transaction marker whose delete horizon had passed, else 0. */
  markersRemoved: number;
  /** A removed ABORT marker: its transaction's entry must leave the aborted-transaction index with it. */
  removedAbort?: { producerId: bigint; lastOffset: bigint };
  /** The delete horizon of the written batch when it still holds tombstones or a marker due to go, else -1. */
  deleteHorizonMs: number;
}

/**
 * Applies compaction to one stored batch, Kafka's LogCleaner rules for magic 2. Batches
 * must come in offset order (the transaction tracker follows them).
 *
 * - A record is kept when its offset is at least the map's offset for its key (it is the
 *   latest, or the key's latest record lies beyond the mapped range). A record without a key
 *   is kept (Kafka refuses them at produce time on compacted topics; any that got in stay).
 * - A kept tombstone (null value) gets a delete horizon: when the batch has none yet, the
 *   rewritten batch carries `now + delete.retention.ms` in baseTimestamp with attribute bit 6
 *   (KIP-534), record timestamps unchanged (their deltas are rewritten against it). Once
 *   the horizon has passed, the next cleaning drops the tombstone.
 * - The records of an aborted transaction all go (they were never mapped either). Records of
 *   committed transactions follow the rules above.
 * - A transaction marker (control batch) stays as it is until nothing of its transaction is
 *   left (see TransactionTracker); then it gets a delete horizon the same way, and goes once
 *   that has passed. Its record is never changed.
 * - A batch left without records is dropped unless keepEmpty says its producer needs it;
 *   then it becomes Kafka's empty batch: the header alone, same offsets (lastOffsetDelta),
 *   producer id, epoch and base sequence.
 * - A batch that loses some records is rewritten with the survivors and their original
 *   offset deltas: the same baseOffset, lastOffsetDelta (so it keeps its offset range),
 *   producer fields, leader epoch and codec, maxTimestamp recomputed as Kafka does. The
 *   survivors' bytes are copied as they are, unless a new horizon moves baseTimestamp. A
 *   batch that loses nothing and needs no horizon is written as it was.
 *
 * Throws DecodeError for a batch that is corrupt (CRC, framing, decompression). So every
 * batch it returns had its CRC checked or was built here, which reads of the cleaned
 * segment rely on: they do not check appended batches again (LogSegment).
 */
export async function filterBatch(batch: Buffer, ctx: BatchFilterContext): Promise<BatchFilterResult> {
  const header = readBatchHeader(batch);
  const existingHorizon = header.hasDeleteHorizon ? Number(header.baseTimestamp) : -1;
  const unchanged = (horizonDue: boolean): BatchFilterResult => ({
    bytes: batch,
    recordsIn: header.recordCount,
    recordsOut: header.recordCount,
    tombstonesRemoved: 0,
    markersRemoved: 0,
    deleteHorizonMs: horizonDue ? existingHorizon : -1,
  });
  const dropped = (): BatchFilterResult => ({ ...unchanged(false), bytes: null, recordsOut: 0 });
  if (header.isControlBatch) {
    const type = await controlTypeOf(batch, header);
    if (!ctx.transactions.onControlBatchRead(header, type)) return unchanged(false);
    // Kafka drops an empty control batch (one an older cleaner left) outright.
    if (type === null) return dropped();
    if (existingHorizon >= 0) {
      if (ctx.nowMs < existingHorizon) return unchanged(true);
      const removedAbort =
        type === ControlRecordType.ABORT ? { producerId: header.producerId, lastOffset: header.baseOffset } : undefined;
      return { ...dropped(), markersRemoved: 1, removedAbort };
    }
    const horizon = Math.min(ctx.nowMs + ctx.deleteRetentionMs, MAX_HORIZON_MS);
    const all = new Uint8Array(header.recordCount).fill(1);
    return { ...unchanged(false), bytes: await withHorizon(batch, header, all, horizon), deleteHorizonMs: horizon };
  }
  const aborted = ctx.transactions.onBatchRead(header);
  if (header.recordCount === 0) {
    // An empty batch an earlier round kept for its producer: kept while it is still needed.
    if (!ctx.keepEmpty(header)) return dropped();
    // Checked like every batch the cleaner writes: reads trust what was appended (LogSegment).
    if (crc32c(batch, BatchHeaderOffset.ATTRIBUTES, batch.length) !== header.crc) {
      throw new DecodeError('Record batch CRC does not match its content', BatchHeaderOffset.CRC);
    }
    return unchanged(false);
  }
  if (aborted) {
    await RecordScan.of(batch, header); // corrupt data is reported, not silently dropped
    return { ...dropped(), bytes: ctx.keepEmpty(header) ? await emptyBatch(header) : null };
  }
  const scan = await RecordScan.of(batch, header);
  const { data, count } = scan;
  const base = Number(header.baseOffset);
  const horizonPassed = existingHorizon >= 0 && ctx.nowMs >= existingHorizon;
  const kept = new Uint8Array(count);
  let keptCount = 0;
  let tombstonesRemoved = 0;
  let keptTombstones = false;
  for (let i = 0; i < count; i++) {
    if (scan.hasKey(i)) {
      if (base + scan.offsetDelta[i]! < ctx.map.get(data, scan.keyStart[i]!, scan.keyEnd[i]!)) continue;
      if (scan.nullValue[i] === 1) {
        if (horizonPassed) {
          tombstonesRemoved++;
          continue;
        }
        keptTombstones = true;
      }
    }
    kept[i] = 1;
    keptCount++;
  }
  const needsHorizon = keptTombstones && existingHorizon < 0;
  if (keptCount === count && !needsHorizon) return unchanged(keptTombstones);
  const result = (bytes: Buffer | null, horizon: number): BatchFilterResult => ({
    bytes,
    recordsIn: count,
    recordsOut: keptCount,
    tombstonesRemoved,
    markersRemoved: 0,
    deleteHorizonMs: keptTombstones ? horizon : -1,
  });
  if (keptCount === 0) return result(ctx.keepEmpty(header) ? await emptyBatch(header) : null, -1);
  if (needsHorizon) {
    const horizon = Math.min(ctx.nowMs + ctx.deleteRetentionMs, MAX_HORIZON_MS);
    return result(await withHorizon(batch, header, kept, horizon), horizon);
  }
  return result(await withSurvivors(header, scan, kept, keptCount), existingHorizon);
}

/** The batch with only the kept records, their bytes copied as they are (baseTimestamp does not move). */
async function withSurvivors(
  header: RecordBatchHeader,
  scan: RecordScan,
  kept: Uint8Array,
  keptCount: number,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let maxDelta = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scan.count; i++) {
    if (kept[i] === 0) continue;
    parts.push(scan.data.subarray(scan.start[i]!, scan.end[i]!));
    if (scan.timestampDelta[i]! > maxDelta) maxDelta = scan.timestampDelta[i]!;
  }
  const records = Buffer.concat(parts);
  const codec = header.compression;
  const payload = codec === 0 ? records : await compress(codec, records);
  const maxTimestamp =
    header.timestampType === TimestampType.CreateTime ? header.baseTimestamp + BigInt(maxDelta) : header.maxTimestamp;
  const out = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + payload.length);
  out.writeBigInt64BE(header.baseOffset, BatchHeaderOffset.BASE_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BatchHeaderOffset.BATCH_LENGTH);
  out.writeInt32BE(header.partitionLeaderEpoch, BatchHeaderOffset.PARTITION_LEADER_EPOCH);
  out.writeInt8(header.magic, BatchHeaderOffset.MAGIC);
  out.writeInt16BE(header.attributes, BatchHeaderOffset.ATTRIBUTES);
  out.writeInt32BE(header.lastOffsetDelta, BatchHeaderOffset.LAST_OFFSET_DELTA);
  out.writeBigInt64BE(header.baseTimestamp, BatchHeaderOffset.BASE_TIMESTAMP);
  out.writeBigInt64BE(maxTimestamp, BatchHeaderOffset.MAX_TIMESTAMP);
  out.writeBigInt64BE(header.producerId, BatchHeaderOffset.PRODUCER_ID);
  out.writeInt16BE(header.producerEpoch, BatchHeaderOffset.PRODUCER_EPOCH);
  out.writeInt32BE(header.baseSequence, BatchHeaderOffset.BASE_SEQUENCE);
  out.writeInt32BE(keptCount, BatchHeaderOffset.RECORD_COUNT);
  payload.copy(out, RECORD_BATCH_OVERHEAD);
  out.writeUInt32BE(crc32c(out, BatchHeaderOffset.ATTRIBUTES, out.length), BatchHeaderOffset.CRC);
  return out;
}

/** The batch with only the kept records and a delete horizon: baseTimestamp moves, so every delta is re-encoded. */
async function withHorizon(
  batch: Buffer,
  header: RecordBatchHeader,
  kept: Uint8Array,
  horizon: number,
): Promise<Buffer> {
  const decoded = await decodeRecordBatch(batch, { verifyCrc: false });
  const survivors = decoded.records.filter((_, i) => kept[i] === 1);
  // Absolute record timestamps stay what they were; only the base they are relative to moves.
  const timestamps = survivors.map((r) => header.baseTimestamp + r.timestampDelta);
  const baseTimestamp = BigInt(horizon);
  let maxTimestamp = header.maxTimestamp;
  if (header.timestampType === TimestampType.CreateTime) {
    maxTimestamp = timestamps[0]!;
    for (const t of timestamps) if (t > maxTimestamp) maxTimestamp = t;
  }
  return encodeRecordBatch({
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    attributes: header.attributes | DELETE_HORIZON_FLAG_MASK,
    lastOffsetDelta: header.lastOffsetDelta,
    baseTimestamp,
    maxTimestamp,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    records: survivors.map((r, i) => ({ ...r, timestampDelta: timestamps[i]! - baseTimestamp })),
  });
}

/** Kafka's empty batch (DefaultRecordBatch.writeEmptyHeader): no records, no codec, the header's offsets and producer. */
function emptyBatch(header: RecordBatchHeader): Promise<Buffer> {
  return encodeRecordBatch({
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    attributes: header.attributes & ~(COMPRESSION_CODEC_MASK | CONTROL_FLAG_MASK | DELETE_HORIZON_FLAG_MASK),
    lastOffsetDelta: header.lastOffsetDelta,
    baseTimestamp: header.maxTimestamp,
    maxTimestamp: header.maxTimestamp,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    records: [],
  });
}

/**
 * Puts the keys of one batch into the map (offsets increasing), Kafka's buildOffsetMap step.
 * Batches must come in offset order; control batches only move the transaction tracker,
 * and batches of aborted transactions are not mapped. Throws DecodeError for a corrupt batch.
 */
export async function mapBatchKeys(
  batch: Buffer,
  header: RecordBatchHeader,
  map: OffsetMap,
  transactions: TransactionTracker,
): Promise<void> {
  if (header.isControlBatch) {
    transactions.onControlBatchRead(header, await controlTypeOf(batch, header));
    return;
  }
  if (transactions.onBatchRead(header) || header.recordCount === 0) return;
  const scan = await RecordScan.of(batch, header);
  const base = Number(header.baseOffset);
  for (let i = 0; i < scan.count; i++) {
    if (scan.hasKey(i)) map.put(scan.data, scan.keyStart[i]!, scan.keyEnd[i]!, base + scan.offsetDelta[i]!);
  }
}
