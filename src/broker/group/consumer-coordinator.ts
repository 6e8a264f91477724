/**
 * KIP-848 consumer groups: ConsumerGroupHeartbeat (join, heartbeat, leave) and
 * ConsumerGroupDescribe. The coordinator owns the assignment: a member's join or
 * subscription change, or a change of the subscribed topics, bumps the group epoch; the
 * next heartbeat computes a new target assignment with a server-side assignor; each member
 * then converges on its target through its own heartbeats, revoking partitions before
 * anyone else gets them.
 *
 * Every method runs inside the serial queue of its group. A heartbeat computes the next
 * state on copies, writes the records, and only then swaps the copies in: if the write
 * fails, nothing changed. The write is the only await, and the queue keeps the group
 * unchanged across it.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import type { TopicInfo } from '../services/topic-manager.ts';
import {
  type Assignment,
  assignmentFromWire,
  assignmentsEqual,
  assignmentToWire,
  emptyAssignment,
  hasPartition,
} from './assignment.ts';
import { assign } from './assignors.ts';
import type { ClassicGroup } from './classic-group.ts';
import { type ServerAssignorName, shortAssignorName } from './config.ts';
import {
  ConsumerGroup,
  ConsumerMember,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  reconcile,
  type TopicMetadata,
} from './consumer-group.ts';
import {
  classicGroupTombstone,
  consumerCurrentAssignmentRecord,
  consumerGroupEpochRecord,
  consumerMemberMetadataRecord,
  consumerMemberTombstones,
  consumerPartitionMetadataRecord,
  consumerTargetMemberRecord,
  consumerTargetMetadataRecord,
} from './record-builders.ts';
import type { GroupRecord } from './records.ts';
import type { GroupRuntime } from './runtime.ts';

export interface ConsumerHeartbeatParams {
  apiVersion: number;
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: { topicId: string; partitions: number[] }[] | null;
  clientId: string;
  clientHost: string;
}

export interface ConsumerHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicId: string; partitions: number[] }[] | null;
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: {
    memberId: string;
    instanceId: string | null;
    rackId: string | null;
    memberEpoch: number;
    clientId: string;
    clientHost: string;
    subscribedTopicNames: string[];
    subscribedTopicRegex: string | null;
    assignment: { topicId: string; topicName: string; partitions: number[] }[];
    targetAssignment: { topicId: string; topicName: string; partitions: number[] }[];
  }[];
}

function failure(errorCode: number, errorMessage: string | null = null): ConsumerHeartbeatResult {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

/** Kafka's checks of a ConsumerGroupHeartbeat before it reaches the group; null when it passes. */
export function validateConsumerHeartbeat(
  p: ConsumerHeartbeatParams,
  assignors: readonly ServerAssignorName[],
): ConsumerHeartbeatResult | null {
  const invalid = (message: string) => failure(ErrorCode.INVALID_REQUEST, message);
  if (p.apiVersion >= 1 || p.memberEpoch > 0 || p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH) {
    if (p.memberId === '') return invalid("MemberId can't be empty.");
  }
  if (p.groupId === '') return invalid("GroupId can't be empty.");
  if (p.instanceId === '') return invalid("InstanceId can't be empty.");
  if (p.rackId === '') return invalid("RackId can't be empty.");
  if (p.memberEpoch === 0) {
    if (p.rebalanceTimeoutMs === -1) return invalid('RebalanceTimeoutMs must be provided in first request.');
    if (p.topicPartitions === null || p.topicPartitions.length > 0) {
      return invalid('TopicPartitions must be empty when (re-)joining.');
    }
    if (p.subscribedTopicNames === null && p.subscribedTopicRegex === null) {
      return invalid('Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.');
    }
  } else if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
    if (p.instanceId === null) return invalid("InstanceId can't be null.");
  } else if (p.memberEpoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
    return invalid('MemberEpoch is invalid.');
  }
  if (p.serverAssignor !== null) {
    const name = shortAssignorName(p.serverAssignor);
    if (name === null || !assignors.includes(name)) {
      return failure(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${p.serverAssignor} is not supported. Supported assignors: ${assignors.join(', ')}.`,
      );
    }
  }
  if (
    p.subscribedTopicRegex !== null &&
    p.subscribedTopicRegex !== '' &&
    compileRegex(p.subscribedTopicRegex) === null
  ) {
    return invalid(`SubscribedTopicRegex "${p.subscribedTopicRegex}" is not a valid regular expression.`);
  }
  return null;
}

const regexCache = new Map<string, RegExp | null>();

/** A subscription regex matches whole topic names, as Kafka's RE2J `matches()` does. */
export function compileRegex(source: string): RegExp | null {
  let re = regexCache.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${source})$`, 'u');
    } catch {
      re = null;
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

/** Member ids Kafka generates: a random UUID in its printed (base64url) form. */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

function isSubset(owned: Assignment | null, assigned: Assignment): boolean {
  if (owned === null) return false;
  for (const [t, ps] of owned) for (const p of ps) if (!hasPartition(assigned, t, p)) return false;
  return true;
}

export class ConsumerCoordinator {
  readonly #rt: GroupRuntime;

  constructor(runtime: GroupRuntime) {
    this.#rt = runtime;
  }

  get #heartbeatIntervalMs(): number {
    return this.#rt.config.consumerHeartbeatIntervalMs;
  }

  /** Topics of the cluster a member subscribes to, by name or regex (internal topics never match a regex). */
  #subscribedTopics(member: ConsumerMember, cluster: readonly TopicInfo[] = this.#rt.topics.list()): TopicMetadata[] {
    const out: TopicMetadata[] = [];
    const names = new Set(member.subscribedTopicNames);
    const re =
      member.subscribedTopicRegex !== null && member.subscribedTopicRegex !== ''
        ? compileRegex(member.subscribedTopicRegex)
        : null;
    if (names.size === 0 && re === null) return out;
    for (const t of cluster) {
      if (names.has(t.name) || (re !== null && !t.isInternal && re.test(t.name))) {
        out.push({ topicId: t.topicId, name: t.name, numPartitions: t.partitionCount });
      }
    }
    return out;
  }

  #subscriptionMetadata(members: Iterable<ConsumerMember>, cluster: readonly TopicInfo[]): Map<string, TopicMetadata> {
    const out = new Map<string, TopicMetadata>();
    for (const m of members) for (const t of this.#subscribedTopics(m, cluster)) out.set(t.name, t);
    return out;
  }

  // ------------------------------------------------------------------ heartbeat

  async heartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    if (p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      return this.#leave(p);
    }
    const rt = this.#rt;
    const records: GroupRecord[] = [];
    const existing = rt.groups.get(p.groupId);
    let group: ConsumerGroup;
    let converted: ClassicGroup | null = null;
    let newGroup = false;
    if (existing === undefined) {
      if (p.memberEpoch !== 0) return failure(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${p.groupId} not found.`);
      group = new ConsumerGroup(p.groupId);
      newGroup = true;
    } else if (existing.type === 'classic') {
      // An empty classic group becomes a consumer group; its committed offsets stay.
      if (p.memberEpoch !== 0 || existing.size > 0 || existing.is('Dead')) {
        return failure(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${p.groupId} is not a consumer group.`);
      }
      converted = existing;
      group = new ConsumerGroup(p.groupId);
      newGroup = true;
      records.push(classicGroupTombstone(p.groupId));
    } else {
      group = existing;
    }

    const memberId = p.memberId === '' ? newMemberId() : p.memberId;
    if (p.memberEpoch === 0 && !group.members.has(memberId) && group.members.size >= rt.config.consumerMaxGroupSize) {
      return failure(
        ErrorCode.GROUP_MAX_SIZE_REACHED,
        `The consumer group has reached its maximum capacity of ${rt.config.consumerMaxGroupSize} members.`,
      );
    }
    const owned = p.topicPartitions === null ? null : assignmentFromWire(p.topicPartitions);

    // The member as it is now (null for a new one), and the member it replaces (static members).
    let current: ConsumerMember | null = group.members.get(memberId) ?? null;
    let replaced: ConsumerMember | null = null;
    let base: ConsumerMember;
    if (p.instanceId !== null) {
      const holderId = group.staticMembers.get(p.instanceId);
      const holder = holderId === undefined ? undefined : group.members.get(holderId);
      if (p.memberEpoch === 0) {
        if (holder !== undefined && holder.memberId !== memberId) {
          if (holder.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
            return failure(
              ErrorCode.UNRELEASED_INSTANCE_ID,
              `Static member ${memberId} with instance id ${p.instanceId} cannot join the group because the instance id is owned by ${holder.memberId} member.`,
            );
          }
          // The same instance is back: it takes over the previous member's assignment.
          replaced = holder;
          base = holder.copy();
          base.memberId = memberId;
          current = null;
        } else if (holder !== undefined) {
          base = holder.copy();
        } else {
          base = this.#newMember(memberId, p);
          current = null;
        }
      } else {
        if (holder === undefined)
          return failure(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
        if (holder.memberId !== memberId) {
          return failure(
            ErrorCode.FENCED_INSTANCE_ID,
            `Static member ${memberId} with instance id ${p.instanceId} was fenced by member ${holder.memberId}.`,
          );
        }
        const fenced = this.#checkEpoch(holder, p.memberEpoch, owned);
        if (fenced !== null) return fenced;
        base = holder.copy();
      }
    } else if (current === null) {
      if (p.memberEpoch !== 0) {
        return failure(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${p.groupId}.`);
      }
      base = this.#newMember(memberId, p);
    } else if (p.memberEpoch === 0) {
      // The member rejoins under its id owning nothing (it was fenced): it starts over.
      base = this.#newMember(memberId, p);
    } else {
      const fenced = this.#checkEpoch(current, p.memberEpoch, owned);
      if (fenced !== null) return fenced;
      base = current.copy();
    }
    const isNewMember = current === null || (p.memberEpoch === 0 && p.instanceId === null);

    // 1. Member metadata.
    const updated = base.copy();
    if (p.instanceId !== null) updated.instanceId = p.instanceId;
    if (p.rackId !== null) updated.rackId = p.rackId;
    if (p.rebalanceTimeoutMs !== -1) updated.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    updated.clientId = p.clientId;
    updated.clientHost = p.clientHost;
    if (p.subscribedTopicNames !== null) updated.subscribedTopicNames = [...p.subscribedTopicNames];
    if (p.subscribedTopicRegex !== null) updated.subscribedTopicRegex = p.subscribedTopicRegex;
    if (p.serverAssignor !== null) updated.serverAssignor = shortAssignorName(p.serverAssignor);
    const metadataChanged = isNewMember || replaced !== null || current === null || !updated.sameMetadata(current);
    if (metadataChanged) records.push(consumerMemberMetadataRecord(group.groupId, updated));
    let bump =
      isNewMember ||
      replaced !== null ||
      (current !== null &&
        (updated.subscribedTopicRegex !== current.subscribedTopicRegex ||
          updated.serverAssignor !== current.serverAssignor ||
          updated.subscribedTopicNames.join('\0') !== current.subscribedTopicNames.join('\0')));

    // 2. The topics the group subscribes to, as they are now in the cluster.
    const members = new Map(group.members);
    if (replaced !== null) members.delete(replaced.memberId);
    members.set(memberId, updated);
    // One look at the cluster's topics for the whole heartbeat.
    const cluster = rt.topics.list();
    const metadata = this.#subscriptionMetadata(members.values(), cluster);
    if (!sameMetadata(metadata, group.subscriptionMetadata)) {
      bump = true;
      const shadow = new ConsumerGroup(group.groupId);
      shadow.subscriptionMetadata = metadata;
      records.push(consumerPartitionMetadataRecord(shadow));
    }
    let groupEpoch = group.groupEpoch;
    if (bump || newGroup) {
      groupEpoch = Math.max(group.groupEpoch, group.assignmentEpoch) + 1;
      records.push(consumerGroupEpochRecord(group, groupEpoch));
    }

    // 3. The target assignment, recomputed when the group epoch moved past it.
    let assignmentEpoch = group.assignmentEpoch;
    let targets = group.targetAssignment;
    if (groupEpoch > assignmentEpoch) {
      const byName = new Map([...metadata.values()].map((t) => [t.name, t]));
      const topicCounts = new Map([...metadata.values()].map((t) => [t.topicId, t.numPartitions]));
      const assignor = (group.preferredAssignor(rt.config.consumerAssignors[0]!) as ServerAssignorName) ?? 'uniform';
      const computed = assign(
        assignor,
        [...members.values()].map((m) => ({
          memberId: m.memberId,
          subscribedTopicIds: new Set(
            this.#subscribedTopics(m, cluster)
              .map((t) => byName.get(t.name)?.topicId)
              .filter((id): id is string => id !== undefined),
          ),
          current:
            group.targetAssignment.get(m.memberId) ??
            (replaced !== null && m.memberId === memberId
              ? (group.targetAssignment.get(replaced.memberId) ?? emptyAssignment())
              : emptyAssignment()),
        })),
        topicCounts,
      );
      targets = computed;
      for (const [id, target] of computed) {
        const before = group.targetAssignment.get(id);
        if (before === undefined || !assignmentsEqual(before, target) || (replaced !== null && id === memberId)) {
          records.push(consumerTargetMemberRecord(group.groupId, id, target));
        }
      }
      assignmentEpoch = groupEpoch;
      records.push(consumerTargetMetadataRecord(group.groupId, assignmentEpoch));
    }

    // 4. The member's next assignment state.
    const subscribedIds = new Set(this.#subscribedTopics(updated, cluster).map((t) => t.topicId));
    const next = reconcile(
      updated,
      assignmentEpoch,
      targets.get(memberId) ?? emptyAssignment(),
      subscribedIds,
      owned,
      (topicId, partition) => {
        const holder = group.ownerOf(topicId, partition, memberId);
        return holder !== undefined && holder !== replaced;
      },
    );
    const previousState = current ?? replaced;
    if (previousState === null || isNewMember || !next.sameAssignmentState(previousState) || replaced !== null) {
      records.push(consumerCurrentAssignmentRecord(group.groupId, next));
    }
    if (replaced !== null) records.unshift(...consumerMemberTombstones(group.groupId, replaced.memberId));

    try {
      await rt.write(group.groupId, records);
    } catch (err) {
      return failure(rt.writeErrorCode(err, false));
    }

    // 5. Commit the new state (nothing changed before the write succeeded).
    if (converted !== null) {
      converted.state = 'Dead';
      rt.groups.delete(p.groupId);
    }
    if (newGroup) rt.groups.set(p.groupId, group);
    if (replaced !== null) group.removeMember(replaced.memberId);
    const old = group.members.get(memberId);
    if (old !== undefined) {
      next.sessionTimer = old.sessionTimer;
      next.revocationTimer = old.revocationTimer;
    }
    group.setMember(next);
    group.groupEpoch = groupEpoch;
    group.assignmentEpoch = assignmentEpoch;
    group.targetAssignment = new Map(targets);
    group.subscriptionMetadata = metadata;
    this.#scheduleSession(group, next);
    if (next.state === 'UNREVOKED_PARTITIONS') {
      if (old === undefined || old.state !== 'UNREVOKED_PARTITIONS' || next.revocationTimer === null) {
        this.#scheduleRevocationTimeout(group, next);
      }
    } else {
      next.revocationTimer?.cancel();
      next.revocationTimer = null;
    }

    const sendAssignment =
      p.memberEpoch === 0 ||
      previousState === null ||
      !assignmentsEqual(previousState.assigned, next.assigned) ||
      (owned !== null && !assignmentsEqual(owned, next.assigned));
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId,
      memberEpoch: next.memberEpoch,
      heartbeatIntervalMs: this.#heartbeatIntervalMs,
      assignment: sendAssignment ? assignmentToWire(next.assigned) : null,
    };
  }

  #newMember(memberId: string, p: ConsumerHeartbeatParams): ConsumerMember {
    return new ConsumerMember({
      memberId,
      instanceId: p.instanceId,
      rackId: p.rackId,
      clientId: p.clientId,
      clientHost: p.clientHost,
      subscribedTopicNames: [],
      subscribedTopicRegex: null,
      rebalanceTimeoutMs: p.rebalanceTimeoutMs,
      serverAssignor: null,
    });
  }

  /** Kafka's epoch check: ahead is fenced; behind is fenced unless it is the previous epoch with no extra partitions. */
  #checkEpoch(member: ConsumerMember, received: number, owned: Assignment | null): ConsumerHeartbeatResult | null {
    if (received > member.memberEpoch) {
      return failure(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The consumer group member has a greater member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
      );
    }
    if (received < member.memberEpoch) {
      if (received !== member.previousMemberEpoch || !isSubset(owned, member.assigned)) {
        return failure(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The consumer group member has a smaller member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
        );
      }
    }
    return null;
  }

  async #leave(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    const rt = this.#rt;
    const group = rt.groups.get(p.groupId);
    if (group === undefined || group.type !== 'consumer') {
      return failure(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${p.groupId} not found.`);
    }
    let member: ConsumerMember | undefined;
    if (p.instanceId !== null) {
      const holderId = group.staticMembers.get(p.instanceId);
      if (holderId === undefined)
        return failure(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
      if (holderId !== p.memberId) {
        return failure(
          ErrorCode.FENCED_INSTANCE_ID,
          `Static member ${p.memberId} with instance id ${p.instanceId} was fenced by member ${holderId}.`,
        );
      }
      member = group.members.get(holderId);
    } else {
      member = group.members.get(p.memberId);
    }
    if (member === undefined) {
      return failure(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${p.groupId}.`);
    }
    const left = { memberId: member.memberId, heartbeatIntervalMs: 0, assignment: null, errorMessage: null };
    if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // A static member going away for a while keeps its partitions until its session ends.
      const next = member.copy();
      next.previousMemberEpoch = member.memberEpoch;
      next.memberEpoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
      try {
        await rt.write(group.groupId, [consumerCurrentAssignmentRecord(group.groupId, next)]);
      } catch (err) {
        return failure(rt.writeErrorCode(err, false));
      }
      member.previousMemberEpoch = next.previousMemberEpoch;
      member.memberEpoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
      return { ...left, errorCode: ErrorCode.NONE, memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH };
    }
    const errorCode = await this.removeMember(group, member);
    if (errorCode !== ErrorCode.NONE) return failure(errorCode);
    return { ...left, errorCode: ErrorCode.NONE, memberEpoch: LEAVE_GROUP_MEMBER_EPOCH };
  }

  /** Removes a member (leave, session or revocation timeout) and bumps the group epoch. */
  async removeMember(group: ConsumerGroup, member: ConsumerMember): Promise<number> {
    const rt = this.#rt;
    const epoch = Math.max(group.groupEpoch, group.assignmentEpoch) + 1;
    try {
      await rt.write(group.groupId, [
        ...consumerMemberTombstones(group.groupId, member.memberId),
        consumerGroupEpochRecord(group, epoch),
      ]);
    } catch (err) {
      return rt.writeErrorCode(err, false);
    }
    group.removeMember(member.memberId);
    group.groupEpoch = epoch;
    return ErrorCode.NONE;
  }

  #scheduleSession(group: ConsumerGroup, member: ConsumerMember): void {
    member.sessionTimer?.cancel();
    const timer = this.#rt.schedule(group.groupId, this.#rt.config.consumerSessionTimeoutMs, async () => {
      if (member.sessionTimer !== timer || group.members.get(member.memberId) !== member || group.dead) return;
      this.#rt.logger.info({ group: group.groupId, member: member.memberId }, 'Consumer group member session expired');
      await this.removeMember(group, member);
    });
    member.sessionTimer = timer;
  }

  #scheduleRevocationTimeout(group: ConsumerGroup, member: ConsumerMember): void {
    member.revocationTimer?.cancel();
    const epoch = member.memberEpoch;
    const timer = this.#rt.schedule(group.groupId, member.rebalanceTimeoutMs, async () => {
      const now = group.members.get(member.memberId);
      if (now === undefined || now.revocationTimer !== timer || group.dead) return;
      if (now.state !== 'UNREVOKED_PARTITIONS' || now.memberEpoch !== epoch) return;
      this.#rt.logger.info(
        { group: group.groupId, member: member.memberId },
        'Consumer group member did not revoke its partitions within its rebalance timeout',
      );
      await this.removeMember(group, now);
    });
    member.revocationTimer = timer;
  }

  /** After loading: members must heartbeat within their session; pending revocations get their deadline again. */
  resumeLoadedGroup(group: ConsumerGroup): void {
    for (const member of group.members.values()) {
      this.#scheduleSession(group, member);
      if (member.state === 'UNREVOKED_PARTITIONS') this.#scheduleRevocationTimeout(group, member);
    }
  }

  // ------------------------------------------------------------------ describe

  describe(groupId: string): DescribedConsumerGroup {
    const rt = this.#rt;
    const group = rt.groups.get(groupId);
    const notFound = (message: string): DescribedConsumerGroup => ({
      errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: message,
      groupId,
      groupState: '',
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignorName: '',
      members: [],
    });
    if (group === undefined) return notFound(`Group ${groupId} not found.`);
    if (group.type !== 'consumer') return notFound(`Group ${groupId} is not a consumer group.`);
    const named = (a: Assignment) =>
      assignmentToWire(a).flatMap(({ topicId, partitions }) => {
        const topic = rt.topics.getById(topicId);
        return topic === undefined ? [] : [{ topicId, topicName: topic.name, partitions }];
      });
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      groupState: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: group.preferredAssignor(rt.config.consumerAssignors[0]!),
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: named(m.assigned),
        targetAssignment: named(group.targetAssignment.get(m.memberId) ?? emptyAssignment()),
      })),
    };
  }

  /** Topics the group's members consume (by name or regex), for offset expiry and OffsetDelete. */
  subscribedTopicNames(group: ConsumerGroup): Set<string> {
    const out = new Set<string>();
    const cluster = this.#rt.topics.list();
    for (const m of group.members.values()) for (const t of this.#subscribedTopics(m, cluster)) out.add(t.name);
    for (const t of group.subscribedTopicNames()) out.add(t);
    return out;
  }
}

function sameMetadata(a: ReadonlyMap<string, TopicMetadata>, b: ReadonlyMap<string, TopicMetadata>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, t] of a) {
    const o = b.get(name);
    if (o === undefined || o.topicId !== t.topicId || o.numPartitions !== t.numPartitions) return false;
  }
  return true;
}
