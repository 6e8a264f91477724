import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { HeartbeatRequest, HeartbeatResponse } from '../../protocol/generated/messages/heartbeat.ts';
import { JoinGroupRequest, JoinGroupResponse } from '../../protocol/generated/messages/join-group.ts';
import { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/generated/messages/leave-group.ts';
import { SyncGroupRequest, SyncGroupResponse } from '../../protocol/generated/messages/sync-group.ts';
import { defineApi } from '../api.ts';
import { backoffDelay, sleep } from '../backoff.ts';
import { type Cluster, CoordinatorType } from '../cluster.ts';
import { KafkaError } from '../errors.ts';
import { type TopicPartition, tpKey } from '../metadata.ts';
import type { GroupMemberContext } from '../offsets.ts';
import { type Assignor, type GroupMember, type RebalanceProtocol, rebalanceProtocol } from './assignors.ts';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol.ts';
import type { GroupMembership, MembershipListener } from './membership.ts';

export const JoinGroupApi = defineApi(JoinGroupRequest, JoinGroupResponse, { min: 0, max: 9 });
export const SyncGroupApi = defineApi(SyncGroupRequest, SyncGroupResponse, { min: 0, max: 5 });
export const HeartbeatApi = defineApi(HeartbeatRequest, HeartbeatResponse, { min: 0, max: 4 });
export const LeaveGroupApi = defineApi(LeaveGroupRequest, LeaveGroupResponse, { min: 0, max: 5 });

export interface ClassicMemberOptions {
  groupId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  assignors: readonly Assignor[];
}

/** Errors after which the member must join again with a fresh identity (its partitions are lost). */
const RESET: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.FENCED_INSTANCE_ID,
]);

/**
 * Membership of a classic group (JoinGroup, SyncGroup, Heartbeat, LeaveGroup). It runs on
 * its own loop and timers, apart from the application's processing, so a slow handler
 * neither delays heartbeats nor a rejoin.
 */
export class ClassicGroupMember implements GroupMembership {
  readonly protocol = 'classic' as const;
  readonly #cluster: Cluster;
  readonly #options: ClassicMemberOptions;
  readonly #listener: MembershipListener;
  readonly #rebalance: RebalanceProtocol;
  #topics: string[] = [];
  #memberId = '';
  #generationId = -1;
  #owned: TopicPartition[] = [];
  #needsJoin = true;
  /** As leader: the partition counts the last assignment was made for. */
  #assignedCounts: Map<string, number> | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  readonly #stop = new AbortController();

  constructor(cluster: Cluster, options: ClassicMemberOptions, listener: MembershipListener) {
    this.#cluster = cluster;
    this.#options = options;
    this.#listener = listener;
    this.#rebalance = rebalanceProtocol(options.assignors);
  }

  get member(): GroupMemberContext {
    return {
      generationIdOrMemberEpoch: this.#generationId,
      memberId: this.#memberId,
      groupInstanceId: this.#options.groupInstanceId,
    };
  }

  get owned(): readonly TopicPartition[] {
    return this.#owned;
  }

