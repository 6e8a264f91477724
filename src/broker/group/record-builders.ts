/** Builds the `__consumer_offsets` records for the coordinator's state changes. */
import { assignmentToWire } from './assignment.ts';
import type { ClassicGroup } from './classic-group.ts';
import { EMPTY_BYTES } from './classic-group.ts';
import { type ConsumerGroup, type ConsumerMember, MEMBER_STATE_CODE } from './consumer-group.ts';
import type { CommittedOffset } from './offsets.ts';
import type { GroupRecord } from './records.ts';

export function offsetCommitRecord(
  groupId: string,
  topic: string,
  partition: number,
  value: CommittedOffset,
): GroupRecord {
  return {
    type: 'offset-commit',
    key: { group: groupId, topic, partition },
    value: {
      offset: value.offset,
      leaderEpoch: value.leaderEpoch,
      metadata: value.metadata,
      commitTimestamp: BigInt(value.commitTimestamp),
      expireTimestamp: value.expireTimestamp === null ? -1n : BigInt(value.expireTimestamp),
    },
  };
}

export function offsetTombstone(groupId: string, topic: string, partition: number): GroupRecord {
  return { type: 'offset-commit', key: { group: groupId, topic, partition }, value: null };
}

/** The classic group's metadata, with each member's assignment taken from `assignments` (or its own). */
export function classicGroupRecord(group: ClassicGroup, assignments?: ReadonlyMap<string, Buffer>): GroupRecord {
  return {
    type: 'group-metadata',
    key: { group: group.groupId },
    value: {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: BigInt(group.currentStateTimestamp ?? -1),
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: m.metadata(group.protocolName),
        assignment: assignments?.get(m.memberId) ?? m.assignment ?? EMPTY_BYTES,
      })),
    },
  };
}

export function classicGroupTombstone(groupId: string): GroupRecord {
  return { type: 'group-metadata', key: { group: groupId }, value: null };
}

export function consumerGroupEpochRecord(group: ConsumerGroup, epoch: number): GroupRecord {
  return { type: 'consumer-group-metadata', key: { groupId: group.groupId }, value: { epoch } };
}

export function consumerMemberMetadataRecord(groupId: string, m: ConsumerMember): GroupRecord {
  return {
    type: 'consumer-group-member-metadata',
    key: { groupId, memberId: m.memberId },
    value: {
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      serverAssignor: m.serverAssignor,
      classicMemberMetadata: null,
    },
  };
}

export function consumerPartitionMetadataRecord(group: ConsumerGroup): GroupRecord {
  return {
    type: 'consumer-group-partition-metadata',
    key: { groupId: group.groupId },
    value: {
      topics: [...group.subscriptionMetadata.values()].map((t) => ({
        topicId: t.topicId,
        topicName: t.name,
        numPartitions: t.numPartitions,
        partitionMetadata: [],
      })),
    },
  };
}

export function consumerTargetMemberRecord(
  groupId: string,
  memberId: string,
  target: Parameters<typeof assignmentToWire>[0],
): GroupRecord {
  return {
    type: 'consumer-group-target-assignment-member',
    key: { groupId, memberId },
    value: { topicPartitions: assignmentToWire(target) },
  };
}

export function consumerTargetMetadataRecord(groupId: string, assignmentEpoch: number): GroupRecord {
  return {
    type: 'consumer-group-target-assignment-metadata',
    key: { groupId },
    value: { assignmentEpoch },
  };
}

export function consumerCurrentAssignmentRecord(groupId: string, m: ConsumerMember): GroupRecord {
  return {
    type: 'consumer-group-current-member-assignment',
    key: { groupId, memberId: m.memberId },
    value: {
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: MEMBER_STATE_CODE[m.state],
      assignedPartitions: assignmentToWire(m.assigned),
      partitionsPendingRevocation: assignmentToWire(m.pendingRevocation),
    },
  };
}

/** Tombstones for a member, in Kafka's order: current assignment, target assignment, metadata. */
export function consumerMemberTombstones(groupId: string, memberId: string): GroupRecord[] {
  return [
    { type: 'consumer-group-current-member-assignment', key: { groupId, memberId }, value: null },
    { type: 'consumer-group-target-assignment-member', key: { groupId, memberId }, value: null },
    { type: 'consumer-group-member-metadata', key: { groupId, memberId }, value: null },
  ];
}

/** Tombstones for a whole (empty) consumer group. */
export function consumerGroupTombstones(group: ConsumerGroup): GroupRecord[] {
  const out: GroupRecord[] = [];
  for (const memberId of group.members.keys()) out.push(...consumerMemberTombstones(group.groupId, memberId));
  out.push(
    { type: 'consumer-group-target-assignment-metadata', key: { groupId: group.groupId }, value: null },
    { type: 'consumer-group-partition-metadata', key: { groupId: group.groupId }, value: null },
    { type: 'consumer-group-metadata', key: { groupId: group.groupId }, value: null },
  );
  return out;
}
