/**
 * The classic group protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup with Kafka's
 * rules (generations, MEMBER_ID_REQUIRED, static membership, the initial rebalance delay,
 * rebalance and session timeouts, the SyncGroup deadline).
 *
 * Every method runs inside the serial queue of its group (the coordinator arranges it), so
 * the group's state does not change under a method across its awaits: the only awaits are
 * durable writes of the group's own records. Delayed answers (a JoinGroup waiting for the
 * rebalance, a follower's SyncGroup waiting for the leader) are callbacks stored on the
 * member and called by a later task of the same queue.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  ClassicGroup,
  ClassicMember,
  EMPTY_BYTES,
  type JoinGroupResult,
  joinError,
  NEW_MEMBER_JOIN_TIMEOUT_MS,
  type ProtocolMetadata,
  type SyncGroupResult,
  syncError,
} from './classic-group.ts';
import { classicGroupRecord, consumerGroupTombstones } from './record-builders.ts';
import type { GroupRuntime } from './runtime.ts';

export interface JoinGroupParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and rejoins with the id. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader may be told to skip the assignment. */
  supportSkippingAssignment: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: ProtocolMetadata[];
}

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface HeartbeatParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveMember {
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export class ClassicCoordinator {
  readonly #rt: GroupRuntime;

  constructor(runtime: GroupRuntime) {
    this.#rt = runtime;
  }

  // ------------------------------------------------------------------ JoinGroup

  /** Handles a JoinGroup; `respond` is called now or when the rebalance completes. */
  async join(p: JoinGroupParams, respond: (result: JoinGroupResult) => void): Promise<void> {
    const rt = this.#rt;
    const isUnknownMember = p.memberId === '';
    let existing = rt.groups.get(p.groupId);
    if (existing?.type === 'consumer') {
      if (!existing.isEmpty) {
        // Classic members cannot join a consumer group that has members (no online migration).
        respond(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
        return;
      }
      // An empty consumer group goes back to being a classic group; its offsets stay.
      try {
        await rt.write(p.groupId, consumerGroupTombstones(existing));
      } catch (err) {
        respond(joinError(p.memberId, rt.writeErrorCode(err, false)));
        return;
      }
      existing.dead = true;
      rt.groups.delete(p.groupId);
      existing = undefined;
    }
    let group = existing;
    let created = false;
    if (group === undefined) {
      if (!isUnknownMember) {
        respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        return;
      }
      group = new ClassicGroup(p.groupId, rt.now());
      rt.groups.set(p.groupId, group);
      created = true;
    }
    if (!this.#acceptJoiningMember(group, p.memberId)) {
      group.remove(p.memberId);
      respond(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED));
    } else if (isUnknownMember) {
      await this.#newMemberJoin(group, p, respond);
    } else {
      await this.#currentMemberJoin(group, p, respond);
    }
    if (group.is('PreparingRebalance')) await this.#tryCompleteJoin(group);
    // A join that failed on a group it created leaves nothing behind.
    if (
      created &&
      group.is('Empty') &&
      group.size === 0 &&
      group.pendingMembers.size === 0 &&
      !rt.offsets.has(group.groupId)
    ) {
      rt.groups.delete(group.groupId);
    }
  }

  #acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.#rt.config.maxGroupSize;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return (group.members.get(memberId)?.isAwaitingJoin ?? false) || group.numAwaitingJoin < max;
      case 'CompletingRebalance':
      case 'Stable':
        return group.members.has(memberId) || group.size < max;
    }
  }

  async #newMemberJoin(
    group: ClassicGroup,
    p: JoinGroupParams,
    respond: (result: JoinGroupResult) => void,
  ): Promise<void> {
    if (group.is('Dead')) {
      respond(joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(p.protocolType, p.protocols)) {
      respond(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    const newMemberId = `${p.groupInstanceId ?? p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const oldMemberId = group.staticMemberId(p.groupInstanceId);
      if (oldMemberId !== undefined) {
        await this.#updateStaticMemberAndRebalance(group, oldMemberId, newMemberId, p, respond);
      } else {
        this.#addMemberAndRebalance(group, newMemberId, p, respond);
      }
    } else if (p.requireKnownMemberId) {
      group.pendingMembers.add(newMemberId);
      this.#schedulePendingMemberExpiration(group, newMemberId, p.sessionTimeoutMs);
      respond(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.#addMemberAndRebalance(group, newMemberId, p, respond);
    }
  }

  async #currentMemberJoin(
    group: ClassicGroup,
    p: JoinGroupParams,
    respond: (result: JoinGroupResult) => void,
  ): Promise<void> {
    if (group.is('Dead')) {
      respond(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(p.protocolType, p.protocols)) {
      respond(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    if (group.pendingMembers.has(p.memberId)) {
      // A member id handed out with MEMBER_ID_REQUIRED; such a member is never static.
      if (p.groupInstanceId !== null) {
        respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        return;
      }
      this.#addMemberAndRebalance(group, p.memberId, p, respond);
      return;
    }
    const error = validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error !== ErrorCode.NONE) {
      respond(joinError(p.memberId, error));
      return;
    }
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'PreparingRebalance':
        this.#updateMemberAndRebalance(group, member, p, respond);
        return;
      case 'CompletingRebalance':
        if (member.matches(p.protocols)) {
          // The member lost its JoinGroup response: answer again for this generation.
          respond(this.#currentGenerationResult(group, member.memberId, group.isLeader(member.memberId)));
        } else {
          this.#updateMemberAndRebalance(group, member, p, respond);
        }
        return;
      case 'Stable':
        if (group.isLeader(member.memberId) || !member.matches(p.protocols)) {
          // A leader's JoinGroup asks for a rebalance (e.g. topic metadata changed).
          this.#updateMemberAndRebalance(group, member, p, respond);
        } else {
          respond(this.#currentGenerationResult(group, member.memberId, false));
        }
        return;
      case 'Empty':
      case 'Dead':
        respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  #currentGenerationResult(group: ClassicGroup, memberId: string, withMembers: boolean): JoinGroupResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId,
      skipAssignment: false,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  #addMemberAndRebalance(
    group: ClassicGroup,
    memberId: string,
    p: JoinGroupParams,
    respond: (result: JoinGroupResult) => void,
  ): void {
    const member = new ClassicMember({
      memberId,
      groupInstanceId: p.groupInstanceId,
      clientId: p.clientId,
      clientHost: p.clientHost,
      rebalanceTimeoutMs: p.rebalanceTimeoutMs,
      sessionTimeoutMs: p.sessionTimeoutMs,
      protocolType: p.protocolType,
      supportedProtocols: p.protocols,
    });
    member.isNew = true;
    // Members joining during the first rebalance may extend the initial delay.
    if (group.is('PreparingRebalance') && group.generationId === 0) group.newMemberAdded = true;
    group.add(member, respond);
    // A new member cannot heartbeat before its JoinGroup returns; it is dropped if that takes too long.
    this.#scheduleHeartbeatExpiration(group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.#maybePrepareRebalance(group);
  }

  #updateMemberAndRebalance(
    group: ClassicGroup,
    member: ClassicMember,
    p: JoinGroupParams,
    respond: (result: JoinGroupResult) => void,
  ): void {
    // A JoinGroup still waiting (the client gave up and sent another) is released.
    member.invokeJoin(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    group.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, respond);
    this.#maybePrepareRebalance(group);
  }

  /**
   * A static member rejoining with an unknown member id replaces its previous member id.
   * In a Stable group whose protocol choice does not change, no rebalance is needed: the
   * change is persisted and the member gets the current generation. Awaits the write.
   */
  async #updateStaticMemberAndRebalance(
    group: ClassicGroup,
    oldMemberId: string,
    newMemberId: string,
    p: JoinGroupParams,
    respond: (result: JoinGroupResult) => void,
  ): Promise<void> {
    const rt = this.#rt;
    const instanceId = p.groupInstanceId!;
    const currentLeader = group.leaderId;
    const member = group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
    const oldProtocols = member.supportedProtocols;
    const oldRebalanceTimeoutMs = member.rebalanceTimeoutMs;
    const oldSessionTimeoutMs = member.sessionTimeoutMs;
    group.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, respond);
    switch (group.state) {
      case 'Stable': {
        if (group.protocolName !== group.selectProtocol()) {
          this.#maybePrepareRebalance(group);
          return;
        }
        try {
          await rt.write(group.groupId, [classicGroupRecord(group)]);
        } catch (err) {
          // Not persisted: put the previous member id back and fail this join.
          group.updateMember(member, oldProtocols, oldRebalanceTimeoutMs, oldSessionTimeoutMs, null);
          const restored = group.replaceStaticMember(instanceId, newMemberId, oldMemberId);
          this.#scheduleHeartbeatExpiration(group, restored, restored.sessionTimeoutMs);
          respond({
            ...joinError('', rt.writeErrorCode(err, false)),
            generationId: group.generationId,
            protocolType: group.protocolType,
            protocolName: group.protocolName,
            leader: currentLeader ?? '',
          });
          return;
        }
        if (p.supportSkippingAssignment) {
          // v9+: the static leader learns it leads, but must not run a new assignment.
          const isLeader = group.isLeader(newMemberId);
          member.invokeJoin({
            ...this.#currentGenerationResult(group, newMemberId, isLeader),
            skipAssignment: isLeader,
          });
        } else {
          // Older clients: naming the old leader keeps a rejoining leader from assigning.
          member.invokeJoin({
            ...this.#currentGenerationResult(group, newMemberId, false),
            leader: currentLeader ?? '',
          });
        }
        return;
      }
      case 'CompletingRebalance':
        // The leader may already be assigning with the old member id: start over.
        this.#prepareRebalance(group);
        return;
      case 'PreparingRebalance':
        return;
      case 'Empty':
      case 'Dead':
        member.invokeJoin(joinError(newMemberId, ErrorCode.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  // ------------------------------------------------------------------ rebalance

  #maybePrepareRebalance(group: ClassicGroup): void {
    if (group.canRebalance) this.#prepareRebalance(group);
  }

  #prepareRebalance(group: ClassicGroup): void {
    const rt = this.#rt;
    if (group.is('CompletingRebalance')) this.#resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.#cancelSyncExpiration(group);
    group.joinTimer?.cancel();
    const wasEmpty = group.is('Empty');
    group.transitionTo('PreparingRebalance', rt.now());
    if (wasEmpty) {
      // An empty group waits group.initial.rebalance.delay.ms for more members, extending
      // the wait while members keep arriving, up to the rebalance timeout.
      const delay = rt.config.initialRebalanceDelayMs;
      this.#scheduleInitialJoin(group, delay, Math.max(group.rebalanceTimeoutMs - delay, 0));
    } else {
      this.#scheduleJoin(group, group.rebalanceTimeoutMs);
    }
  }

  #scheduleInitialJoin(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.initialJoinPending = true;
    const timer = this.#rt.schedule(group.groupId, delayMs, async () => {
      if (group.joinTimer !== timer || !group.is('PreparingRebalance')) return;
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false;
        const delay = Math.min(this.#rt.config.initialRebalanceDelayMs, remainingMs);
        this.#scheduleInitialJoin(group, delay, Math.max(remainingMs - delay, 0));
        return;
      }
      group.initialJoinPending = false;
      await this.#completeJoin(group);
    });
    group.joinTimer = timer;
  }

  #scheduleJoin(group: ClassicGroup, timeoutMs: number): void {
    group.initialJoinPending = false;
    const timer = this.#rt.schedule(group.groupId, timeoutMs, async () => {
      if (group.joinTimer !== timer || !group.is('PreparingRebalance')) return;
      await this.#completeJoin(group);
    });
    group.joinTimer = timer;
  }

  /** Completes the rebalance early once every member has rejoined (never during the initial delay). */
  async #tryCompleteJoin(group: ClassicGroup): Promise<void> {
    if (!group.is('PreparingRebalance') || group.initialJoinPending) return;
    if (group.hasAllMembersJoined()) await this.#completeJoin(group);
  }

  /**
   * The end of PreparingRebalance: dynamic members that did not rejoin are dropped, the next
   * generation starts, and every waiting JoinGroup is answered (the leader with the members'
   * metadata). An emptied group is persisted. Awaits that write only.
   */
  async #completeJoin(group: ClassicGroup): Promise<void> {
    const rt = this.#rt;
    if (!group.is('PreparingRebalance')) return;
    group.joinTimer?.cancel();
    group.joinTimer = null;
    for (const member of [...group.members.values()]) {
      if (!member.isAwaitingJoin && !member.isStatic) group.remove(member.memberId);
    }
    if (!group.maybeElectNewJoinedLeader() && group.size > 0) {
      // Only static members that have not rejoined remain: wait for them (or their session expiry).
      this.#scheduleJoin(group, group.rebalanceTimeoutMs);
      return;
    }
    group.initNextGeneration(rt.now());
    if (group.is('Empty')) {
      try {
        await rt.write(group.groupId, [classicGroupRecord(group)]);
      } catch (err) {
        rt.logger.warn({ group: group.groupId, err: String(err) }, 'Cannot persist the empty group metadata');
      }
      return;
    }
    for (const member of group.members.values()) {
      member.invokeJoin(this.#currentGenerationResult(group, member.memberId, group.isLeader(member.memberId)));
      this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    this.#schedulePendingSync(group);
  }

  #schedulePendingSync(group: ClassicGroup): void {
    group.syncTimer?.cancel();
    const generationId = group.generationId;
    const timer = this.#rt.schedule(group.groupId, group.rebalanceTimeoutMs, async () => {
      if (group.syncTimer !== timer) return;
      group.syncTimer = null;
      if (generationId !== group.generationId) return;
      if (!group.is('CompletingRebalance') && !group.is('Stable')) return;
      if (group.pendingSyncMembers.size === 0) return;
      // Members that did not send SyncGroup in time are removed, and the group rebalances.
      for (const memberId of [...group.pendingSyncMembers]) {
        group.members.get(memberId)?.invokeJoin(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        group.remove(memberId);
      }
      this.#prepareRebalance(group);
      await this.#tryCompleteJoin(group);
    });
    group.syncTimer = timer;
  }

  #cancelSyncExpiration(group: ClassicGroup): void {
    group.pendingSyncMembers.clear();
    group.syncTimer?.cancel();
    group.syncTimer = null;
  }

  #removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0) {
      group.syncTimer?.cancel();
      group.syncTimer = null;
    }
  }

  #resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) m.assignment = EMPTY_BYTES;
    this.#propagateAssignment(group, errorCode);
  }

  #propagateAssignment(group: ClassicGroup, errorCode: number): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const member of group.members.values()) {
      const result: SyncGroupResult = {
        errorCode,
        protocolType: ok ? group.protocolType : null,
        protocolName: ok ? group.protocolName : null,
        assignment: member.assignment,
      };
      // A member that was waiting gets a fresh session from now.
      if (member.invokeSync(result)) this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
    }
  }

  // ------------------------------------------------------------------ SyncGroup

  /** Handles a SyncGroup; `respond` is called now or when the leader's assignment is stored. */
  async sync(p: SyncGroupParams, respond: (result: SyncGroupResult) => void): Promise<void> {
    const rt = this.#rt;
    const group = rt.groups.get(p.groupId);
    if (group === undefined || group.type !== 'classic') {
      respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      return;
    }
    if (group.is('Dead')) {
      respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    let error = validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error === ErrorCode.NONE) {
      if (p.generationId !== group.generationId) error = ErrorCode.ILLEGAL_GENERATION;
      else if (p.protocolType !== null && p.protocolType !== group.protocolType) {
        error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
      } else if (p.protocolName !== null && p.protocolName !== group.protocolName) {
        error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
      }
    }
    if (error !== ErrorCode.NONE) {
      respond(syncError(error));
      return;
    }
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'Empty':
        respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
        return;
      case 'PreparingRebalance':
        respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        return;
      case 'CompletingRebalance': {
        member.invokeSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        member.awaitingSync = respond;
        this.#removePendingSyncMember(group, p.memberId);
        if (!group.isLeader(p.memberId)) return;
        const assignments = new Map<string, Buffer>();
        for (const a of p.assignments) if (group.members.has(a.memberId)) assignments.set(a.memberId, a.assignment);
        for (const memberId of group.members.keys())
          if (!assignments.has(memberId)) assignments.set(memberId, EMPTY_BYTES);
        try {
          await rt.write(group.groupId, [classicGroupRecord(group, assignments)]);
        } catch (err) {
          // Still CompletingRebalance of this generation: the queue let nothing else run.
          this.#resetAndPropagateAssignmentError(group, rt.writeErrorCode(err, false));
          this.#maybePrepareRebalance(group);
          return;
        }
        for (const m of group.members.values()) m.assignment = assignments.get(m.memberId) ?? EMPTY_BYTES;
        this.#propagateAssignment(group, ErrorCode.NONE);
        group.transitionTo('Stable', rt.now());
        return;
      }
      case 'Stable':
        this.#removePendingSyncMember(group, p.memberId);
        respond({
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        });
        this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
        return;
      case 'Dead':
        respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
        return;
    }
  }

  // ------------------------------------------------------------------ Heartbeat

  heartbeat(p: HeartbeatParams): number {
    const group = this.#rt.groups.get(p.groupId);
    if (group === undefined || group.type !== 'classic') return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const error = validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error !== ErrorCode.NONE) return error;
    if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      case 'Stable':
        this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
        return ErrorCode.NONE;
      case 'PreparingRebalance':
        this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'Dead':
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** An offset commit by a current member also counts as a heartbeat. */
  touchMember(group: ClassicGroup, memberId: string): void {
    const member = group.members.get(memberId);
    if (member !== undefined && (group.is('Stable') || group.is('PreparingRebalance'))) {
      this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
    }
  }

  // ------------------------------------------------------------------ LeaveGroup

  async leave(groupId: string, leaving: readonly LeaveMember[]): Promise<LeaveGroupResult> {
    const group = this.#rt.groups.get(groupId);
    if (group === undefined || group.type !== 'classic') {
      return {
        errorCode: ErrorCode.NONE,
        members: leaving.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      };
    }
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members: LeaveGroupResult['members'] = [];
    for (const m of leaving) {
      let errorCode: number = ErrorCode.NONE;
      if (m.memberId === '') {
        // Administrative removal of a static member by its instance id.
        const current = m.groupInstanceId === null ? undefined : group.staticMemberId(m.groupInstanceId);
        if (current === undefined) errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
        else await this.#removeMemberAndUpdateGroup(group, group.members.get(current)!);
      } else if (group.pendingMembers.has(m.memberId)) {
        group.remove(m.memberId);
        await this.#tryCompleteJoin(group);
      } else {
        errorCode = validateCurrentMember(group, m.memberId, m.groupInstanceId);
        if (errorCode === ErrorCode.NONE) await this.#removeMemberAndUpdateGroup(group, group.members.get(m.memberId)!);
      }
      members.push({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
    }
    return { errorCode: ErrorCode.NONE, members };
  }

  /** Removes a member (leave, session expiry) and rebalances what is left. */
  async #removeMemberAndUpdateGroup(group: ClassicGroup, member: ClassicMember): Promise<void> {
    // A member still waiting on JoinGroup or SyncGroup is told it is gone.
    member.invokeJoin(joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
    member.invokeSync(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.#maybePrepareRebalance(group);
        // With nobody left to wait for (the last member left), the rebalance completes now.
        await this.#tryCompleteJoin(group);
        break;
      case 'PreparingRebalance':
        await this.#tryCompleteJoin(group);
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ timers

  /** (Re)starts a member's session: it is removed unless it heartbeats within `timeoutMs`. */
  #scheduleHeartbeatExpiration(group: ClassicGroup, member: ClassicMember, timeoutMs: number): void {
    member.heartbeatTimer?.cancel();
    const timer = this.#rt.schedule(group.groupId, timeoutMs, async () => {
      if (member.heartbeatTimer !== timer || group.members.get(member.memberId) !== member) return;
      if (this.#rt.groups.get(group.groupId) !== group || group.is('Dead')) return;
      member.heartbeatTimer = null;
      // Members waiting in a rebalance need no heartbeat; completing it restarts their session.
      if (!member.isNew && (member.isAwaitingJoin || member.isAwaitingSync)) return;
      this.#rt.logger.info({ group: group.groupId, member: member.memberId }, 'Member session expired');
      await this.#removeMemberAndUpdateGroup(group, member);
    });
    member.heartbeatTimer = timer;
  }

  #schedulePendingMemberExpiration(group: ClassicGroup, memberId: string, timeoutMs: number): void {
    this.#rt.schedule(group.groupId, timeoutMs, async () => {
      if (!group.pendingMembers.has(memberId)) return;
      group.remove(memberId);
      await this.#tryCompleteJoin(group);
    });
  }

  /** After loading: every member of a restored group must heartbeat within its session. */
  resumeLoadedGroup(group: ClassicGroup): void {
    for (const member of group.members.values()) {
      this.#scheduleHeartbeatExpiration(group, member, member.sessionTimeoutMs);
    }
  }

  /** Answers every waiting JoinGroup and SyncGroup (the broker is stopping). */
  abortWaiting(group: ClassicGroup, errorCode: number): void {
    for (const member of group.members.values()) {
      member.invokeJoin(joinError(member.memberId, errorCode));
      member.invokeSync(syncError(errorCode));
    }
  }
}

/** Kafka's validateCurrentMember: the instance id (if any) must map to this member id, which must exist. */
export function validateCurrentMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number {
  if (groupInstanceId !== null) {
    const current = group.staticMemberId(groupInstanceId);
    if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
  }
  if (!group.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
  return ErrorCode.NONE;
}
