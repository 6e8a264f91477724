/**
 * The records the group coordinator keeps in `__consumer_offsets`, in Kafka's own formats:
 * the key is an int16 version (which names the record type) and the key struct; the value
 * is an int16 version and the value struct, or null (a tombstone) for a deletion. Tools
 * that decode Kafka's offsets topic (Burrow, kafka-console-consumer's formatters) read
 * these unchanged.
 */
import type { MessageCodec } from '../../protocol/codec.ts';
import { DecodeError } from '../../protocol/errors.ts';
import {
  ConsumerGroupCurrentMemberAssignmentKey,
  ConsumerGroupCurrentMemberAssignmentValue,
} from '../../protocol/generated/coordinator/consumer-group-current-member-assignment.ts';
import {
  ConsumerGroupMemberMetadataKey,
  ConsumerGroupMemberMetadataValue,
} from '../../protocol/generated/coordinator/consumer-group-member-metadata.ts';
import {
  ConsumerGroupMetadataKey,
  ConsumerGroupMetadataValue,
} from '../../protocol/generated/coordinator/consumer-group-metadata.ts';
import {
  ConsumerGroupPartitionMetadataKey,
  ConsumerGroupPartitionMetadataValue,
} from '../../protocol/generated/coordinator/consumer-group-partition-metadata.ts';
import {
  ConsumerGroupTargetAssignmentMemberKey,
  ConsumerGroupTargetAssignmentMemberValue,
} from '../../protocol/generated/coordinator/consumer-group-target-assignment-member.ts';
import {
  ConsumerGroupTargetAssignmentMetadataKey,
  ConsumerGroupTargetAssignmentMetadataValue,
} from '../../protocol/generated/coordinator/consumer-group-target-assignment-metadata.ts';
import { GroupMetadataKey, GroupMetadataValue } from '../../protocol/generated/coordinator/group-metadata.ts';
import { OffsetCommitKey, OffsetCommitValue } from '../../protocol/generated/coordinator/offset-commit.ts';
import { Reader } from '../../protocol/reader.ts';
import { Writer } from '../../protocol/writer.ts';

/** The key version of each record type, as Kafka numbers them. */
export const RecordKeyVersion = {
  /** Versions 0 and 1 both mean an offset commit; Kafka writes 1. */
  OffsetCommit: 1,
  GroupMetadata: 2,
  ConsumerGroupMetadata: 3,
  ConsumerGroupPartitionMetadata: 4,
  ConsumerGroupMemberMetadata: 5,
  ConsumerGroupTargetAssignmentMetadata: 6,
  ConsumerGroupTargetAssignmentMember: 7,
  ConsumerGroupCurrentMemberAssignment: 8,
} as const;

/** Value versions written: the newest non-flexible ones for the classic records (what lag tools decode). */
const OFFSET_COMMIT_VALUE_VERSION = 3;
/** Kafka writes version 1 when the commit carries an explicit expire timestamp (OffsetCommit v1–v4). */
const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1;
const GROUP_METADATA_VALUE_VERSION = 3;

export type GroupRecord =
  | {
      type: 'offset-commit';
      key: OffsetCommitKey;
      value: OffsetCommitValue | null;
    }
  | { type: 'group-metadata'; key: GroupMetadataKey; value: GroupMetadataValue | null }
  | { type: 'consumer-group-metadata'; key: ConsumerGroupMetadataKey; value: ConsumerGroupMetadataValue | null }
  | {
      type: 'consumer-group-partition-metadata';
      key: ConsumerGroupPartitionMetadataKey;
      value: ConsumerGroupPartitionMetadataValue | null;
    }
  | {
      type: 'consumer-group-member-metadata';
      key: ConsumerGroupMemberMetadataKey;
      value: ConsumerGroupMemberMetadataValue | null;
    }
  | {
      type: 'consumer-group-target-assignment-metadata';
      key: ConsumerGroupTargetAssignmentMetadataKey;
      value: ConsumerGroupTargetAssignmentMetadataValue | null;
    }
  | {
      type: 'consumer-group-target-assignment-member';
      key: ConsumerGroupTargetAssignmentMemberKey;
      value: ConsumerGroupTargetAssignmentMemberValue | null;
    }
  | {
      type: 'consumer-group-current-member-assignment';
      key: ConsumerGroupCurrentMemberAssignmentKey;
      value: ConsumerGroupCurrentMemberAssignmentValue | null;
    };

