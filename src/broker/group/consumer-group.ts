/**
 * A KIP-848 consumer group (ConsumerGroupHeartbeat protocol): group epoch, target
 * assignment epoch, members with their own epochs, and the reconciliation rule that moves
 * a member towards its target (revoke first, then assign what the previous owners have
 * released). Pure data and rules; consumer-coordinator.ts drives it.
 */
import {
  type Assignment,
  addPartition,
  assignmentsEqual,
  cloneAssignment,
  emptyAssignment,
  hasPartition,
} from './assignment.ts';
import type { Timer } from './timers.ts';

export type ConsumerMemberState = 'STABLE' | 'UNREVOKED_PARTITIONS' | 'UNRELEASED_PARTITIONS';
export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

/** The int8 Kafka stores for a member state (MemberState). */
export const MEMBER_STATE_CODE: Record<ConsumerMemberState, number> = {
  UNREVOKED_PARTITIONS: 0,
  UNRELEASED_PARTITIONS: 1,
  STABLE: 2,
};

export function memberStateFromCode(code: number): ConsumerMemberState {
  if (code === 0) return 'UNREVOKED_PARTITIONS';
  if (code === 1) return 'UNRELEASED_PARTITIONS';
  return 'STABLE';
}

/** Epoch of a static member that left temporarily (it keeps its assignment for its session). */
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;
export const LEAVE_GROUP_MEMBER_EPOCH = -1;

export interface ConsumerMemberInit {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  rebalanceTimeoutMs: number;
  serverAssignor: string | null;
}

export class ConsumerMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  rebalanceTimeoutMs: number;
  serverAssignor: string | null;
  memberEpoch = 0;
  previousMemberEpoch = -1;
  state: ConsumerMemberState = 'STABLE';
  assigned: Assignment = emptyAssignment();
  pendingRevocation: Assignment = emptyAssignment();
  sessionTimer: Timer | null = null;
  /** Runs while the member owes a revocation. */
  revocationTimer: Timer | null = null;

  constructor(init: ConsumerMemberInit) {
    this.memberId = init.memberId;
    this.instanceId = init.instanceId;
    this.rackId = init.rackId;
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.subscribedTopicNames = init.subscribedTopicNames;
    this.subscribedTopicRegex = init.subscribedTopicRegex;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.serverAssignor = init.serverAssignor;
  }

  /** A copy with the same fields and no timers (the coordinator computes on copies and swaps them in after the write). */
  copy(): ConsumerMember {
    const m = new ConsumerMember(this);
    m.subscribedTopicNames = [...this.subscribedTopicNames];
    m.memberEpoch = this.memberEpoch;
    m.previousMemberEpoch = this.previousMemberEpoch;
    m.state = this.state;
    m.assigned = cloneAssignment(this.assigned);
    m.pendingRevocation = cloneAssignment(this.pendingRevocation);
    return m;
  }

  sameMetadata(other: ConsumerMember): boolean {
    return (
      this.instanceId === other.instanceId &&
      this.rackId === other.rackId &&
      this.clientId === other.clientId &&
      this.clientHost === other.clientHost &&
      this.subscribedTopicRegex === other.subscribedTopicRegex &&
      this.rebalanceTimeoutMs === other.rebalanceTimeoutMs &&
      this.serverAssignor === other.serverAssignor &&
      this.subscribedTopicNames.length === other.subscribedTopicNames.length &&
      this.subscribedTopicNames.every((t, i) => other.subscribedTopicNames[i] === t)
    );
  }

  sameAssignmentState(other: ConsumerMember): boolean {
    return (
      this.memberEpoch === other.memberEpoch &&
      this.previousMemberEpoch === other.previousMemberEpoch &&
      this.state === other.state &&
      assignmentsEqual(this.assigned, other.assigned) &&
      assignmentsEqual(this.pendingRevocation, other.pendingRevocation)
    );
  }
}

/** A subscribed topic as the group last saw it. */
export interface TopicMetadata {
  topicId: string;
  name: string;
  numPartitions: number;
}

export class ConsumerGroup {
  readonly type = 'consumer' as const;
  readonly groupId: string;
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** instance id → member id */
  readonly staticMembers = new Map<string, string>();
  /** member id → target assignment */
  targetAssignment = new Map<string, Assignment>();
  /** topic name → metadata, for the topics some member subscribes to. */
  subscriptionMetadata = new Map<string, TopicMetadata>();
  /** Set when the group is deleted or converted, so late timers do nothing. */
  dead = false;

  constructor(groupId: string) {
    this.groupId = groupId;
  }

