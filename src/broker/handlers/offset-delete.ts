import { OffsetDeleteRequest, OffsetDeleteResponse } from '../../protocol/generated/messages/offset-delete.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * OffsetDelete v0: removes committed offsets of a group that has no members, or of topics
 * its members do not consume (GROUP_SUBSCRIBED_TO_TOPIC for those they do).
 */
export function offsetDeleteHandler(services: BrokerServices): ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse> {
  return defineHandler(
    { request: OffsetDeleteRequest, response: OffsetDeleteResponse },
    { min: 0, max: 0 },
    async (req) => {
      const result = await services.groups.deleteOffsets(
        req.groupId,
        req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
      );
      return { errorCode: result.errorCode, throttleTimeMs: 0, topics: result.topics };
    },
  );
}
