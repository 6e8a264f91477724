import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  DeleteRecordsRequest,
  DeleteRecordsResponse,
  type DeleteRecordsResponseDeleteRecordsPartitionResult,
} from '../../protocol/generated/messages/delete-records.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * DeleteRecords v0–v2: raises each partition's log start offset (−1: to the high
 * watermark) and answers the new low watermark. Segments entirely below it are deleted
 * before the response; the timeout is ignored (one replica: nothing to wait for).
 */
export function deleteRecordsHandler(
  services: BrokerServices,
): ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse> {
  return defineHandler(
    { request: DeleteRecordsRequest, response: DeleteRecordsResponse },
    { min: 0, max: 2 },
    async (req) => ({
      throttleTimeMs: 0,
      topics: await Promise.all(
        req.topics.map(async (topic) => ({
          name: topic.name,
          partitions: await Promise.all(
            topic.partitions.map(async (p): Promise<DeleteRecordsResponseDeleteRecordsPartitionResult> => {
              try {
                const lowWatermark = await services.topics.deleteRecords(topic.name, p.partitionIndex, p.offset);
                return { partitionIndex: p.partitionIndex, lowWatermark, errorCode: ErrorCode.NONE };
              } catch (err) {
                const { errorCode } = apiErrorOf(
                  err,
                  services.logger,
                  `Delete records of "${topic.name}-${p.partitionIndex}"`,
                );
                return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode };
              }
            }),
          ),
        })),
      ),
    }),
  );
}
