import { FetchRequest, FetchResponse } from '../../protocol/generated/messages/fetch.ts';
import { readBatchHeader, TimestampType } from '../../protocol/records/batch-header.ts';
import { ControlRecordType, decodeControlRecord } from '../../protocol/records/control-record.ts';
import type { RecordHeader } from '../../protocol/records/record.ts';
import { decodeRecordBatch, recordTimestamp, splitRecordBatches } from '../../protocol/records/record-batch.ts';
import { defineApi } from '../api.ts';
import { KafkaError } from '../errors.ts';

/** v4 is the first with isolation levels and aborted transactions; v13 and up name topics by id. */
export const FetchApi = defineApi(FetchRequest, FetchResponse, { min: 4, max: 17 });
export const FIRST_FETCH_VERSION_WITH_TOPIC_IDS = 13;

/** A record as fetched, before the consumer's deserializers. */
export interface FetchedRecord {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  timestamp: bigint;
  timestampType: 'create-time' | 'log-append-time';
  leaderEpoch: number;
}

export interface DecodedFetch {
  records: FetchedRecord[];
  /** Where the next fetch of the partition starts: after the last batch seen, records or not. */
  nextOffset: bigint;
}

/**
 * The records of one partition's Fetch data from `fetchOffset` on. Kafka returns whole
 * batches, so records before the offset are dropped; control batches never reach the
 * application; with read_committed, batches of aborted transactions are skipped using the
 * response's abortedTransactions and the ABORT markers (as the Java client does).
 */
export async function decodeFetchedRecords(
  data: Buffer | null,
  fetchOffset: bigint,
  readCommitted: boolean,
  abortedTransactions: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> | null,
  where: string,
): Promise<DecodedFetch> {
  const out: FetchedRecord[] = [];
  let nextOffset = fetchOffset;
  if (data === null || data.length === 0) return { records: out, nextOffset };
  const aborted = [...(abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const abortedProducers = new Set<bigint>();
  const { batches } = splitRecordBatches(data);
  for (const bytes of batches) {
    let header: ReturnType<typeof readBatchHeader>;
    try {
      header = readBatchHeader(bytes, 0);
    } catch (err) {
      throw new KafkaError(`Cannot read records of ${where} at offset ${nextOffset}`, {
        code: 'CORRUPT_MESSAGE',
        cause: err,
      });
    }
    const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
    if (lastOffset < fetchOffset) continue;
    if (readCommitted) {
      while (aborted.length > 0 && aborted[0]!.firstOffset <= lastOffset)
        abortedProducers.add(aborted.shift()!.producerId);
    }
    if (header.isControlBatch) {
      if (readCommitted && header.isTransactional) {
        const batch = await decode(bytes, where);
        const record = batch.records[0];
        if (record && decodeControlRecord(record).type === ControlRecordType.ABORT) {
          abortedProducers.delete(header.producerId);
        }
      }
      nextOffset = lastOffset + 1n;
      continue;
    }
    if (readCommitted && header.isTransactional && abortedProducers.has(header.producerId)) {
      nextOffset = lastOffset + 1n;
      continue;
    }
    const batch = await decode(bytes, where);
    const logAppendTime = header.timestampType === TimestampType.LogAppendTime;
    for (const r of batch.records) {
      const offset = batch.baseOffset + BigInt(r.offsetDelta);
      if (offset < fetchOffset) continue;
      out.push({
        offset,
        key: r.key,
        value: r.value,
        headers: r.headers,
        timestamp: recordTimestamp(batch, r),
        timestampType: logAppendTime ? 'log-append-time' : 'create-time',
        leaderEpoch: batch.partitionLeaderEpoch,
      });
    }
    nextOffset = lastOffset + 1n;
  }
  return { records: out, nextOffset };
}

async function decode(bytes: Buffer, where: string) {
  try {
    return await decodeRecordBatch(bytes);
  } catch (err) {
    throw new KafkaError(`Cannot decode a record batch of ${where}: ${(err as Error).message}`, {
      code: 'CORRUPT_MESSAGE',
      cause: err,
    });
  }
}
