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
import { crc32c } from '../../protocol/records/crc32c.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../protocol/records/record-batch.ts';
import type { OffsetMap } from './offset-map.ts';
import { RecordScan } from './record-scan.ts';

/** The largest delete horizon written: far future, and still an exact number and a valid int64. */
const MAX_HORIZON_MS = Number.MAX_SAFE_INTEGER;

export interface BatchFilterContext {
  /** Latest offset per key over the dirty range (see OffsetMap). */
  map: OffsetMap;
  nowMs: number;
  /** The topic's `delete.retention.ms`. */
  deleteRetentionMs: number;
  /**
   * Whether a batch of an idempotent or transactional producer whose records were all
   * removed must stay as an empty batch (its header keeps the producer's last sequence for
   * rebuilding producer state). See cleaner.ts for the rule.
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
  /** The delete horizon of the written batch when it still holds tombstones, else -1. */
  deleteHorizonMs: number;
}

/**
 * Applies compaction to one stored batch, Kafka's LogCleaner rules for magic 2:
 *
 * - A record is kept when its offset is at least the map's offset for its key (it is the
 *   latest, or the key's latest record lies beyond the mapped range). A record without a key
 *   is kept (Kafka refuses them at produce time on compacted topics; any that got in stay).
 * - A kept tombstone (null value) gets a delete horizon: when the batch has none yet, the
 *   rewritten batch carries `now + delete.retention.ms` in baseTimestamp with attribute bit 6
 *   (KIP-534), record timestamps unchanged (their deltas are rewritten against it). Once
 *   the horizon has passed, the next cleaning drops the tombstone.
 * - Control batches (transaction markers) are kept byte for byte. Records of transactional
 *   batches are never mapped and never dropped as expired tombstones, only when a later
 *   non-transactional record of the same key supersedes them: until the log knows which
 *   transactions aborted, that is the rule that can never expose an aborted value or
 *   resurrect an older one.
 * - A batch left without records is dropped unless keepEmpty says its producer needs it;
 *   then it becomes Kafka's empty batch: the header alone, same offsets (lastOffsetDelta),
 *   producer id, epoch and base sequence.
 * - A batch that loses some records is rewritten with the survivors and their original
 *   offset deltas: the same baseOffset, lastOffsetDelta (so it keeps its offset range),
 *   producer fields, leader epoch and codec, maxTimestamp recomputed as Kafka does. The
 *   survivors' bytes are copied as they are, unless a new horizon moves baseTimestamp. A
 *   batch that loses nothing and needs no horizon is written as it was.
 *
 * Throws DecodeError for a batch that is corrupt (CRC, framing, decompression).
 */
export async function filterBatch(batch: Buffer, ctx: BatchFilterContext): Promise<BatchFilterResult> {
  const header = readBatchHeader(batch);
  const unchanged = (tombstones: boolean): BatchFilterResult => ({
    bytes: batch,
    recordsIn: header.recordCount,
    recordsOut: header.recordCount,
    tombstonesRemoved: 0,
    deleteHorizonMs: tombstones && header.hasDeleteHorizon ? Number(header.baseTimestamp) : -1,
  });
  if (header.isControlBatch) return unchanged(false);
  if (header.recordCount === 0) {
    // An empty batch an earlier round kept for its producer: kept while it is still needed.
    return ctx.keepEmpty(header) ? unchanged(false) : { ...unchanged(false), bytes: null };
  }
  const scan = await RecordScan.of(batch, header);
  const { data, count } = scan;
  const base = Number(header.baseOffset);
  const transactional = header.isTransactional;
  const horizonPassed = header.hasDeleteHorizon && ctx.nowMs >= Number(header.baseTimestamp);
  const kept = new Uint8Array(count);
  let keptCount = 0;
  let tombstonesRemoved = 0;
  let keptTombstones = false;
  for (let i = 0; i < count; i++) {
    if (scan.hasKey(i)) {
      if (base + scan.offsetDelta[i]! < ctx.map.get(data, scan.keyStart[i]!, scan.keyEnd[i]!)) continue;
      if (scan.nullValue[i] === 1 && !transactional) {
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
  const needsHorizon = keptTombstones && !header.hasDeleteHorizon;
  if (keptCount === count && !needsHorizon) return unchanged(keptTombstones);
  const result = (bytes: Buffer | null, horizon: number): BatchFilterResult => ({
    bytes,
    recordsIn: count,
    recordsOut: keptCount,
    tombstonesRemoved,
    deleteHorizonMs: keptTombstones ? horizon : -1,
  });
  if (keptCount === 0) return result(ctx.keepEmpty(header) ? await emptyBatch(header) : null, -1);
  if (needsHorizon) {
    const horizon = Math.min(ctx.nowMs + ctx.deleteRetentionMs, MAX_HORIZON_MS);
    return result(await withHorizon(batch, header, kept, horizon), horizon);
  }
  const horizon = header.hasDeleteHorizon ? Number(header.baseTimestamp) : -1;
  return result(await withSurvivors(header, scan, kept, keptCount), horizon);
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
 * Control and transactional batches are skipped (see filterBatch). Throws DecodeError for a
 * corrupt batch.
 */
export async function mapBatchKeys(batch: Buffer, header: RecordBatchHeader, map: OffsetMap): Promise<void> {
  if (header.isControlBatch || header.isTransactional || header.recordCount === 0) return;
  const scan = await RecordScan.of(batch, header);
  const base = Number(header.baseOffset);
  for (let i = 0; i < scan.count; i++) {
    if (scan.hasKey(i)) map.put(scan.data, scan.keyStart[i]!, scan.keyEnd[i]!, base + scan.offsetDelta[i]!);
  }
}