  start(topics: readonly string[]): void {
    this.#topics = [...topics];
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  updateSubscription(topics: readonly string[]): void {
    this.#topics = [...topics];
    this.requestRejoin();
  }

  requestRejoin(): void {
    this.#needsJoin = true;
    this.#wake?.();
  }

  async stop(leave: boolean): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stop.abort();
    this.#wake?.();
    await this.#loop?.catch(() => {});
    if (leave && this.#memberId !== '') await this.#leave().catch(() => {});
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      try {
        if (this.#needsJoin) {
          await this.#joinAndSync();
          failures = 0;
          continue;
        }
        await this.#idle(this.#options.heartbeatIntervalMs);
        if (!this.#running || this.#needsJoin) continue;
        if (this.#partitionCountsChanged()) {
          // The leader saw topics grow (or appear): a new assignment must include them.
          this.#needsJoin = true;
          continue;
        }
        await this.#heartbeat();
        failures = 0;
      } catch (err) {
        if (!this.#running) break;
        if (err instanceof KafkaError && !err.retriable && !this.#handled(err)) {
          this.#listener.fatal(err);
          this.#running = false;
          break;
        }
        await sleep(backoffDelay(failures++, this.#cluster.retryBackoff), this.#stop.signal);
      }
    }
  }

  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = wake;
    });
  }

  #partitionCountsChanged(): boolean {
    if (this.#assignedCounts === null) return false;
    for (const [topic, count] of this.#assignedCounts) {
      const now = this.#cluster.metadata.topics.get(topic)?.partitions.length ?? 0;
      if (now !== count) return true;
    }
    return false;
  }

  /** Errors the loop recovers from by itself; the others end the membership. */
  #handled(err: KafkaError): boolean {
    return (
      err.errorCode === ErrorCode.REBALANCE_IN_PROGRESS ||
      err.errorCode === ErrorCode.MEMBER_ID_REQUIRED ||
      (err.errorCode !== null && RESET.has(err.errorCode) && err.errorCode !== ErrorCode.FENCED_INSTANCE_ID) ||
      err.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    );
  }

  #fail(errorCode: number, operation: string): KafkaError {
    this.#cluster.onCoordinatorError(CoordinatorType.GROUP, this.#options.groupId, errorCode);
    if (errorCode === ErrorCode.REBALANCE_IN_PROGRESS) this.#needsJoin = true;
    if (RESET.has(errorCode) && errorCode !== ErrorCode.FENCED_INSTANCE_ID) {
      if (errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.#memberId = '';
      this.#generationId = -1;
      this.#needsJoin = true;
      const lost = this.#owned;
      this.#owned = [];
      if (lost.length > 0) this.#listener.lost(lost);
    }
    return KafkaError.fromCode(errorCode, operation);
  }

