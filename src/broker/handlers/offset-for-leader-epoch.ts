import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
  type OffsetForLeaderEpochResponseEpochEndOffset,
} from '../../protocol/generated/messages/offset-for-leader-epoch.ts';
import { errorCodeOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * OffsetForLeaderEpoch v0–v4: the end offset of a leader epoch, which consumers use to
 * detect log truncation after a leader change (KIP-320) and followers to truncate (KIP-101).
 * On one node there has only been epoch 0, so the answer is the log end offset for epoch
 * 0 and "unknown" (-1, -1) for anything later.
 */
export function offsetForLeaderEpochHandler(
  services: BrokerServices,
): ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> {
  const { replicas, logger } = services;

  return defineHandler(
    { request: OffsetForLeaderEpochRequest, response: OffsetForLeaderEpochResponse },
    { min: 0, max: 4 },
    (req, ctx) => ({
      throttleTimeMs: 0,
      topics: req.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map((p): OffsetForLeaderEpochResponseEpochEndOffset => {
          try {
            const end = replicas.offsetForLeaderEpoch(
              topic.topic,
              p.partition,
              p.leaderEpoch,
              ctx.apiVersion >= 2 ? p.currentLeaderEpoch : -1,
            );
            return {
              errorCode: ErrorCode.NONE,
              partition: p.partition,
              leaderEpoch: end.leaderEpoch,
              endOffset: end.endOffset,
            };
          } catch (err) {
            const errorCode = errorCodeOf(err);
            if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) {
              logger.error({ err }, 'OffsetForLeaderEpoch failed unexpectedly');
            }
            return { errorCode, partition: p.partition, leaderEpoch: -1, endOffset: -1n };
          }
        }),
      })),
    }),
  );
}
