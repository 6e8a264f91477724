import {
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponse,
} from '../../protocol/generated/messages/txn-offset-commit.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * TxnOffsetCommit v0–v4: a transactional producer commits its consumer's offsets inside
 * the transaction (sendOffsetsToTransaction). They are written to `__consumer_offsets` now
 * and become the group's committed offsets when the transaction commits. v2 adds the
 * leader epoch, v3 the member (checked like OffsetCommit's), v4 only TRANSACTION_ABORTABLE.
 */
export function txnOffsetCommitHandler(
  services: BrokerServices,
): ApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse> {
  return defineHandler(
    { request: TxnOffsetCommitRequest, response: TxnOffsetCommitResponse },
    { min: 0, max: 4 },
    async (req, ctx) => {
      const v = ctx.apiVersion;
      const topics = await services.groups.commitTransactionalOffsets({
        groupId: req.groupId,
        producerId: req.producerId,
        producerEpoch: req.producerEpoch,
        generationId: v >= 3 ? req.generationId : -1,
        memberId: v >= 3 ? req.memberId : '',
        groupInstanceId: v >= 3 ? req.groupInstanceId : null,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            committedOffset: p.committedOffset,
            committedLeaderEpoch: v >= 2 ? p.committedLeaderEpoch : -1,
            committedMetadata: p.committedMetadata,
          })),
        })),
      });
      return { throttleTimeMs: 0, topics };
    },
  );
}
