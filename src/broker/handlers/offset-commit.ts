import { OffsetCommitRequest, OffsetCommitResponse } from '../../protocol/generated/messages/offset-commit.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * OffsetCommit v0–v9. v0 has no generation (a standalone commit); v1 may carry a commit
 * timestamp; v2–v4 a retention time; v7 the group instance id; v9 is the one KIP-848
 * members use (generation field = member epoch, STALE_MEMBER_EPOCH). Commits with
 * generation −1 are accepted while the group has no members.
 */
export function offsetCommitHandler(services: BrokerServices): ApiHandler<OffsetCommitRequest, OffsetCommitResponse> {
  return defineHandler(
    { request: OffsetCommitRequest, response: OffsetCommitResponse },
    { min: 0, max: 9 },
    async (req, ctx) => {
      const v = ctx.apiVersion;
      const topics = await services.groups.commitOffsets({
        apiVersion: v,
        groupId: req.groupId,
        generationIdOrMemberEpoch: v >= 1 ? req.generationIdOrMemberEpoch : -1,
        memberId: v >= 1 ? req.memberId : '',
        groupInstanceId: v >= 7 ? req.groupInstanceId : null,
        retentionTimeMs: v >= 2 && v <= 4 ? req.retentionTimeMs : -1n,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            committedOffset: p.committedOffset,
            committedLeaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
            commitTimestamp: v === 1 ? p.commitTimestamp : -1n,
            committedMetadata: p.committedMetadata,
          })),
        })),
      });
      return { throttleTimeMs: 0, topics };
    },
  );
}