  async #heartbeat(): Promise<void> {
    const connection = await this.#cluster.coordinator(CoordinatorType.GROUP, this.#options.groupId);
    const response = await connection.send(HeartbeatApi, {
      groupId: this.#options.groupId,
      generationId: this.#generationId,
      memberId: this.#memberId,
      groupInstanceId: this.#options.groupInstanceId,
    });
    if (response.errorCode !== ErrorCode.NONE) {
      throw this.#fail(response.errorCode, `Heartbeat of group "${this.#options.groupId}" failed`);
    }
  }

  async #joinAndSync(): Promise<void> {
    const groupId = this.#options.groupId;
    if (this.#rebalance === 'eager' && this.#owned.length > 0) {
      const revoked = this.#owned;
      this.#owned = [];
      await this.#listener.revoked(revoked);
    }
    const connection = await this.#cluster.coordinator(CoordinatorType.GROUP, groupId);
    const joinVersion = connection.versionFor(JoinGroupApi);
    const join = await connection.send(
      JoinGroupApi,
      {
        groupId,
        sessionTimeoutMs: this.#options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
        memberId: this.#memberId,
        groupInstanceId: this.#options.groupInstanceId,
        protocolType: 'consumer',
        protocols: this.#options.assignors.map((a) => ({
          name: a.name,
          metadata: encodeSubscription({
            topics: this.#topics,
            userData: a.userData?.(this.#generationId) ?? null,
            ownedPartitions: this.#owned,
            generationId: this.#generationId,
            rackId: null,
          }),
        })),
        reason: null,
      },
      // The coordinator holds JoinGroup until every member joined, up to the rebalance timeout.
      { version: joinVersion, timeoutMs: this.#options.rebalanceTimeoutMs + 5_000 },
    );
    if (join.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      this.#memberId = join.memberId;
      return; // join again at once with the id (KIP-394)
    }
    if (join.errorCode !== ErrorCode.NONE) throw this.#fail(join.errorCode, `Cannot join group "${groupId}"`);
    this.#memberId = join.memberId;
    this.#generationId = join.generationId;
    const protocolName = join.protocolName ?? '';
    let assignments: Array<{ memberId: string; assignment: Buffer }> = [];
    this.#assignedCounts = null;
    if (join.leader === join.memberId && !join.skipAssignment) {
      assignments = await this.#assign(protocolName, join.members);
    }
    const sync = await connection.send(
      SyncGroupApi,
      {
        groupId,
        generationId: this.#generationId,
        memberId: this.#memberId,
        groupInstanceId: this.#options.groupInstanceId,
        protocolType: 'consumer',
        protocolName,
        assignments,
      },
      { timeoutMs: this.#options.rebalanceTimeoutMs + 5_000 },
    );
    if (sync.errorCode !== ErrorCode.NONE) throw this.#fail(sync.errorCode, `Cannot sync group "${groupId}"`);
    const assigned = decodeAssignment(sync.assignment).partitions;
    this.#needsJoin = false;
    const before = new Set(this.#owned.map((tp) => tpKey(tp.topic, tp.partition)));
    const after = new Set(assigned.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked = this.#owned.filter((tp) => !after.has(tpKey(tp.topic, tp.partition)));
    const added = assigned.filter((tp) => !before.has(tpKey(tp.topic, tp.partition)));
    this.#owned = assigned;
    if (revoked.length > 0) {
      await this.#listener.revoked(revoked);
      // KIP-429: revoked partitions reach their new owner in a follow-up rebalance.
      if (this.#rebalance === 'cooperative') this.#needsJoin = true;
    }
    if (added.length > 0) this.#listener.assigned(added);
  }

  async #assign(
    protocolName: string,
    members: ReadonlyArray<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>,
  ): Promise<Array<{ memberId: string; assignment: Buffer }>> {
    const assignor = this.#options.assignors.find((a) => a.name === protocolName);
    if (assignor === undefined) {
      throw new KafkaError(
        `Cannot assign partitions of group "${this.#options.groupId}": unknown assignor "${protocolName}"`,
        {
          code: 'INCONSISTENT_GROUP_PROTOCOL',
          errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
        },
      );
    }
    const decoded: GroupMember[] = members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      subscription: decodeSubscription(m.metadata),
    }));
    const topics = [...new Set(decoded.flatMap((m) => m.subscription.topics))];
    await this.#cluster.refreshMetadata(topics);
    const partitionsPerTopic = new Map<string, number>();
    for (const t of topics) {
      const meta = this.#cluster.metadata.topics.get(t);
      if (meta && meta.partitions.length > 0) partitionsPerTopic.set(t, meta.partitions.length);
    }
    const result = assignor.assign(decoded, partitionsPerTopic);
    this.#cluster.addTopics(topics);
    this.#assignedCounts = new Map(topics.map((t) => [t, partitionsPerTopic.get(t) ?? 0]));
    return decoded.map((m) => ({
      memberId: m.memberId,
      assignment: encodeAssignment({ partitions: result.get(m.memberId) ?? [], userData: null }),
    }));
  }

  async #leave(): Promise<void> {
    const groupId = this.#options.groupId;
    // A static member keeps its place across restarts: it does not leave.
    if (this.#options.groupInstanceId !== null) return;
    const owned = this.#owned;
    this.#owned = [];
    if (owned.length > 0) await this.#listener.revoked(owned);
    const connection = await this.#cluster.coordinator(CoordinatorType.GROUP, groupId);
    const response = await connection.send(
      LeaveGroupApi,
      {
        groupId,
        memberId: this.#memberId,
        members: [{ memberId: this.#memberId, groupInstanceId: null, reason: 'the consumer is closing' }],
      },
      { timeoutMs: 5_000 },
    );
    this.#memberId = '';
    this.#generationId = -1;
    // Leaving is best effort: an error here only means the session timeout removes the member.
    if (response.errorCode !== ErrorCode.NONE) {
      this.#cluster.logger.debug(`LeaveGroup of "${groupId}" answered ${response.errorCode}`);
    }
  }
}
