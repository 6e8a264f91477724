/**
 * The group coordinator: classic groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup), KIP-848
 * consumer groups (ConsumerGroupHeartbeat), committed offsets, and the admin views of
 * groups. State is kept in memory and made durable in `__consumer_offsets` before any
 * change is acknowledged; on start the topic is read back.
 *
 * Concurrency: every change to a group (requests, timer expiries, offset expiry) runs in
 * that group's serial queue, so each sees the state the previous left and nothing else
 * changes the group across its awaits (which are only its own durable writes). Reads
 * (OffsetFetch, DescribeGroups, ListGroups) take a synchronous snapshot without queueing.
 */

import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import type { LogManager } from '../../storage/log-manager.ts';
import type { BrokerConfig } from '../config.ts';
import { coordinatorWriteErrorCode, errorCodeOf } from '../error-mapping.ts';
import type { Logger } from '../logger.ts';
import type { TopicManager } from '../services/topic-manager.ts';
import { PendingTxnOffsets } from '../txn/pending-offsets.ts';
import { assignmentFromWire } from './assignment.ts';
import {
  ClassicCoordinator,
  type HeartbeatParams,
  type JoinGroupParams,
  type LeaveGroupResult,
  type LeaveMember,
  type SyncGroupParams,
  validateCurrentMember,
} from './classic-coordinator.ts';
import {
  ClassicGroup,
  ClassicMember,
  type JoinGroupResult,
  joinError,
  type SyncGroupResult,
  syncError,
} from './classic-group.ts';
import { type GroupCoordinatorConfig, groupCoordinatorConfig } from './config.ts';
import {
  ConsumerCoordinator,
  type ConsumerHeartbeatParams,
  type ConsumerHeartbeatResult,
  type DescribedConsumerGroup,
  validateConsumerHeartbeat,
} from './consumer-coordinator.ts';
import { ConsumerGroup, ConsumerMember, memberStateFromCode } from './consumer-group.ts';
import { type CommittedOffset, OffsetStore, type TopicPartitionRef } from './offsets.ts';
import {
  classicGroupTombstone,
  consumerGroupTombstones,
  offsetCommitRecord,
  offsetTombstone,
} from './record-builders.ts';
import type { GroupRecord } from './records.ts';
import type { AnyGroup, GroupRuntime } from './runtime.ts';
import { KeyedSerialQueue } from './serial-queue.ts';
import { GroupStateLog } from './state-log.ts';
import { Timers } from './timers.ts';

export interface GroupCoordinatorOptions {
  config: BrokerConfig;
  logger: Logger;
  topics: TopicManager;
  logs: LogManager;
  /** Wall clock in ms (tests drive offset expiry with it). */
  clock?: () => number;
}

export interface OffsetCommitPartitionInput {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  /** −1: the broker's time. */
  commitTimestamp: bigint;
  committedMetadata: string | null;
}

export interface OffsetCommitInput {
  apiVersion: number;
  groupId: string;
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
  /** −1: no explicit retention (OffsetCommit v2–v4 may set one). */
  retentionTimeMs: bigint;
  topics: { name: string; partitions: OffsetCommitPartitionInput[] }[];
}

/** TxnOffsetCommit: offsets a transactional producer commits inside its transaction. */
export interface TxnOffsetCommitInput {
  groupId: string;
  producerId: bigint;
  producerEpoch: number;
  /** v3+: the member committing (−1, '' and null before, or outside group management). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: { name: string; partitions: Omit<OffsetCommitPartitionInput, 'commitTimestamp'>[] }[];
}

export interface TopicPartitionErrors {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

export interface FetchedOffsets {
  errorCode: number;
  topics: {
    name: string;
    partitions: {
      partitionIndex: number;
      committedOffset: bigint;
      committedLeaderEpoch: number;
      metadata: string;
      errorCode: number;
    }[];
  }[];
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: string;
  groupType: string;
}

/** Group ids the APIs other than offsets and admin ones require to be non-empty. */
function validGroupId(groupId: string, allowEmpty: boolean): boolean {
  return allowEmpty || groupId !== '';
}

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  readonly stateLog: GroupStateLog;
  readonly #logger: Logger;
  readonly #topics: TopicManager;
  readonly #clock: () => number;
  readonly #queue = new KeyedSerialQueue();
  readonly #timers: Timers;
  readonly #groups = new Map<string, AnyGroup>();
  readonly #offsets = new OffsetStore();
  /** Offsets committed inside transactions that have not committed yet (TxnOffsetCommit). */
  readonly #pendingTxnOffsets = new PendingTxnOffsets();
  readonly #classic: ClassicCoordinator;
  readonly #consumer: ConsumerCoordinator;
  #active = false;
  #retentionTimer: NodeJS.Timeout | null = null;

