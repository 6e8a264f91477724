import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  OffsetFetchRequest,
  OffsetFetchResponse,
  type OffsetFetchResponseOffsetFetchResponseTopic,
} from '../../protocol/generated/messages/offset-fetch.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * OffsetFetch v0–v9: one group up to v7 (null topics = every committed offset, from v2),
 * several from v8; v9 carries the member id and epoch of KIP-848 members. No committed
 * offset reads as −1. v0–v1 have no top-level error: a group error goes on each partition.
 * v7+ may require stable offsets (KIP-447): a partition with an offset pending in an open
 * transaction then answers UNSTABLE_OFFSET_COMMIT, and the client asks again.
 */
export function offsetFetchHandler(services: BrokerServices): ApiHandler<OffsetFetchRequest, OffsetFetchResponse> {
  return defineHandler(
    { request: OffsetFetchRequest, response: OffsetFetchResponse },
    { min: 0, max: 9 },
    (req, ctx) => {
      const v = ctx.apiVersion;
      const stable = (groupId: string, topics: OffsetFetchResponseOffsetFetchResponseTopic[]) =>
        v >= 7 && req.requireStable ? unstableIfPending(services, groupId, topics) : topics;
      if (v >= 8) {
        return {
          throttleTimeMs: 0,
          topics: [],
          errorCode: ErrorCode.NONE,
          groups: req.groups.map((g) => {
            const fetched = services.groups.fetchOffsets(
              g.groupId,
              g.topics,
              v >= 9 ? g.memberId : null,
              v >= 9 ? g.memberEpoch : -1,
            );
            return { groupId: g.groupId, errorCode: fetched.errorCode, topics: stable(g.groupId, fetched.topics) };
          }),
        };
      }
      // v0–v1: a null topic list is not allowed (it means "all" from v2).
      const fetched = services.groups.fetchOffsets(req.groupId, v >= 2 ? req.topics : (req.topics ?? []));
      let topics: OffsetFetchResponseOffsetFetchResponseTopic[] = stable(req.groupId, fetched.topics);
      if (fetched.errorCode !== ErrorCode.NONE && v < 2) {
        topics = (req.topics ?? []).map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: fetched.errorCode,
          })),
        }));
      }
      return { throttleTimeMs: 0, topics, errorCode: fetched.errorCode, groups: [] };
    },
  );
}

/** Partitions whose offset a transaction has pending read as UNSTABLE_OFFSET_COMMIT (Kafka's requireStable). */
function unstableIfPending(
  services: BrokerServices,
  groupId: string,
  topics: OffsetFetchResponseOffsetFetchResponseTopic[],
): OffsetFetchResponseOffsetFetchResponseTopic[] {
  return topics.map((t) => ({
    ...t,
    partitions: t.partitions.map((p) =>
      services.groups.hasPendingTransactionalOffset(groupId, t.name, p.partitionIndex)
        ? {
            ...p,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
          }
        : p,
    ),
  }));
}
