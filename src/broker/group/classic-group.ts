/**
 * A classic group (JoinGroup/SyncGroup protocol): its members and state, and the pure
 * rules Kafka applies to them (protocol selection, leader election, who still has to
 * rejoin). Timers, storage and request handling live in classic-coordinator.ts; this
 * module never awaits.
 */
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { ConsumerProtocolSubscription } from '../../protocol/generated/messages/consumer-protocol-subscription.ts';
import { Reader } from '../../protocol/reader.ts';
import type { Timer } from './timers.ts';

export type ClassicGroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface ProtocolMetadata {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  skipAssignment: boolean;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

export function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    memberId,
    skipAssignment: false,
    members: [],
  };
}

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

/** How long a new member's pending JoinGroup may wait before the member is dropped (Kafka's NewMemberJoinTimeoutMs). */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

export class ClassicMember {
  memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  readonly protocolType: string;
  supportedProtocols: ProtocolMetadata[];
  assignment: Buffer = EMPTY_BYTES;
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  awaitingJoin: ((result: JoinGroupResult) => void) | null = null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  awaitingSync: ((result: SyncGroupResult) => void) | null = null;
  /** Joined during the current rebalance and not yet told the result. */
  isNew = false;
  /** The session (or new-member) expiry; replaced on every heartbeat. */
  heartbeatTimer: Timer | null = null;

  constructor(init: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    rebalanceTimeoutMs: number;
    sessionTimeoutMs: number;
    protocolType: string;
    supportedProtocols: ProtocolMetadata[];
  }) {
    this.memberId = init.memberId;
    this.groupInstanceId = init.groupInstanceId;
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.sessionTimeoutMs = init.sessionTimeoutMs;
    this.protocolType = init.protocolType;
    this.supportedProtocols = init.supportedProtocols;
  }

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  get isAwaitingSync(): boolean {
    return this.awaitingSync !== null;
  }

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  /** The member's metadata for a protocol (empty when it does not support it). */
  metadata(protocol: string | null): Buffer {
    return this.supportedProtocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BYTES;
  }

  /** Same protocols, in the same order, with the same metadata bytes. */
  matches(protocols: readonly ProtocolMetadata[]): boolean {
    if (protocols.length !== this.supportedProtocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.supportedProtocols[i]!;
      return mine.name === p.name && mine.metadata.equals(p.metadata);
    });
  }

  /** The member's first preference among the candidates. */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.supportedProtocols.find((p) => candidates.has(p.name));
    if (choice === undefined) throw new Error(`Member "${this.memberId}" supports none of the candidate protocols`);
    return choice.name;
  }

  invokeJoin(result: JoinGroupResult): boolean {
    const callback = this.awaitingJoin;
    if (callback === null) return false;
    this.awaitingJoin = null;
    callback(result);
    return true;
  }

  invokeSync(result: SyncGroupResult): boolean {
    const callback = this.awaitingSync;
    if (callback === null) return false;
    this.awaitingSync = null;
    callback(result);
    return true;
  }
}

export class ClassicGroup {
  readonly type = 'classic' as const;
  readonly groupId: string;
  state: ClassicGroupState = 'Empty';
  /** When the group entered its current state (ms); drives offset expiry of empty groups. */
  currentStateTimestamp: number | null;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, ClassicMember>();
  /** group.instance.id → member id */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet. */
  readonly pendingMembers = new Set<string>();
  /** Members that got their JoinGroup response and owe a SyncGroup. */
  readonly pendingSyncMembers = new Set<string>();
  /** A member joined during the initial delayed rebalance, which may then be extended. */
  newMemberAdded = false;
  /** The pending rebalance completion (DelayedJoin) and SyncGroup deadline (DelayedSync). */
  joinTimer: Timer | null = null;
  syncTimer: Timer | null = null;
  /** The initial delayed rebalance of an empty group is running: it completes only on its timer. */
  initialJoinPending = false;

  constructor(groupId: string, now: number | null) {
    this.groupId = groupId;
    this.currentStateTimestamp = now;
  }

  is(state: ClassicGroupState): boolean {
    return this.state === state;
  }

  get size(): number {
    return this.members.size;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  get numAwaitingJoin(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.isAwaitingJoin) n++;
    return n;
  }