  get state(): ConsumerGroupState {
    if (this.dead) return 'Dead';
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch !== this.assignmentEpoch || m.state !== 'STABLE') return 'Reconciling';
    }
    return 'Stable';
  }

  get isEmpty(): boolean {
    return this.members.size === 0;
  }

  setMember(member: ConsumerMember): void {
    const previous = this.members.get(member.memberId);
    if (previous?.instanceId && previous.instanceId !== member.instanceId)
      this.staticMembers.delete(previous.instanceId);
    this.members.set(member.memberId, member);
    if (member.instanceId !== null) this.staticMembers.set(member.instanceId, member.memberId);
  }

  removeMember(memberId: string): ConsumerMember | undefined {
    const member = this.members.get(memberId);
    if (member === undefined) return undefined;
    this.members.delete(memberId);
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === memberId) {
      this.staticMembers.delete(member.instanceId);
    }
    this.targetAssignment.delete(memberId);
    member.sessionTimer?.cancel();
    member.revocationTimer?.cancel();
    return member;
  }

  /** The member (other than `exceptMemberId`) that holds a partition, assigned or pending revocation. */
  ownerOf(topicId: string, partition: number, exceptMemberId: string): ConsumerMember | undefined {
    for (const m of this.members.values()) {
      if (m.memberId === exceptMemberId) continue;
      if (hasPartition(m.assigned, topicId, partition) || hasPartition(m.pendingRevocation, topicId, partition)) {
        return m;
      }
    }
    return undefined;
  }

  /** Topics some member subscribes to by name, in no particular order. */
  subscribedTopicNames(): Set<string> {
    const out = new Set<string>();
    for (const m of this.members.values()) for (const t of m.subscribedTopicNames) out.add(t);
    return out;
  }

  /** The assignor most members asked for, else the default. */
  preferredAssignor(defaultName: string): string {
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    }
    let best = defaultName;
    let bestVotes = 0;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }
}

/**
 * The reconciliation step (Kafka's CurrentAssignmentBuilder): given the member's state, its
 * target, the partitions it says it owns (null when the heartbeat did not say) and which
 * partitions other members still hold, returns the member's next state as a copy.
 *
 * - Partitions it has that are not in its target are revoked first: the member keeps its
 *   epoch and stays UNREVOKED_PARTITIONS until a heartbeat no longer lists them.
 * - Then it moves to the target epoch and gets the target partitions nobody else holds;
 *   the rest wait (UNRELEASED_PARTITIONS) until their previous owner revokes them.
 */
export function reconcile(
  member: ConsumerMember,
  targetEpoch: number,
  target: Assignment,
  subscribedTopicIds: ReadonlySet<string>,
  owned: Assignment | null,
  heldByOther: (topicId: string, partition: number) => boolean,
): ConsumerMember {
  const ownsAny = (revoking: Assignment): boolean => {
    if (owned === null) return true;
    for (const [t, ps] of revoking) for (const p of ps) if (hasPartition(owned, t, p)) return true;
    return false;
  };
  switch (member.state) {
    case 'STABLE':
      if (member.memberEpoch === targetEpoch) return member;
      return computeNext(member, member.memberEpoch, targetEpoch, target, subscribedTopicIds, heldByOther, ownsAny);
    case 'UNREVOKED_PARTITIONS':
      if (ownsAny(member.pendingRevocation)) return member;
      return computeNext(member, member.memberEpoch, targetEpoch, target, subscribedTopicIds, heldByOther, ownsAny);
    case 'UNRELEASED_PARTITIONS':
      return computeNext(member, member.memberEpoch, targetEpoch, target, subscribedTopicIds, heldByOther, ownsAny);
  }
}

function computeNext(
  member: ConsumerMember,
  memberEpoch: number,
  targetEpoch: number,
  target: Assignment,
  subscribed: ReadonlySet<string>,
  heldByOther: (topicId: string, partition: number) => boolean,
  ownsAny: (revoking: Assignment) => boolean,
): ConsumerMember {
  const assigned: Assignment = new Map();
  const revoking: Assignment = new Map();
  const toAssign: Assignment = new Map();
  let unreleased = false;
  const topicIds = new Set([...target.keys(), ...member.assigned.keys()]);
  for (const topicId of topicIds) {
    const want = subscribed.has(topicId) ? (target.get(topicId) ?? new Set<number>()) : new Set<number>();
    for (const p of member.assigned.get(topicId) ?? []) {
      if (want.has(p)) addPartition(assigned, topicId, p);
      else addPartition(revoking, topicId, p);
    }
    for (const p of want) {
      if (hasPartition(assigned, topicId, p)) continue;
      if (heldByOther(topicId, p) && !hasPartition(member.pendingRevocation, topicId, p)) unreleased = true;
      else addPartition(toAssign, topicId, p);
    }
  }
  const next = member.copy();
  if (revoking.size > 0 && ownsAny(revoking)) {
    next.state = 'UNREVOKED_PARTITIONS';
    next.assigned = assigned;
    next.pendingRevocation = revoking;
    setEpoch(next, memberEpoch);
    return next;
  }
  for (const [t, ps] of toAssign) for (const p of ps) addPartition(assigned, t, p);
  next.state = unreleased ? 'UNRELEASED_PARTITIONS' : 'STABLE';
  next.assigned = assigned;
  next.pendingRevocation = new Map();
  setEpoch(next, targetEpoch);
  return next;
}

function setEpoch(member: ConsumerMember, epoch: number): void {
  if (member.memberEpoch !== epoch) {
    member.previousMemberEpoch = member.memberEpoch;
    member.memberEpoch = epoch;
  }
}