  constructor(options: GroupCoordinatorOptions) {
    this.config = groupCoordinatorConfig(options.config);
    this.#logger = options.logger;
    this.#topics = options.topics;
    this.#clock = options.clock ?? Date.now;
    this.stateLog = new GroupStateLog({
      topics: options.topics,
      logs: options.logs,
      config: this.config,
      logger: options.logger,
    });
    this.#timers = new Timers((groupId, task) => {
      this.#queue.run(groupId, task).catch((err: unknown) => {
        this.#logger.error({ group: groupId, err: String(err) }, 'Group timer task failed');
      });
    });
    const runtime: GroupRuntime = {
      config: this.config,
      logger: options.logger,
      topics: options.topics,
      groups: this.#groups,
      offsets: this.#offsets,
      now: () => this.#clock(),
      schedule: (groupId, delayMs, task) => this.#timers.schedule(groupId, delayMs, task),
      write: (groupId, records) => this.stateLog.append(groupId, records, this.#clock()),
      writeErrorCode: (err, forOffsets) => {
        const code = coordinatorWriteErrorCode(err, forOffsets);
        if (code === ErrorCode.UNKNOWN_SERVER_ERROR) {
          this.#logger.error({ err: String(err) }, `Cannot write to "${'__consumer_offsets'}"`);
        }
        return code;
      },
    };
    this.#classic = new ClassicCoordinator(runtime);
    this.#consumer = new ConsumerCoordinator(runtime);
  }

  /** Reads `__consumer_offsets` back (if it exists), restarts member sessions and the offset expiry timer. */
  async load(): Promise<void> {
    const replay = new Replay();
    const count = await this.stateLog.load(
      (record, ts) => replay.apply(record, ts),
      (producerId, record) => {
        if (record.type !== 'offset-commit' || record.value === null) return;
        const { group, topic, partition } = record.key;
        const v = record.value;
        this.#pendingTxnOffsets.add(producerId, {
          groupId: group,
          topic,
          partition,
          value: {
            offset: v.offset,
            leaderEpoch: v.leaderEpoch,
            metadata: v.metadata,
            commitTimestamp: Number(v.commitTimestamp),
            expireTimestamp: null,
          },
        });
      },
    );
    for (const [groupId, group] of replay.build(this.#clock())) {
      this.#groups.set(groupId, group);
      if (group.type === 'classic') this.#classic.resumeLoadedGroup(group);
      else this.#consumer.resumeLoadedGroup(group);
    }
    for (const { groupId, topic, partition, value } of replay.offsets())
      this.#offsets.put(groupId, topic, partition, value);
    if (count > 0) {
      this.#logger.info({ records: count, groups: this.#groups.size }, 'Loaded group coordinator state');
    }
    this.#active = true;
    const interval = this.config.offsetsRetentionCheckIntervalMs;
    if (interval > 0) {
      this.#retentionTimer = setInterval(() => {
        this.expireOffsets().catch(() => {});
      }, interval);
      this.#retentionTimer.unref();
    }
  }

  get active(): boolean {
    return this.#active;
  }

  partitionFor(groupId: string): number {
    return this.stateLog.partitionFor(groupId);
  }

  /** FindCoordinator: the offsets topic exists (created on first use) before clients are pointed here. */
  async ensureStateTopic(): Promise<number> {
    if (!this.#active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    try {
      await this.stateLog.ensureTopic();
      return ErrorCode.NONE;
    } catch (err) {
      this.#logger.error({ err: String(err) }, 'Cannot create the offsets topic');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** Stops taking requests: waiting JoinGroup/SyncGroup calls are answered and timers cleared. */
  beginShutdown(): void {
    if (!this.#active) return;
    this.#active = false;
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    this.#retentionTimer = null;
    this.#timers.close();
    for (const group of this.#groups.values()) {
      if (group.type === 'classic') this.#classic.abortWaiting(group, ErrorCode.NOT_COORDINATOR);
    }
  }

  /** beginShutdown, then waits for queued group work to finish. */
  async close(): Promise<void> {
    this.beginShutdown();
    await this.#queue.idle();
  }

  /** Timers pending (tests check that close leaves none). */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  #guard(groupId: string, allowEmptyGroupId: boolean): number {
    if (!validGroupId(groupId, allowEmptyGroupId)) return ErrorCode.INVALID_GROUP_ID;
    if (!this.#active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return ErrorCode.NONE;
  }

  // ------------------------------------------------------------------ classic protocol

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    const error = this.#guard(p.groupId, false);
    if (error !== ErrorCode.NONE) return Promise.resolve(joinError(p.memberId, error));
    if (p.sessionTimeoutMs < this.config.minSessionTimeoutMs || p.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    return new Promise<JoinGroupResult>((resolve, reject) => {
      this.#queue.run(p.groupId, () => this.#classic.join(p, resolve)).catch(reject);
    });
  }

  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    const error = this.#guard(p.groupId, false);
    if (error !== ErrorCode.NONE) return Promise.resolve(syncError(error));
    return new Promise<SyncGroupResult>((resolve, reject) => {
      this.#queue.run(p.groupId, () => this.#classic.sync(p, resolve)).catch(reject);
    });
  }

  async heartbeat(p: HeartbeatParams): Promise<number> {
    const error = this.#guard(p.groupId, false);
    if (error !== ErrorCode.NONE) return error;
    return this.#queue.run(p.groupId, () => this.#classic.heartbeat(p));
  }

  async leaveGroup(groupId: string, members: readonly LeaveMember[]): Promise<LeaveGroupResult> {
    const error = this.#guard(groupId, false);
    if (error !== ErrorCode.NONE) return { errorCode: error, members: [] };
    return this.#queue.run(groupId, () => this.#classic.leave(groupId, members));
  }

  // ------------------------------------------------------------------ KIP-848

  async consumerGroupHeartbeat(p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    const invalid = validateConsumerHeartbeat(p, this.config.consumerAssignors);
    if (invalid !== null) return invalid;
    if (!this.#active) {
      return {
        errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        errorMessage: null,
        memberId: null,
        memberEpoch: 0,
        heartbeatIntervalMs: 0,
        assignment: null,
      };
    }
    return this.#queue.run(p.groupId, () => this.#consumer.heartbeat(p));
  }

  consumerGroupDescribe(groupIds: readonly string[]): DescribedConsumerGroup[] {
    return groupIds.map((groupId) => {
      const error = this.#guard(groupId, false);
      if (error !== ErrorCode.NONE) {
        return {
          errorCode: error,
          errorMessage: null,
          groupId,
          groupState: '',
          groupEpoch: 0,
          assignmentEpoch: 0,
          assignorName: '',
          members: [],
        };
      }
      return this.#consumer.describe(groupId);
    });
  }

  // ------------------------------------------------------------------ offsets

  async commitOffsets(input: OffsetCommitInput): Promise<TopicPartitionErrors[]> {
    const all = (errorCode: number): TopicPartitionErrors[] =>
      input.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      }));
    const error = this.#guard(input.groupId, true);
    if (error !== ErrorCode.NONE) return all(error);
    return this.#queue.run(input.groupId, () => this.#commit(input, all));
  }

  /** Runs in the group's queue; awaits only the write of the commit records. */
  async #commit(
    input: OffsetCommitInput,
    all: (errorCode: number) => TopicPartitionErrors[],
  ): Promise<TopicPartitionErrors[]> {
    const now = this.#clock();
    let group = this.#groups.get(input.groupId);
    let created: ClassicGroup | null = null;
    if (group === undefined) {
      if (input.generationIdOrMemberEpoch >= 0) {
        // A member of a group this coordinator does not know: an old generation, or the group was deleted.
        return all(input.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION);
      }
      // Offsets committed outside group management create an empty "simple" group.
      created = new ClassicGroup(input.groupId, now);
      group = created;
    }
    const error = this.#validateCommit(group, input);
    if (error !== ErrorCode.NONE) return all(error);
    if (group.type === 'classic') this.#classic.touchMember(group, input.memberId);

    const results = new Map<string, Map<number, number>>();
    const accepted: { topic: string; partition: number; value: CommittedOffset }[] = [];
    for (const t of input.topics) {
      const perPartition = new Map<number, number>();
      results.set(t.name, perPartition);
      const topic = this.#topics.get(t.name);
      for (const p of t.partitions) {
        if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) {
          perPartition.set(p.partitionIndex, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          continue;
        }
        const metadata = p.committedMetadata ?? '';
        if (Buffer.byteLength(metadata, 'utf8') > this.config.offsetMetadataMaxBytes) {
          perPartition.set(p.partitionIndex, ErrorCode.OFFSET_METADATA_TOO_LARGE);
          continue;
        }
        accepted.push({
          topic: t.name,
          partition: p.partitionIndex,
          value: {
            offset: p.committedOffset,
            leaderEpoch: p.committedLeaderEpoch,
            metadata,
            commitTimestamp: p.commitTimestamp === -1n ? now : Number(p.commitTimestamp),
            expireTimestamp: input.retentionTimeMs === -1n ? null : now + Number(input.retentionTimeMs),
          },
        });
        perPartition.set(p.partitionIndex, ErrorCode.NONE);
      }
    }
    if (accepted.length > 0) {
      try {
        await this.stateLog.append(
          input.groupId,
          accepted.map((a) => offsetCommitRecord(input.groupId, a.topic, a.partition, a.value)),
          now,
        );
      } catch (err) {
        const code = coordinatorWriteErrorCode(err, true);
        if (code === ErrorCode.UNKNOWN_SERVER_ERROR) {
          this.#logger.error({ group: input.groupId, err: String(err) }, 'Cannot write offset commit');
        }
        for (const a of accepted) results.get(a.topic)!.set(a.partition, code);
        accepted.length = 0;
      }
    }
    for (const a of accepted) this.#offsets.put(input.groupId, a.topic, a.partition, a.value);
    if (created !== null && accepted.length > 0) this.#groups.set(input.groupId, created);
    return input.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: results.get(t.name)!.get(p.partitionIndex)!,
      })),
    }));
  }

  /**
   * TxnOffsetCommit: the offsets are written to the group's partition in the producer's
   * transactional batch (the log fences an old epoch: INVALID_PRODUCER_EPOCH) and stay
   * pending until the transaction coordinator's marker reaches that partition
   * (completeTransaction).
   */
  async commitTransactionalOffsets(input: TxnOffsetCommitInput): Promise<TopicPartitionErrors[]> {
    const all = (errorCode: number): TopicPartitionErrors[] =>
      input.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      }));
    const error = this.#guard(input.groupId, false);
    if (error !== ErrorCode.NONE) return all(error);
    return this.#queue.run(input.groupId, async () => {
      const now = this.#clock();
      const group = this.#groups.get(input.groupId);
      const invalid = group === undefined ? ErrorCode.NONE : this.#validateTxnCommit(group, input);
      if (invalid !== ErrorCode.NONE) return all(invalid);
      const results = new Map<string, Map<number, number>>();
      const accepted: { topic: string; partition: number; value: CommittedOffset }[] = [];
      for (const t of input.topics) {
        const perPartition = new Map<number, number>();
        results.set(t.name, perPartition);
        const topic = this.#topics.get(t.name);
        for (const p of t.partitions) {
          const metadata = p.committedMetadata ?? '';
          let code: number = ErrorCode.NONE;
          if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) {
            code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (Buffer.byteLength(metadata, 'utf8') > this.config.offsetMetadataMaxBytes) {
            code = ErrorCode.OFFSET_METADATA_TOO_LARGE;
          } else {
            const value = {
              offset: p.committedOffset,
              leaderEpoch: p.committedLeaderEpoch,
              metadata,
              commitTimestamp: now,
              expireTimestamp: null,
            };
            accepted.push({ topic: t.name, partition: p.partitionIndex, value });
          }
          perPartition.set(p.partitionIndex, code);
        }
      }
      if (accepted.length > 0) {
        try {
          const records = accepted.map((a) => offsetCommitRecord(input.groupId, a.topic, a.partition, a.value));
          await this.stateLog.append(input.groupId, records, now, {
            producerId: input.producerId,
            producerEpoch: input.producerEpoch,
          });
        } catch (err) {
          // As Kafka: a fenced producer hears so (INVALID_PRODUCER_EPOCH); write failures map as for commits.
          const code = errorCodeOf(err);
          const mapped =
            code === ErrorCode.INVALID_PRODUCER_EPOCH || code === ErrorCode.INVALID_TXN_STATE
              ? code
              : coordinatorWriteErrorCode(err, true);
          if (mapped === ErrorCode.UNKNOWN_SERVER_ERROR) {
            this.#logger.error({ group: input.groupId, err: String(err) }, 'Cannot write transactional offset commit');
          }
          return all(mapped);
        }
      }
      for (const a of accepted) {
        this.#pendingTxnOffsets.add(input.producerId, { groupId: input.groupId, ...a });
      }
      return input.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: results.get(t.name)!.get(p.partitionIndex)!,
        })),
      }));
    });
  }

  /** Kafka's validateOffsetCommit for transactional commits: member checks only when the request names a member. */
  #validateTxnCommit(group: AnyGroup, input: TxnOffsetCommitInput): number {
    if (group.type === 'classic' && group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (input.generationId < 0 && input.memberId === '' && input.groupInstanceId === null) return ErrorCode.NONE;
    if (group.type === 'consumer') {
      const member = group.members.get(input.memberId);
      if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      return input.generationId === member.memberEpoch ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    }
    const error = validateCurrentMember(group, input.memberId, input.groupInstanceId);
    if (error !== ErrorCode.NONE) return error;
    return input.generationId === group.generationId ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
  }

  /**
   * A transaction marker of `producerId` was written to `__consumer_offsets` partition
   * `partition` (by the transaction coordinator): its pending offsets for the groups of
   * that partition become committed offsets (COMMIT) or are dropped (ABORT).
   */
  async completeTransaction(producerId: bigint, partition: number, commit: boolean): Promise<void> {
    const groupIds = this.#pendingTxnOffsets.groupsOf(producerId).filter((g) => this.partitionFor(g) === partition);
    await Promise.all(
      groupIds.map((groupId) =>
        this.#queue.run(groupId, () => {
          const offsets = this.#pendingTxnOffsets.take(producerId, groupId);
          if (!commit || offsets.length === 0) return;
          for (const o of offsets) this.#offsets.put(groupId, o.topic, o.partition, o.value);
          // Offsets committed outside group management belong to an empty "simple" group.
          if (!this.#groups.has(groupId)) this.#groups.set(groupId, new ClassicGroup(groupId, this.#clock()));
        }),
      ),
    );
  }

  /** Whether a transaction has an offset pending for the partition (OffsetFetch's requireStable, KIP-447). */
  hasPendingTransactionalOffset(groupId: string, topic: string, partition: number): boolean {
    return this.#pendingTxnOffsets.has(groupId, topic, partition);
  }

  /** Who may commit: Kafka's rules for classic groups (generations) and consumer groups (member epochs). */
  #validateCommit(group: AnyGroup, input: OffsetCommitInput): number {
    const epoch = input.generationIdOrMemberEpoch;
    if (group.type === 'consumer') {
      if (epoch < 0 && group.isEmpty) return ErrorCode.NONE;
      const member = group.members.get(input.memberId);
      if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (input.apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
      if (epoch !== member.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
      return ErrorCode.NONE;
    }
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (epoch < 0 && group.is('Empty')) return ErrorCode.NONE;
    if (epoch >= 0 || input.memberId !== '' || input.groupInstanceId !== null) {
      const error = validateCurrentMember(group, input.memberId, input.groupInstanceId);
      if (error !== ErrorCode.NONE) return error;
      if (epoch !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!group.is('Empty')) {
      // Only members may commit while the group has members.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    if (group.is('CompletingRebalance')) return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /**
   * OffsetFetch for one group: the requested partitions (or, for null, every committed one);
   * −1 where nothing is committed. Consumer group members are checked against their epoch.
   */
  fetchOffsets(
    groupId: string,
    topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
    memberId: string | null = null,
    memberEpoch = -1,
  ): FetchedOffsets {
    const error = this.#guard(groupId, true);
    if (error !== ErrorCode.NONE) return { errorCode: error, topics: [] };
    const group = this.#groups.get(groupId);
    if (group?.type === 'consumer' && !(memberId === null && memberEpoch < 0)) {
      const member = memberId === null ? undefined : group.members.get(memberId);
      if (member === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, topics: [] };
      if (member.memberEpoch !== memberEpoch) return { errorCode: ErrorCode.STALE_MEMBER_EPOCH, topics: [] };
    }
    const known = group !== undefined && !(group.type === 'classic' && group.is('Dead'));
    const entry = (topic: string, partitionIndex: number) => {
      const o = known ? this.#offsets.get(groupId, topic, partitionIndex) : undefined;
      return {
        partitionIndex,
        committedOffset: o?.offset ?? -1n,
        committedLeaderEpoch: o?.leaderEpoch ?? -1,
        metadata: o?.metadata ?? '',
        errorCode: ErrorCode.NONE,
      };
    };
    if (topics === null) {
      const byTopic = new Map<string, FetchedOffsets['topics'][number]>();
      if (known) {
        for (const { topic, partition } of this.#offsets.list(groupId)) {
          let t = byTopic.get(topic);
          if (t === undefined) {
            t = { name: topic, partitions: [] };
            byTopic.set(topic, t);
          }
          t.partitions.push(entry(topic, partition));
        }
      }
      return { errorCode: ErrorCode.NONE, topics: [...byTopic.values()] };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => entry(t.name, p)) })),
    };
  }

  async deleteOffsets(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[],
  ): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    const error = this.#guard(groupId, false);
    if (error !== ErrorCode.NONE) return { errorCode: error, topics: [] };
    return this.#queue.run(groupId, async () => {
      const group = this.#groups.get(groupId);
      if (group === undefined || (group.type === 'classic' && group.is('Dead'))) {
        return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
      }
      let subscribed: Set<string> | null;
      if (group.type === 'consumer') {
        subscribed = this.#consumer.subscribedTopicNames(group);
      } else if (group.is('Empty')) {
        subscribed = new Set();
      } else if (group.protocolType === 'consumer') {
        subscribed = group.subscribedTopics() ?? new Set();
      } else {
        return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
      }
      const results: TopicPartitionErrors[] = [];
      const tombstones: GroupRecord[] = [];
      const removed: TopicPartitionRef[] = [];
      for (const t of topics) {
        const topic = this.#topics.get(t.name);
        results.push({
          name: t.name,
          partitions: t.partitions.map((partitionIndex) => {
            if (topic === undefined || partitionIndex < 0 || partitionIndex >= topic.partitionCount) {
              return { partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
            }
            if (subscribed.has(t.name)) return { partitionIndex, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
            if (this.#offsets.get(groupId, t.name, partitionIndex) !== undefined) {
              tombstones.push(offsetTombstone(groupId, t.name, partitionIndex));
              removed.push({ topic: t.name, partition: partitionIndex });
            }
            return { partitionIndex, errorCode: ErrorCode.NONE };
          }),
        });
      }
      if (tombstones.length > 0) {
        try {
          await this.stateLog.append(groupId, tombstones, this.#clock());
        } catch (err) {
          return { errorCode: coordinatorWriteErrorCode(err, false), topics: [] };
        }
        for (const r of removed) this.#offsets.delete(groupId, r.topic, r.partition);
      }
      return { errorCode: ErrorCode.NONE, topics: results };
    });
  }

  /**
   * Forgets the committed offsets of deleted topics (Kafka does this when a topic is
   * deleted, so a topic created again under the name starts without them). For the topic
   * deletion path to call.
   */
  async onTopicsDeleted(topicNames: readonly string[]): Promise<void> {
    if (!this.#active || topicNames.length === 0) return;
    const deleted = new Set(topicNames);
    const affected = this.#offsets.groupIds().filter((id) => this.#offsets.list(id).some((o) => deleted.has(o.topic)));
    await Promise.all(
      affected.map((groupId) =>
        this.#queue.run(groupId, async () => {
          const gone = this.#offsets.list(groupId).filter((o) => deleted.has(o.topic));
          if (gone.length === 0) return;
          try {
            await this.stateLog.append(
              groupId,
              gone.map((o) => offsetTombstone(groupId, o.topic, o.partition)),
              this.#clock(),
            );
          } catch (err) {
            this.#logger.warn({ group: groupId, err: String(err) }, 'Cannot remove offsets of deleted topics');
            return;
          }
          for (const o of gone) this.#offsets.delete(groupId, o.topic, o.partition);
        }),
      ),
    );
  }

  /** Removes offsets past their retention, and empty groups left without offsets. */
  async expireOffsets(): Promise<void> {
    if (!this.#active) return;
    const ids = new Set([...this.#groups.keys(), ...this.#offsets.groupIds()]);
    await Promise.all([...ids].map((groupId) => this.#queue.run(groupId, () => this.#expireGroupOffsets(groupId))));
  }

  async #expireGroupOffsets(groupId: string): Promise<void> {
    const now = this.#clock();
    const retention = this.config.offsetsRetentionMs;
    const group = this.#groups.get(groupId);
    let expired: TopicPartitionRef[] = [];
    const byCommit = (v: CommittedOffset) => v.commitTimestamp;
    if (group === undefined) {
      expired = this.#offsets.expired(groupId, now, retention, byCommit);
    } else if (group.type === 'consumer') {
      expired = this.#offsets.expired(groupId, now, retention, byCommit, this.#consumer.subscribedTopicNames(group));
    } else if (group.protocolType !== null && group.is('Empty')) {
      // An empty group's offsets expire a retention period after the group became empty.
      expired = this.#offsets.expired(groupId, now, retention, (v) => group.currentStateTimestamp ?? v.commitTimestamp);
    } else if (group.protocolType === 'consumer' && group.is('Stable')) {
      const subscribed = group.subscribedTopics();
      if (subscribed !== null) expired = this.#offsets.expired(groupId, now, retention, byCommit, subscribed);
    } else if (group.protocolType === null) {
      expired = this.#offsets.expired(groupId, now, retention, byCommit);
    }
    const records: GroupRecord[] = expired.map((e) => offsetTombstone(groupId, e.topic, e.partition));
    const remaining = this.#offsets.list(groupId).length - expired.length;
    const groupGone =
      group !== undefined && remaining === 0 && (group.type === 'consumer' ? group.isEmpty : group.is('Empty'));
    if (groupGone) {
      records.push(...(group.type === 'consumer' ? consumerGroupTombstones(group) : [classicGroupTombstone(groupId)]));
    }
    if (records.length === 0) return;
    try {
      await this.stateLog.append(groupId, records, now);
    } catch (err) {
      this.#logger.warn({ group: groupId, err: String(err) }, 'Cannot write expired offsets');
      return;
    }
    for (const e of expired) this.#offsets.delete(groupId, e.topic, e.partition);
    if (groupGone) this.#dropGroup(group);
    if (expired.length > 0) {
      this.#logger.info({ group: groupId, offsets: expired.length }, 'Removed expired offsets');
    }
  }

  #dropGroup(group: AnyGroup): void {
    if (group.type === 'consumer') group.dead = true;
    else group.state = 'Dead';
    if (this.#groups.get(group.groupId) === group) this.#groups.delete(group.groupId);
  }

  // ------------------------------------------------------------------ admin

  describeGroups(groupIds: readonly string[]): DescribedGroup[] {
    return groupIds.map((groupId) => {
      const empty = (errorCode: number, state: string): DescribedGroup => ({
        errorCode,
        groupId,
        groupState: state,
        protocolType: '',
        protocolData: '',
        members: [],
      });
      const error = this.#guard(groupId, true);
      if (error !== ErrorCode.NONE) return empty(error, '');
      const group = this.#groups.get(groupId);
      // Unknown groups (and consumer groups, which this API does not describe) read as Dead.
      if (group === undefined || group.type !== 'classic') return empty(ErrorCode.NONE, 'Dead');
      const stable = group.is('Stable');
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: group.state,
        protocolType: group.protocolType ?? '',
        protocolData: stable ? (group.protocolName ?? '') : '',
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: stable ? m.metadata(group.protocolName) : Buffer.alloc(0),
          memberAssignment: stable ? m.assignment : Buffer.alloc(0),
        })),
      };
    });
  }

  /** ListGroups: state and type filters are case-insensitive; empty filters match everything. */
  listGroups(
    statesFilter: readonly string[],
    typesFilter: readonly string[],
  ): { errorCode: number; groups: ListedGroup[] } {
    if (!this.#active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(typesFilter.map((s) => s.toLowerCase()));
    const groups: ListedGroup[] = [];
    for (const group of this.#groups.values()) {
      const listed: ListedGroup =
        group.type === 'classic'
          ? {
              groupId: group.groupId,
              protocolType: group.protocolType ?? '',
              groupState: group.state,
              groupType: 'classic',
            }
          : { groupId: group.groupId, protocolType: 'consumer', groupState: group.state, groupType: 'consumer' };
      if (listed.groupState === 'Dead') continue;
      if (states.size > 0 && !states.has(listed.groupState.toLowerCase())) continue;
      if (types.size > 0 && !types.has(listed.groupType)) continue;
      groups.push(listed);
    }
    groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return { errorCode: ErrorCode.NONE, groups };
  }

  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const error = this.#guard(groupId, true);
        if (error !== ErrorCode.NONE) return { groupId, errorCode: error };
        const errorCode = await this.#queue.run(groupId, () => this.#deleteGroup(groupId));
        return { groupId, errorCode };
      }),
    );
  }

  /** Deletes an empty group with its offsets (tombstones first, then memory). */
  async #deleteGroup(groupId: string): Promise<number> {
    const group = this.#groups.get(groupId);
    if (group === undefined || (group.type === 'classic' && group.is('Dead'))) return ErrorCode.GROUP_ID_NOT_FOUND;
    const empty = group.type === 'consumer' ? group.isEmpty : group.is('Empty');
    if (!empty) return ErrorCode.NON_EMPTY_GROUP;
    const offsets = this.#offsets.list(groupId);
    const records: GroupRecord[] = offsets.map((o) => offsetTombstone(groupId, o.topic, o.partition));
    records.push(...(group.type === 'consumer' ? consumerGroupTombstones(group) : [classicGroupTombstone(groupId)]));
    try {
      await this.stateLog.append(groupId, records, this.#clock());
    } catch (err) {
      return coordinatorWriteErrorCode(err, false);
    }
    for (const o of offsets) this.#offsets.delete(groupId, o.topic, o.partition);
    this.#dropGroup(group);
    return ErrorCode.NONE;
  }
}