  /** The longest rebalance timeout of the members: how long a rebalance may wait for them. */
  get rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numAwaitingJoin && this.pendingMembers.size === 0;
  }

  /** The valid transitions of Kafka's classic group state machine. */
  canTransitionTo(target: ClassicGroupState): boolean {
    const from = this.state;
    switch (target) {
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return from === 'Stable' || from === 'CompletingRebalance' || from === 'Empty';
      case 'CompletingRebalance':
        return from === 'PreparingRebalance';
      case 'Stable':
        return from === 'CompletingRebalance';
      case 'Empty':
        return from === 'PreparingRebalance';
    }
  }

  get canRebalance(): boolean {
    return this.canTransitionTo('PreparingRebalance');
  }

  transitionTo(target: ClassicGroupState, now: number): void {
    if (!this.canTransitionTo(target)) {
      throw new Error(`Group "${this.groupId}" cannot go from ${this.state} to ${target}`);
    }
    this.state = target;
    this.currentStateTimestamp = now;
  }

  /** How many members support each protocol. */
  #protocolCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.members.values()) {
      for (const p of new Set(m.supportedProtocols.map((x) => x.name))) counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    return counts;
  }

  /** Whether a member with this protocol type and these protocols may join. */
  supportsProtocols(protocolType: string, protocols: readonly ProtocolMetadata[]): boolean {
    if (this.is('Empty')) return protocolType !== '' && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const counts = this.#protocolCounts();
    return protocols.some((p) => counts.get(p.name) === this.members.size);
  }

  /** The protocols every member supports. */
  candidateProtocols(): Set<string> {
    const out = new Set<string>();
    for (const [name, count] of this.#protocolCounts()) if (count === this.members.size) out.add(name);
    return out;
  }

  /**
   * The protocol the group uses: among those all members support, the one most members
   * name first (ties go to the first member's preference, so the choice is stable).
   */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    if (candidates.size === 0) throw new Error(`Group "${this.groupId}" has no protocol common to all members`);
    const votes = new Map<string, number>();
    let best: string | null = null;
    for (const m of this.members.values()) {
      const v = m.vote(candidates);
      const n = (votes.get(v) ?? 0) + 1;
      votes.set(v, n);
      if (best === null || n > votes.get(best)!) best = v;
    }
    return best!;
  }

  add(member: ClassicMember, callback: ((result: JoinGroupResult) => void) | null): void {
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    member.awaitingJoin = callback;
    this.pendingMembers.delete(member.memberId);
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (member !== undefined) {
      this.members.delete(memberId);
      if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
        this.staticMembers.delete(member.groupInstanceId);
      }
      member.heartbeatTimer?.cancel();
      member.heartbeatTimer = null;
    }
    if (this.isLeader(memberId)) this.leaderId = this.members.keys().next().value ?? null;
    this.pendingMembers.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
  }

  /** Moves a static member's entry to a new member id; a caller still waiting under the old id is fenced. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): ClassicMember {
    const member = this.members.get(oldMemberId);
    if (member === undefined) throw new Error(`Static member "${groupInstanceId}" has no entry "${oldMemberId}"`);
    this.members.delete(oldMemberId);
    member.invokeJoin(joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    member.invokeSync(syncError(ErrorCode.FENCED_INSTANCE_ID));
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    this.pendingSyncMembers.delete(oldMemberId);
    return member;
  }

  updateMember(
    member: ClassicMember,
    protocols: ProtocolMetadata[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    callback: ((result: JoinGroupResult) => void) | null,
  ): void {
    member.supportedProtocols = protocols;
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    member.awaitingJoin = callback;
  }

  /** If the leader has not rejoined, any member that has becomes leader; false when none has. */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.isAwaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.isAwaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** Starts the next generation: CompletingRebalance with a protocol, or Empty without members. */
  initNextGeneration(now: number): void {
    this.generationId++;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.transitionTo('CompletingRebalance', now);
    } else {
      this.protocolName = null;
      this.transitionTo('Empty', now);
    }
    this.pendingSyncMembers.clear();
  }

  /** What the leader's JoinGroup response lists: each member's metadata for the chosen protocol. */
  currentMemberMetadata(): JoinGroupResult['members'] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata(this.protocolName),
    }));
  }

  /** Whether this member id is fenced by another id registered for its group.instance.id. */
  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId);
  }

  /**
   * Topics the members subscribe to, for groups of protocol type "consumer"; null when
   * that cannot be known (another protocol type, or metadata that does not parse).
   */
  subscribedTopics(): Set<string> | null {
    if (this.protocolType !== 'consumer' || this.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const parsed = parseSubscriptionTopics(m.metadata(this.protocolName));
      if (parsed === null) return null;
      for (const t of parsed) topics.add(t);
    }
    return topics;
  }
}

/** The topics of a "consumer" protocol subscription (int16 version, then the struct). */
export function parseSubscriptionTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    const version = r.int16();
    if (version < 0) return null;
    return ConsumerProtocolSubscription.read(r, Math.min(version, 3)).topics;
  } catch {
    return null;
  }
}
