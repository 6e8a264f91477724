import { ConsumerProtocolAssignment } from '../../protocol/generated/messages/consumer-protocol-assignment.ts';
import { ConsumerProtocolSubscription } from '../../protocol/generated/messages/consumer-protocol-subscription.ts';
import { Reader } from '../../protocol/reader.ts';
import { Writer } from '../../protocol/writer.ts';
import type { TopicPartition } from '../metadata.ts';

/**
 * The `consumer` protocol type's blobs inside JoinGroup metadata and SyncGroup assignments:
 * an int16 version, then the struct in that version. Later versions only add fields at the
 * end, so a newer blob is read as the newest version known here, as Kafka does.
 */
export const CONSUMER_PROTOCOL_VERSION = 3;

export interface Subscription {
  topics: string[];
  userData: Buffer | null;
  ownedPartitions: TopicPartition[];
  generationId: number;
  rackId: string | null;
}

export interface Assignment {
  partitions: TopicPartition[];
  userData: Buffer | null;
}

function group(partitions: readonly TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) {
    const list = byTopic.get(tp.topic) ?? [];
    list.push(tp.partition);
    byTopic.set(tp.topic, list);
  }
  return [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps.sort((a, b) => a - b) }));
}

function flatten(groups: ReadonlyArray<{ topic: string; partitions: number[] }>): TopicPartition[] {
  return groups.flatMap((g) => g.partitions.map((partition) => ({ topic: g.topic, partition })));
}

export function encodeSubscription(s: Subscription, version = CONSUMER_PROTOCOL_VERSION): Buffer {
  const w = new Writer(64);
  w.int16(version);
  ConsumerProtocolSubscription.write(
    w,
    {
      topics: s.topics,
      userData: s.userData,
      ownedPartitions: group(s.ownedPartitions),
      generationId: s.generationId,
      rackId: s.rackId,
    },
    version,
  );
  return Buffer.from(w.toBuffer());
}

export function decodeSubscription(bytes: Uint8Array): Subscription & { version: number } {
  const version = new Reader(bytes).int16();
  const m = readLenient(bytes, version, (r, v) => ConsumerProtocolSubscription.read(r, v));
  return {
    version,
    topics: m.topics,
    userData: m.userData,
    ownedPartitions: flatten(m.ownedPartitions),
    generationId: m.generationId,
    rackId: m.rackId,
  };
}

export function encodeAssignment(a: Assignment, version = CONSUMER_PROTOCOL_VERSION): Buffer {
  const w = new Writer(64);
  w.int16(version);
  ConsumerProtocolAssignment.write(w, { assignedPartitions: group(a.partitions), userData: a.userData }, version);
  return Buffer.from(w.toBuffer());
}

/** An empty blob is an empty assignment: the coordinator sends one to a member that got nothing. */
export function decodeAssignment(bytes: Uint8Array): Assignment & { version: number } {
  if (bytes.length === 0) return { version: 0, partitions: [], userData: null };
  const version = new Reader(bytes).int16();
  const m = readLenient(bytes, version, (r, v) => ConsumerProtocolAssignment.read(r, v));
  return { version, partitions: flatten(m.assignedPartitions), userData: m.userData };
}

/**
 * Reads at the blob's version (capped at the newest known), then at older ones: some
 * clients (kafkajs) label v0 fields as v1, and the fields of later versions only append.
 */
function readLenient<T>(bytes: Uint8Array, version: number, read: (r: Reader, version: number) => T): T {
  let v = Math.min(Math.max(version, 0), CONSUMER_PROTOCOL_VERSION);
  for (;;) {
    try {
      const r = new Reader(bytes, 2);
      return read(r, v);
    } catch (err) {
      if (v === 0) throw err;
      v--;
    }
  }
}
