import { ErrorCode } from '../protocol/generated/error-codes.ts';
import { ListOffsetsRequest, ListOffsetsResponse } from '../protocol/generated/messages/list-offsets.ts';
import { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/generated/messages/offset-commit.ts';
import { OffsetFetchRequest, OffsetFetchResponse } from '../protocol/generated/messages/offset-fetch.ts';
import { defineApi } from './api.ts';
import { type Cluster, CoordinatorType } from './cluster.ts';
import { KafkaError } from './errors.ts';
import { type TopicPartition, tpKey } from './metadata.ts';

export const ListOffsetsApi = defineApi(ListOffsetsRequest, ListOffsetsResponse, { min: 1, max: 10 });
export const OffsetCommitApi = defineApi(OffsetCommitRequest, OffsetCommitResponse, { min: 2, max: 9 });
export const OffsetFetchApi = defineApi(OffsetFetchRequest, OffsetFetchResponse, { min: 1, max: 9 });

/** Special timestamps of ListOffsets. */
export const OffsetSpec = {
  LATEST: -1n,
  EARLIEST: -2n,
  MAX_TIMESTAMP: -3n,
} as const;

export const IsolationLevel = { READ_UNCOMMITTED: 0, READ_COMMITTED: 1 } as const;
export type IsolationLevel = (typeof IsolationLevel)[keyof typeof IsolationLevel];

export interface OffsetQuery extends TopicPartition {
  /** Milliseconds since the epoch, or one of OffsetSpec. */
  timestamp: bigint;
}

export interface ListedOffset extends TopicPartition {
  /** −1 when no record has a timestamp at or after the one asked for. */
  offset: bigint;
  timestamp: bigint;
  leaderEpoch: number;
}

/**
 * ListOffsets for any partitions: grouped by leader, one request per broker, partitions
 * that fail with a retriable error retried after a metadata refresh.
 */
export async function listOffsets(
  cluster: Cluster,
  queries: readonly OffsetQuery[],
  isolationLevel: IsolationLevel = IsolationLevel.READ_UNCOMMITTED,
): Promise<ListedOffset[]> {
  // A request may name a partition once only: several questions about one partition go
  // in successive rounds.
  const rounds: OffsetQuery[][] = [];
  for (const q of queries) {
    let round = rounds.find((r) => !r.some((x) => x.topic === q.topic && x.partition === q.partition));
    if (round === undefined) {
      round = [];
      rounds.push(round);
    }
    round.push(q);
  }
  const answers = new Map<OffsetQuery, ListedOffset>();
  for (const round of rounds) {
    const listed = await listOffsetsOnce(cluster, round, isolationLevel);
    round.forEach((q, i) => {
      answers.set(q, listed[i]!);
    });
  }
  return queries.map((q) => answers.get(q)!);
}

async function listOffsetsOnce(
  cluster: Cluster,
  queries: readonly OffsetQuery[],
  isolationLevel: IsolationLevel,
): Promise<ListedOffset[]> {
  const results = new Map<string, ListedOffset>();
  let todo = [...queries];
  await cluster.retry('Cannot list offsets', async () => {
    for (const topic of new Set(todo.map((q) => q.topic))) await cluster.topicMetadata(topic);
    const byLeader = new Map<number, OffsetQuery[]>();
    for (const q of todo) {
      const p = cluster.metadata.partition(q.topic, q.partition);
      if (p === undefined) {
        throw KafkaError.fromCode(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `Cannot list offsets of "${q.topic}-${q.partition}"`,
        );
      }
      const list = byLeader.get(p.leader) ?? [];
      list.push(q);
      byLeader.set(p.leader, list);
    }
    const failed: OffsetQuery[] = [];
    let firstError: KafkaError | null = null;
    await Promise.all(
      [...byLeader].map(async ([leader, items]) => {
        try {
          const connection = await cluster.connection(leader);
          const version = connection.versionFor(ListOffsetsApi);
          if (items.some((q) => q.timestamp === OffsetSpec.MAX_TIMESTAMP) && version < 7) {
            throw new KafkaError(`Cannot list max-timestamp offsets: ${connection.label} serves ListOffsets < v7`, {
              code: 'UNSUPPORTED_VERSION',
              errorCode: ErrorCode.UNSUPPORTED_VERSION,
            });
          }
          const topics = new Map<string, OffsetQuery[]>();
          for (const q of items) topics.set(q.topic, [...(topics.get(q.topic) ?? []), q]);
          const response = await connection.send(ListOffsetsApi, {
            replicaId: -1,
            isolationLevel,
            timeoutMs: cluster.requestTimeoutMs,
            topics: [...topics].map(([name, qs]) => ({
              name,
              partitions: qs.map((q) => ({
                partitionIndex: q.partition,
                currentLeaderEpoch: -1,
                timestamp: q.timestamp,
                maxNumOffsets: 1,
              })),
            })),
          });
          for (const t of response.topics) {
            for (const p of t.partitions) {
              const query = items.find((q) => q.topic === t.name && q.partition === p.partitionIndex);
              if (query === undefined) continue;
              if (p.errorCode !== ErrorCode.NONE) {
                const err = KafkaError.fromCode(p.errorCode, `Cannot list offsets of "${t.name}-${p.partitionIndex}"`);
                if (!err.retriable) throw err;
                firstError ??= err;
                failed.push(query);
                continue;
              }
              results.set(tpKey(t.name, p.partitionIndex), {
                topic: t.name,
                partition: p.partitionIndex,
                offset: p.offset,
                timestamp: p.timestamp,
                leaderEpoch: p.leaderEpoch,
              });
            }
          }
        } catch (err) {
          if (!(err instanceof KafkaError) || !err.retriable) throw err;
          firstError ??= err;
          failed.push(...items);
        }
      }),
    );
    todo = failed;
    if (firstError) throw firstError;
  });
  return queries.map((q) => results.get(tpKey(q.topic, q.partition))!);
}

export interface CommittedOffset extends TopicPartition {
  /** −1 when the group has no committed offset for the partition. */
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
}

export interface GroupMemberContext {
  /** Generation (classic) or member epoch (KIP-848); −1 for a commit from outside the group. */
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
}

const OUTSIDE_GROUP: GroupMemberContext = { generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null };

/**
 * The committed offsets of a group, from its coordinator: for the given partitions, or every
 * partition the group has offsets for when `partitions` is null.
 */
export async function fetchCommittedOffsets(
  cluster: Cluster,
  groupId: string,
  partitions: readonly TopicPartition[] | null,
  options: { requireStable?: boolean; member?: { memberId: string; memberEpoch: number } } = {},
): Promise<CommittedOffset[]> {
  const operation = `Cannot fetch the committed offsets of group "${groupId}"`;
  return cluster.retry(operation, async () => {
    const connection = await cluster.coordinator(CoordinatorType.GROUP, groupId);
    const version = connection.versionFor(OffsetFetchApi);
    const topics = new Map<string, number[]>();
    for (const tp of partitions ?? []) topics.set(tp.topic, [...(topics.get(tp.topic) ?? []), tp.partition]);
    const topicList =
      partitions === null ? null : [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
    if (topicList === null && version < 2) {
      throw new KafkaError(`${operation}: listing all offsets needs OffsetFetch v2`, {
        code: 'UNSUPPORTED_VERSION',
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
      });
    }
    const response = await connection.send(
      OffsetFetchApi,
      version >= 8
        ? {
            groupId: '',
            topics: null,
            requireStable: options.requireStable ?? true,
            groups: [
              {
                groupId,
                memberId: options.member?.memberId ?? null,
                memberEpoch: options.member?.memberEpoch ?? -1,
                topics: topicList,
              },
            ],
          }
        : { groupId, topics: topicList, requireStable: options.requireStable ?? true, groups: [] },
      { version },
    );
    const group = version >= 8 ? response.groups.find((g) => g.groupId === groupId) : response;
    if (group === undefined)
      throw new KafkaError(`${operation}: the response does not mention it`, { code: 'INVALID_RESPONSE' });
    if (group.errorCode !== ErrorCode.NONE) {
      cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, group.errorCode);
      throw KafkaError.fromCode(group.errorCode, operation);
    }
    const out: CommittedOffset[] = [];
    for (const t of group.topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) {
          cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, p.errorCode);
          throw KafkaError.fromCode(p.errorCode, `${operation} for "${t.name}-${p.partitionIndex}"`);
        }
        out.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: p.committedLeaderEpoch,
          metadata: p.metadata,
        });
      }
    }
    return out;
  });
}

