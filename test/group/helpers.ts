/**
 * Helpers for the group coordinator tests: a broker with small group timeouts, raw group
 * API calls, and the "consumer" protocol's subscription and assignment bytes.
 */
import assert from 'node:assert/strict';
import { type StartBrokerOptions, type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import {
  ConsumerGroupDescribeRequest,
  ConsumerGroupDescribeResponse,
} from '../../src/protocol/generated/messages/consumer-group-describe.ts';
import {
  ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatRequestTopicPartitions,
  ConsumerGroupHeartbeatResponse,
} from '../../src/protocol/generated/messages/consumer-group-heartbeat.ts';
import { ConsumerProtocolAssignment } from '../../src/protocol/generated/messages/consumer-protocol-assignment.ts';
import { ConsumerProtocolSubscription } from '../../src/protocol/generated/messages/consumer-protocol-subscription.ts';
import { DeleteGroupsRequest, DeleteGroupsResponse } from '../../src/protocol/generated/messages/delete-groups.ts';
import {
  DescribeGroupsRequest,
  DescribeGroupsResponse,
} from '../../src/protocol/generated/messages/describe-groups.ts';
import {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
} from '../../src/protocol/generated/messages/find-coordinator.ts';
import { HeartbeatRequest, HeartbeatResponse } from '../../src/protocol/generated/messages/heartbeat.ts';
import {
  JoinGroupRequest,
  type JoinGroupResponse,
  JoinGroupResponse as JoinGroupResponseCodec,
} from '../../src/protocol/generated/messages/join-group.ts';
import { LeaveGroupRequest, LeaveGroupResponse } from '../../src/protocol/generated/messages/leave-group.ts';
import { ListGroupsRequest, ListGroupsResponse } from '../../src/protocol/generated/messages/list-groups.ts';
import { OffsetCommitRequest, OffsetCommitResponse } from '../../src/protocol/generated/messages/offset-commit.ts';
import { OffsetDeleteRequest, OffsetDeleteResponse } from '../../src/protocol/generated/messages/offset-delete.ts';
import { OffsetFetchRequest, OffsetFetchResponse } from '../../src/protocol/generated/messages/offset-fetch.ts';
import { SyncGroupRequest, SyncGroupResponse } from '../../src/protocol/generated/messages/sync-group.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';
import { RawClient } from '../helpers/raw-client.ts';

export const FindCoordinator = { request: FindCoordinatorRequest, response: FindCoordinatorResponse };
export const JoinGroup = { request: JoinGroupRequest, response: JoinGroupResponseCodec };
export const SyncGroup = { request: SyncGroupRequest, response: SyncGroupResponse };
export const Heartbeat = { request: HeartbeatRequest, response: HeartbeatResponse };
export const LeaveGroup = { request: LeaveGroupRequest, response: LeaveGroupResponse };
export const OffsetCommit = { request: OffsetCommitRequest, response: OffsetCommitResponse };
export const OffsetFetch = { request: OffsetFetchRequest, response: OffsetFetchResponse };
export const OffsetDelete = { request: OffsetDeleteRequest, response: OffsetDeleteResponse };
export const DescribeGroups = { request: DescribeGroupsRequest, response: DescribeGroupsResponse };
export const ListGroups = { request: ListGroupsRequest, response: ListGroupsResponse };
export const DeleteGroups = { request: DeleteGroupsRequest, response: DeleteGroupsResponse };
export const ConsumerGroupHeartbeat = {
  request: ConsumerGroupHeartbeatRequest,
  response: ConsumerGroupHeartbeatResponse,
};
export const ConsumerGroupDescribe = { request: ConsumerGroupDescribeRequest, response: ConsumerGroupDescribeResponse };

/** Group settings small enough for tests; a test may override any of them. */
export const FAST_GROUPS = {
  'group.initial.rebalance.delay.ms': 50,
  'group.min.session.timeout.ms': 100,
  'offsets.topic.num.partitions': 5,
  'group.consumer.heartbeat.interval.ms': 200,
  'group.consumer.session.timeout.ms': 3000,
};

export function startGroupBroker(options: StartBrokerOptions = {}): Promise<StartedBroker> {
  return startBroker({ ...options, config: { ...FAST_GROUPS, ...options.config } });
}

export async function createTopic(broker: StartedBroker, name: string, partitions = 1): Promise<string> {
  const info = await broker.broker.services.topics.create({ name, numPartitions: partitions, replicationFactor: 1 });
  return info.topicId;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined (or fails after `timeoutMs`). */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** "consumer" protocol subscription metadata (int16 version, then the struct). */
export function subscription(topics: string[], version = 0): Buffer {
  const w = new Writer();
  w.int16(version);
  ConsumerProtocolSubscription.write(
    w,
    { topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null },
    version,
  );
  return w.toBuffer();
}

export function assignmentBytes(partitions: Record<string, number[]>): Buffer {
  const w = new Writer();
  w.int16(0);
  ConsumerProtocolAssignment.write(
    w,
    {
      assignedPartitions: Object.entries(partitions).map(([topic, ps]) => ({ topic, partitions: ps })),
      userData: null,
    },
    0,
  );
  return w.toBuffer();
}

export function parseAssignment(bytes: Buffer): Record<string, number[]> {
  if (bytes.length === 0) return {};
  const r = new Reader(bytes);
  const version = r.int16();
  const a = ConsumerProtocolAssignment.read(r, Math.min(version, 3));
  return Object.fromEntries(a.assignedPartitions.map((t) => [t.topic, t.partitions]));
}

export interface JoinOptions {
  version?: number;
  groupId: string;
  memberId?: string;
  groupInstanceId?: string | null;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  protocolType?: string;
  protocols?: { name: string; metadata: Buffer }[];
  topics?: string[];
}

export async function joinGroup(client: RawClient, o: JoinOptions): Promise<JoinGroupResponse> {
  const { body } = await client.request(JoinGroup, o.version ?? 7, {
    groupId: o.groupId,
    sessionTimeoutMs: o.sessionTimeoutMs ?? 5000,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 5000,
    memberId: o.memberId ?? '',
    groupInstanceId: o.groupInstanceId ?? null,
    protocolType: o.protocolType ?? 'consumer',
    protocols: o.protocols ?? [{ name: 'range', metadata: subscription(o.topics ?? ['t']) }],
    reason: null,
  });
  return body;
}

/** JoinGroup v4+ as clients do it: MEMBER_ID_REQUIRED first, then again with the id. */
export async function joinWithId(client: RawClient, o: JoinOptions): Promise<JoinGroupResponse> {
  const first = await joinGroup(client, o);
  if (first.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) return first;
  return joinGroup(client, { ...o, memberId: first.memberId });
}

export async function syncGroup(
  client: RawClient,
  o: {
    version?: number;
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId?: string | null;
    assignments?: { memberId: string; assignment: Buffer }[];
    protocolName?: string | null;
  },
) {
  const version = o.version ?? 5;
  const { body } = await client.request(SyncGroup, version, {
    groupId: o.groupId,
    generationId: o.generationId,
    memberId: o.memberId,
    groupInstanceId: o.groupInstanceId ?? null,
    protocolType: 'consumer',
    protocolName: o.protocolName === undefined ? 'range' : o.protocolName,
    assignments: o.assignments ?? [],
  });
  return body;
}

export async function heartbeat(
  client: RawClient,
  o: { groupId: string; generationId: number; memberId: string; groupInstanceId?: string | null; version?: number },
): Promise<number> {
  const { body } = await client.request(Heartbeat, o.version ?? 4, {
    groupId: o.groupId,
    generationId: o.generationId,
    memberId: o.memberId,
    groupInstanceId: o.groupInstanceId ?? null,
  });
  return body.errorCode;
}

export async function commit(
  client: RawClient,
  o: {
    version?: number;
    groupId: string;
    generationId?: number;
    memberId?: string;
    groupInstanceId?: string | null;
    retentionTimeMs?: bigint;
    offsets: { topic: string; partition: number; offset: bigint; metadata?: string | null; leaderEpoch?: number }[];
  },
): Promise<Map<string, number>> {
  const byTopic = new Map<string, typeof o.offsets>();
  for (const x of o.offsets) byTopic.set(x.topic, [...(byTopic.get(x.topic) ?? []), x]);
  const { body } = await client.request(OffsetCommit, o.version ?? 8, {
    groupId: o.groupId,
    generationIdOrMemberEpoch: o.generationId ?? -1,
    memberId: o.memberId ?? '',
    groupInstanceId: o.groupInstanceId ?? null,
    retentionTimeMs: o.retentionTimeMs ?? -1n,
    topics: [...byTopic].map(([name, ps]) => ({
      name,
      partitions: ps.map((p) => ({
        partitionIndex: p.partition,
        committedOffset: p.offset,
        committedLeaderEpoch: p.leaderEpoch ?? -1,
        commitTimestamp: -1n,
        committedMetadata: p.metadata === undefined ? '' : p.metadata,
      })),
    })),
  });
  const out = new Map<string, number>();
  for (const t of body.topics) for (const p of t.partitions) out.set(`${t.name}-${p.partitionIndex}`, p.errorCode);
  return out;
}

/** OffsetFetch v1–v7 for one group; `topic-partition` → offset (and the raw response). */
export async function fetchCommitted(
  client: RawClient,
  groupId: string,
  topics: { name: string; partitionIndexes: number[] }[] | null,
  version = 7,
) {
  const { body } = await client.request(OffsetFetch, version, {
    groupId,
    topics,
    groups: [],
    requireStable: false,
  });
  const offsets = new Map<string, bigint>();
  for (const t of body.topics)
    for (const p of t.partitions) offsets.set(`${t.name}-${p.partitionIndex}`, p.committedOffset);
  return { body, offsets };
}

export async function connect(broker: StartedBroker, n: number): Promise<RawClient[]> {
  return Promise.all(Array.from({ length: n }, () => RawClient.connect(broker.port)));
}

export function cgHeartbeat(
  client: RawClient,
  o: {
    version?: number;
    groupId: string;
    memberId: string;
    memberEpoch: number;
    instanceId?: string | null;
    rebalanceTimeoutMs?: number;
    subscribedTopicNames?: string[] | null;
    subscribedTopicRegex?: string | null;
    serverAssignor?: string | null;
    topicPartitions?: ConsumerGroupHeartbeatRequestTopicPartitions[] | null;
  },
) {
  return client
    .request(ConsumerGroupHeartbeat, o.version ?? 1, {
      groupId: o.groupId,
      memberId: o.memberId,
      memberEpoch: o.memberEpoch,
      instanceId: o.instanceId ?? null,
      rackId: null,
      rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? (o.memberEpoch === 0 ? 5000 : -1),
      subscribedTopicNames: o.subscribedTopicNames === undefined ? null : o.subscribedTopicNames,
      subscribedTopicRegex: o.subscribedTopicRegex ?? null,
      serverAssignor: o.serverAssignor ?? null,
      topicPartitions: o.topicPartitions === undefined ? (o.memberEpoch === 0 ? [] : null) : o.topicPartitions,
    })
    .then((r) => r.body);
}
