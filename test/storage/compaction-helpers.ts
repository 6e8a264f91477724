import assert from 'node:assert/strict';
import { type CompressionCodec as Codec, CompressionCodec } from '../../src/protocol/records/batch-header.ts';
import {
  type CreateRecordBatchOptions,
  createRecordBatch,
  decodeRecordBatches,
  encodeRecordBatch,
  type RecordBatch,
} from '../../src/protocol/records/record-batch.ts';
import type { Log } from '../../src/storage/log.ts';

/**
 * Helpers for the compaction tests: keyed batches in any codec (through the protocol
 * module's encoder), a reader that walks a whole log the way a consumer does, and the
 * "table" a consumer rebuilds from it.
 */

export const ALL_CODECS: readonly Codec[] = [
  CompressionCodec.None,
  CompressionCodec.Gzip,
  CompressionCodec.Snappy,
  CompressionCodec.Lz4,
  CompressionCodec.Zstd,
];

export interface KeyedRecord {
  key: string | null;
  value: string | null;
}

export function keyedBatch(records: readonly KeyedRecord[], options: CreateRecordBatchOptions = {}): Promise<Buffer> {
  return encodeRecordBatch(createRecordBatch(records, options));
}

export interface ReadRecord {
  offset: bigint;
  key: string | null;
  value: string | null;
  timestamp: bigint;
}

export interface LogContents {
  batches: RecordBatch[];
  records: ReadRecord[];
}

/**
 * Everything a consumer reading from logStartOffset sees: every batch decoded (CRC checked),
 * the records of data batches,
 * offsets strictly increasing across records and batches, each fetch starting with the batch
 * that holds the requested offset.
 */
export async function readLog(log: Log, maxBytes = 64 << 10): Promise<LogContents> {
  const batches: RecordBatch[] = [];
  const records: ReadRecord[] = [];
  let offset = log.logStartOffset;
  let lastOffset = -1n;
  while (offset < log.highWatermark) {
    const fetched = await decodeRecordBatches((await log.read(offset, { maxBytes })).records, {
      allowPartialTail: false,
    });
    if (fetched.length === 0) break;
    for (const batch of fetched) {
      const batchLast = batch.baseOffset + BigInt(batch.lastOffsetDelta);
      assert.ok(batchLast >= offset, `a fetch at ${offset} returned batch ${batch.baseOffset}..${batchLast}`);
      assert.ok(batch.baseOffset > lastOffset, `batch ${batch.baseOffset} goes back to or before ${lastOffset}`);
      batches.push(batch);
      // Control records (transaction markers) are never shown to applications.
      for (const r of (batch.attributes & 0x20) !== 0 ? [] : batch.records) {
        const recordOffset = batch.baseOffset + BigInt(r.offsetDelta);
        assert.ok(recordOffset > lastOffset && recordOffset <= batchLast, `record offset ${recordOffset} out of order`);
        lastOffset = recordOffset;
        records.push({
          offset: recordOffset,
          key: r.key === null ? null : r.key.toString(),
          value: r.value === null ? null : r.value.toString(),
          timestamp: batch.baseTimestamp + r.timestampDelta,
        });
      }
      lastOffset = batchLast;
      offset = batchLast + 1n;
    }
  }
  return { batches, records };
}

/** The table a consumer rebuilds: latest value per key, a tombstone deleting the key. */
export function tableOf(records: readonly ReadRecord[]): Map<string, string> {
  const table = new Map<string, string>();
  for (const r of records) {
    if (r.key === null) continue;
    if (r.value === null) table.delete(r.key);
    else table.set(r.key, r.value);
  }
  return table;
}

export function assertSameTable(actual: Map<string, string>, expected: Map<string, string>, message: string): void {
  assert.equal(actual.size, expected.size, `${message}: ${actual.size} keys, expected ${expected.size}`);
  for (const [key, value] of expected) assert.equal(actual.get(key), value, `${message}: key ${key}`);
}

export interface Workload {
  /** Every record written, by offset. */
  written: Map<bigint, KeyedRecord>;
  /** Latest value per key (tombstones delete). */
  table: Map<string, string>;
  /** Keys whose latest record is a tombstone. */
  deleted: Set<string>;
}

/**
 * `updates` records over `keys` keys written as batches of `batchSize` through
 * appendAsLeader, the codec rotating over `codecs`. Keys come in a scrambled order, every
 * 17th record is a tombstone, and keys divisible by 10 end with a tombstone.
 */
export async function writeWorkload(
  log: Log,
  opts: { updates: number; keys: number; batchSize: number; codecs: readonly Codec[]; timestamp: () => number },
): Promise<Workload> {
  const written = new Map<bigint, KeyedRecord>();
  const latest = new Map<string, string | null>();
  const keyAt = (i: number) => `key-${(i * 7919) % opts.keys}`;
  const lastWriteOf = new Map<number, number>();
  for (let i = 0; i < opts.updates; i++) lastWriteOf.set((i * 7919) % opts.keys, i);
  let seq = 0;
  for (let b = 0; seq < opts.updates; b++) {
    const records: KeyedRecord[] = [];
    for (let i = 0; i < opts.batchSize && seq < opts.updates; i++, seq++) {
      const k = (seq * 7919) % opts.keys;
      const finalTombstone = k % 10 === 0 && lastWriteOf.get(k) === seq;
      const value = seq % 17 === 0 || finalTombstone ? null : `value-${seq}`;
      records.push({ key: keyAt(seq), value });
    }
    const codec = opts.codecs[b % opts.codecs.length]!;
    const batch = await keyedBatch(records, { compression: codec, timestamp: BigInt(opts.timestamp()) });
    const info = await log.appendAsLeader(batch);
    records.forEach((r, i) => {
      written.set(info.baseOffset + BigInt(i), r);
      latest.set(r.key!, r.value);
    });
  }
  const table = new Map<string, string>();
  const deleted = new Set<string>();
  for (const [k, v] of latest) {
    if (v === null) deleted.add(k);
    else table.set(k, v);
  }
  return { written, table, deleted };
}