/** One record as bytes: what goes into a batch. */
export interface EncodedRecord {
  key: Buffer;
  value: Buffer | null;
}

interface RecordFormat {
  type: GroupRecord['type'];
  keyVersion: number;
  key: MessageCodec<unknown>;
  value: MessageCodec<unknown>;
}

const FORMATS: RecordFormat[] = [
  { type: 'offset-commit', keyVersion: 1, key: OffsetCommitKey, value: OffsetCommitValue },
  { type: 'group-metadata', keyVersion: 2, key: GroupMetadataKey, value: GroupMetadataValue },
  { type: 'consumer-group-metadata', keyVersion: 3, key: ConsumerGroupMetadataKey, value: ConsumerGroupMetadataValue },
  {
    type: 'consumer-group-partition-metadata',
    keyVersion: 4,
    key: ConsumerGroupPartitionMetadataKey,
    value: ConsumerGroupPartitionMetadataValue,
  },
  {
    type: 'consumer-group-member-metadata',
    keyVersion: 5,
    key: ConsumerGroupMemberMetadataKey,
    value: ConsumerGroupMemberMetadataValue,
  },
  {
    type: 'consumer-group-target-assignment-metadata',
    keyVersion: 6,
    key: ConsumerGroupTargetAssignmentMetadataKey,
    value: ConsumerGroupTargetAssignmentMetadataValue,
  },
  {
    type: 'consumer-group-target-assignment-member',
    keyVersion: 7,
    key: ConsumerGroupTargetAssignmentMemberKey,
    value: ConsumerGroupTargetAssignmentMemberValue,
  },
  {
    type: 'consumer-group-current-member-assignment',
    keyVersion: 8,
    key: ConsumerGroupCurrentMemberAssignmentKey,
    value: ConsumerGroupCurrentMemberAssignmentValue,
  },
];

const BY_TYPE = new Map(FORMATS.map((f) => [f.type, f]));
const BY_KEY_VERSION = new Map(FORMATS.map((f) => [f.keyVersion, f]));

function versioned(codec: MessageCodec<unknown>, message: unknown, version: number): Buffer {
  const w = new Writer(64);
  w.int16(version);
  codec.write(w, message, version);
  return w.toBuffer();
}

function valueVersion(record: GroupRecord): number {
  switch (record.type) {
    case 'offset-commit':
      return record.value !== null && record.value.expireTimestamp >= 0n
        ? OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY
        : OFFSET_COMMIT_VALUE_VERSION;
    case 'group-metadata':
      return GROUP_METADATA_VALUE_VERSION;
    default:
      return 0;
  }
}

export function encodeGroupRecord(record: GroupRecord): EncodedRecord {
  const format = BY_TYPE.get(record.type)!;
  return {
    key: versioned(format.key, record.key, format.keyVersion),
    value: record.value === null ? null : versioned(format.value, record.value, valueVersion(record)),
  };
}

/**
 * Decodes one record of the offsets topic. Returns null for a key version this broker does
 * not know (share groups, newer Kafka records), which the loader skips as Kafka does.
 * Throws DecodeError for bytes that do not parse.
 */
export function decodeGroupRecord(key: Buffer | null, value: Buffer | null): GroupRecord | null {
  if (key === null) throw new DecodeError('Offsets topic record has a null key', 0);
  const kr = new Reader(key);
  const keyVersion = kr.int16();
  // Key version 0 is the older spelling of an offset commit key, with the same fields.
  const format = BY_KEY_VERSION.get(keyVersion === 0 ? 1 : keyVersion);
  if (format === undefined) return null;
  const k = format.key.read(kr, keyVersion === 0 ? 0 : format.keyVersion);
  let v: unknown = null;
  if (value !== null) {
    const vr = new Reader(value);
    const version = vr.int16();
    const { min, max } = format.value.schema.validVersions;
    if (version < min) throw new DecodeError(`${format.value.name} version ${version} is unknown`, 0);
    // A newer flexible version only adds tagged fields, which the older reader keeps.
    if (version > max && !format.value.isFlexible(max)) {
      throw new DecodeError(`${format.value.name} version ${version} is unknown`, 0);
    }
    v = format.value.read(vr, Math.min(version, max));
  }
  return { type: format.type, key: k, value: v } as GroupRecord;
}
