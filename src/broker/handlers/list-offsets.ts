import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  ListOffsetsRequest,
  ListOffsetsResponse,
  type ListOffsetsResponseListOffsetsPartitionResponse,
} from '../../protocol/generated/messages/list-offsets.ts';
import { errorCodeOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * ListOffsets v0–v10: earliest (-2), latest (-1), max timestamp (-3, v7+), earliest local
 * (-4, v8+; the log start without tiered storage), latest tiered (-5, v9+; none here, so
 * -1), and offsets by time from the time index. v0 answers with the legacy list of segment
 * offsets; v10's timeout only matters for remote storage, which there is none of.
 */
export function listOffsetsHandler(services: BrokerServices): ApiHandler<ListOffsetsRequest, ListOffsetsResponse> {
  const { replicas, logger } = services;

  return defineHandler(
    { request: ListOffsetsRequest, response: ListOffsetsResponse },
    { min: 0, max: 10 },
    async (req, ctx) => {
      const version = ctx.apiVersion;
      const isolationLevel = version >= 2 && req.isolationLevel === 1 ? 'read_committed' : 'read_uncommitted';
      const seen = new Set<string>();
      const duplicates = new Set<string>();
      for (const topic of req.topics) {
        for (const p of topic.partitions) {
          const key = `${topic.name}\u0000${p.partitionIndex}`;
          if (seen.has(key)) duplicates.add(key);
          seen.add(key);
        }
      }
      const failed = (partitionIndex: number, errorCode: number): ListOffsetsResponseListOffsetsPartitionResponse => ({
        partitionIndex,
        errorCode,
        oldStyleOffsets: [],
        timestamp: -1n,
        offset: -1n,
        leaderEpoch: -1,
      });
      const topics = await Promise.all(
        req.topics.map(async (topic) => ({
          name: topic.name,
          partitions: await Promise.all(
            topic.partitions.map(async (p): Promise<ListOffsetsResponseListOffsetsPartitionResponse> => {
              if (duplicates.has(`${topic.name}\u0000${p.partitionIndex}`)) {
                return failed(p.partitionIndex, ErrorCode.INVALID_REQUEST);
              }
              try {
                if (version === 0) {
                  const offsets = await replicas.legacyOffsetsBefore(
                    topic.name,
                    p.partitionIndex,
                    p.timestamp,
                    p.maxNumOffsets,
                    req.replicaId,
                  );
                  return { ...failed(p.partitionIndex, ErrorCode.NONE), oldStyleOffsets: offsets };
                }
                const found = await replicas.listOffset(topic.name, p.partitionIndex, {
                  timestamp: p.timestamp,
                  currentLeaderEpoch: version >= 4 ? p.currentLeaderEpoch : -1,
                  isolationLevel,
                  replicaId: req.replicaId,
                });
                return {
                  partitionIndex: p.partitionIndex,
                  errorCode: ErrorCode.NONE,
                  oldStyleOffsets: [],
                  timestamp: found.timestamp,
                  offset: found.offset,
                  leaderEpoch: found.leaderEpoch,
                };
              } catch (err) {
                const errorCode = errorCodeOf(err);
                if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR)
                  logger.error({ err }, 'ListOffsets failed unexpectedly');
                return failed(p.partitionIndex, errorCode);
              }
            }),
          ),
        })),
      );
      return { throttleTimeMs: 0, topics };
    },
  );
}