export interface OffsetToCommit extends TopicPartition {
  offset: bigint;
  leaderEpoch?: number;
  metadata?: string | null;
}

/**
 * Commits offsets for a group at its coordinator. Errors that mean the member must rejoin
 * (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, STALE_MEMBER_EPOCH…) are
 * thrown for the caller to handle; coordinator moves are retried here.
 */
export async function commitOffsets(
  cluster: Cluster,
  groupId: string,
  offsets: readonly OffsetToCommit[],
  member: GroupMemberContext = OUTSIDE_GROUP,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  if (offsets.length === 0) return;
  const operation = `Cannot commit offsets of group "${groupId}"`;
  const topics = new Map<string, OffsetToCommit[]>();
  for (const o of offsets) topics.set(o.topic, [...(topics.get(o.topic) ?? []), o]);
  await cluster.retry(
    operation,
    async () => {
      const connection = await cluster.coordinator(CoordinatorType.GROUP, groupId);
      const response = await connection.send(OffsetCommitApi, {
        groupId,
        generationIdOrMemberEpoch: member.generationIdOrMemberEpoch,
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        retentionTimeMs: -1n,
        topics: [...topics].map(([name, list]) => ({
          name,
          partitions: list.map((o) => ({
            partitionIndex: o.partition,
            committedOffset: o.offset,
            committedLeaderEpoch: o.leaderEpoch ?? -1,
            commitTimestamp: -1n,
            committedMetadata: o.metadata ?? '',
          })),
        })),
      });
      for (const t of response.topics) {
        for (const p of t.partitions) {
          if (p.errorCode === ErrorCode.NONE) continue;
          cluster.onCoordinatorError(CoordinatorType.GROUP, groupId, p.errorCode);
          throw KafkaError.fromCode(p.errorCode, `${operation} for "${t.name}-${p.partitionIndex}"`);
        }
      }
    },
    { timeoutMs: options.timeoutMs },
  );
}