/** Rebuilds groups and offsets from `__consumer_offsets` records, in log order (later records win). */
class Replay {
  readonly #offsets = new OffsetStore();
  readonly #classic = new Map<
    string,
    { value: NonNullable<Extract<GroupRecord, { type: 'group-metadata' }>['value']> }
  >();
  readonly #consumer = new Map<string, ConsumerGroup>();

  apply(record: GroupRecord, _timestampMs: number): void {
    switch (record.type) {
      case 'offset-commit': {
        const { group, topic, partition } = record.key;
        if (record.value === null) this.#offsets.delete(group, topic, partition);
        else {
          this.#offsets.put(group, topic, partition, {
            offset: record.value.offset,
            leaderEpoch: record.value.leaderEpoch,
            metadata: record.value.metadata,
            commitTimestamp: Number(record.value.commitTimestamp),
            expireTimestamp: record.value.expireTimestamp >= 0n ? Number(record.value.expireTimestamp) : null,
          });
        }
        return;
      }
      case 'group-metadata':
        if (record.value === null) this.#classic.delete(record.key.group);
        else {
          this.#classic.set(record.key.group, { value: record.value });
          this.#consumer.delete(record.key.group);
        }
        return;
      case 'consumer-group-metadata':
        if (record.value === null) this.#consumer.delete(record.key.groupId);
        else this.#consumerGroup(record.key.groupId).groupEpoch = record.value.epoch;
        return;
      case 'consumer-group-partition-metadata': {
        if (record.value === null) return;
        const group = this.#consumerGroup(record.key.groupId);
        group.subscriptionMetadata = new Map(
          record.value.topics.map((t) => [
            t.topicName,
            { topicId: t.topicId, name: t.topicName, numPartitions: t.numPartitions },
          ]),
        );
        return;
      }
      case 'consumer-group-member-metadata': {
        const group = this.#consumer.get(record.key.groupId);
        if (record.value === null) {
          group?.removeMember(record.key.memberId);
          return;
        }
        const member = this.#member(this.#consumerGroup(record.key.groupId), record.key.memberId);
        const v = record.value;
        member.instanceId = v.instanceId;
        member.rackId = v.rackId;
        member.clientId = v.clientId;
        member.clientHost = v.clientHost;
        member.subscribedTopicNames = v.subscribedTopicNames;
        member.subscribedTopicRegex = v.subscribedTopicRegex;
        member.rebalanceTimeoutMs = v.rebalanceTimeoutMs;
        member.serverAssignor = v.serverAssignor;
        this.#consumerGroup(record.key.groupId).setMember(member);
        return;
      }
      case 'consumer-group-target-assignment-metadata':
        if (record.value !== null)
          this.#consumerGroup(record.key.groupId).assignmentEpoch = record.value.assignmentEpoch;
        return;
      case 'consumer-group-target-assignment-member': {
        const group = this.#consumer.get(record.key.groupId);
        if (record.value === null) group?.targetAssignment.delete(record.key.memberId);
        else {
          this.#consumerGroup(record.key.groupId).targetAssignment.set(
            record.key.memberId,
            assignmentFromWire(record.value.topicPartitions),
          );
        }
        return;
      }
      case 'consumer-group-current-member-assignment': {
        if (record.value === null) return;
        const member = this.#member(this.#consumerGroup(record.key.groupId), record.key.memberId);
        member.memberEpoch = record.value.memberEpoch;
        member.previousMemberEpoch = record.value.previousMemberEpoch;
        member.state = memberStateFromCode(record.value.state);
        member.assigned = assignmentFromWire(record.value.assignedPartitions);
        member.pendingRevocation = assignmentFromWire(record.value.partitionsPendingRevocation);
        return;
      }
    }
  }

  #consumerGroup(groupId: string): ConsumerGroup {
    let group = this.#consumer.get(groupId);
    if (group === undefined) {
      group = new ConsumerGroup(groupId);
      this.#consumer.set(groupId, group);
      this.#classic.delete(groupId);
    }
    return group;
  }

  #member(group: ConsumerGroup, memberId: string): ConsumerMember {
    let member = group.members.get(memberId);
    if (member === undefined) {
      member = new ConsumerMember({
        memberId,
        instanceId: null,
        rackId: null,
        clientId: '',
        clientHost: '',
        subscribedTopicNames: [],
        subscribedTopicRegex: null,
        rebalanceTimeoutMs: -1,
        serverAssignor: null,
      });
      group.setMember(member);
    }
    return member;
  }

  offsets(): Array<{ groupId: string; topic: string; partition: number; value: CommittedOffset }> {
    return this.#offsets.groupIds().flatMap((groupId) => this.#offsets.list(groupId).map((o) => ({ groupId, ...o })));
  }

  /** The groups as the log left them: restored classic groups are Stable (with members) or Empty. */
  build(now: number): Map<string, AnyGroup> {
    const out = new Map<string, AnyGroup>();
    for (const [groupId, { value }] of this.#classic) {
      const group = new ClassicGroup(
        groupId,
        value.currentStateTimestamp >= 0n ? Number(value.currentStateTimestamp) : now,
      );
      group.generationId = value.generation;
      group.protocolType = value.protocolType === '' ? null : value.protocolType;
      group.protocolName = value.protocol;
      group.leaderId = value.leader;
      for (const m of value.members) {
        const member = new ClassicMember({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeoutMs: m.rebalanceTimeout >= 0 ? m.rebalanceTimeout : m.sessionTimeout,
          sessionTimeoutMs: m.sessionTimeout,
          protocolType: value.protocolType,
          supportedProtocols: value.protocol === null ? [] : [{ name: value.protocol, metadata: m.subscription }],
        });
        member.assignment = m.assignment;
        group.members.set(member.memberId, member);
        if (member.groupInstanceId !== null) group.staticMembers.set(member.groupInstanceId, member.memberId);
      }
      group.state = group.members.size > 0 ? 'Stable' : 'Empty';
      if (group.leaderId !== null && !group.members.has(group.leaderId)) {
        group.leaderId = group.members.keys().next().value ?? null;
      }
      out.set(groupId, group);
    }
    for (const [groupId, group] of this.#consumer) {
      out.set(groupId, group);
    }
    // Offsets without group metadata belong to a "simple" group (committed outside group management).
    for (const groupId of this.#offsets.groupIds()) {
      if (!out.has(groupId)) out.set(groupId, new ClassicGroup(groupId, now));
    }
    return out;
  }
}
