import { DecodeError, EncodeError } from '../errors.ts';
import { batchAttributes, NO_PARTITION_LEADER_EPOCH, NO_SEQUENCE } from './batch-header.ts';
import type { KafkaRecord } from './record.ts';
import type { RecordBatch } from './record-batch.ts';

/** Types of the single record in a control batch; 2–6 belong to KRaft's own log. */
export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

const CONTROL_KEY_VERSION = 0;
const END_TXN_MARKER_VERSION = 0;
const CONTROL_KEY_SIZE = 4;
const END_TXN_MARKER_SIZE = 6;

/** A transaction marker: what the coordinator writes to each partition on commit or abort. */
export interface EndTransactionMarker {
  type: typeof ControlRecordType.ABORT | typeof ControlRecordType.COMMIT;
  coordinatorEpoch: number;
}

export interface ControlRecord {
  /** Version of the control key; 0 is the only one Kafka writes. */
  version: number;
  /** A ControlRecordType, or a number newer than this code knows. */
  type: number;
  /** For ABORT and COMMIT; null for the other types, whose values are KRaft data. */
  coordinatorEpoch: number | null;
}

/** The record of an ABORT or COMMIT control batch: key (version, type), value (version, coordinatorEpoch). */
export function encodeControlRecord(marker: EndTransactionMarker, timestampDelta = 0n): KafkaRecord {
  if (marker.type !== ControlRecordType.ABORT && marker.type !== ControlRecordType.COMMIT) {
    throw new EncodeError(`Control record type ${marker.type} is not a transaction marker`);
  }
  if (
    !Number.isInteger(marker.coordinatorEpoch) ||
    marker.coordinatorEpoch < -0x80000000 ||
    marker.coordinatorEpoch > 0x7fffffff
  ) {
    throw new EncodeError(`Invalid coordinatorEpoch ${marker.coordinatorEpoch}`);
  }
  const key = Buffer.alloc(CONTROL_KEY_SIZE);
  key.writeInt16BE(CONTROL_KEY_VERSION, 0);
  key.writeInt16BE(marker.type, 2);
  const value = Buffer.alloc(END_TXN_MARKER_SIZE);
  value.writeInt16BE(END_TXN_MARKER_VERSION, 0);
  value.writeInt32BE(marker.coordinatorEpoch, 2);
  return { attributes: 0, timestampDelta, offsetDelta: 0, key, value, headers: [] };
}

/**
 * Reads the record of a control batch. Like Kafka, it accepts key and marker versions
 * newer than 0 and reads the fields it knows at the front of them.
 */
export function decodeControlRecord(record: Pick<KafkaRecord, 'key' | 'value'>): ControlRecord {
  const { key, value } = record;
  if (key === null || key.length < CONTROL_KEY_SIZE) {
    throw new DecodeError(`Control record key needs ${CONTROL_KEY_SIZE} bytes, has ${key?.length ?? 'none'}`, 0);
  }
  const version = key.readInt16BE(0);
  if (version < 0) throw new DecodeError(`Invalid control record key version ${version}`, 0);
  const type = key.readInt16BE(2);
  if (type !== ControlRecordType.ABORT && type !== ControlRecordType.COMMIT) {
    return { version, type, coordinatorEpoch: null };
  }
  if (value === null || value.length < END_TXN_MARKER_SIZE) {
    throw new DecodeError(
      `Transaction marker value needs ${END_TXN_MARKER_SIZE} bytes, has ${value?.length ?? 'none'}`,
      0,
    );
  }
  const markerVersion = value.readInt16BE(0);
  if (markerVersion < 0) throw new DecodeError(`Invalid transaction marker version ${markerVersion}`, 0);
  return { version, type, coordinatorEpoch: value.readInt32BE(2) };
}

export interface CreateControlBatchOptions extends EndTransactionMarker {
  producerId: bigint;
  producerEpoch: number;
  /** When the coordinator wrote the marker; defaults to now. */
  timestamp?: bigint;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
}

/** The batch a transaction coordinator appends to end a transaction on one partition. */
export function createControlBatch(options: CreateControlBatchOptions): RecordBatch {
  const timestamp = options.timestamp ?? BigInt(Date.now());
  return {
    baseOffset: options.baseOffset ?? 0n,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    attributes: batchAttributes({ isTransactional: true, isControlBatch: true }),
    lastOffsetDelta: 0,
    baseTimestamp: timestamp,
    maxTimestamp: timestamp,
    producerId: options.producerId,
    producerEpoch: options.producerEpoch,
    baseSequence: NO_SEQUENCE,
    records: [encodeControlRecord(options)],
  };
}
