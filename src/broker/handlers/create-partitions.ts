import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  type CreatePartitionsResponseCreatePartitionsTopicResult,
} from '../../protocol/generated/messages/create-partitions.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { InvalidRequestError } from '../services/errors.ts';
import type { BrokerServices } from '../services.ts';

/**
 * CreatePartitions v0–v3: grows topics to a new total count, optionally with a manual
 * assignment of the new partitions (which may name only this broker). v3 may answer
 * THROTTLING_QUOTA_EXCEEDED, which never happens here; the timeout is ignored.
 */
export function createPartitionsHandler(
  services: BrokerServices,
): ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse> {
  return defineHandler(
    { request: CreatePartitionsRequest, response: CreatePartitionsResponse },
    { min: 0, max: 3 },
    async (req) => {
      const counts = new Map<string, number>();
      for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const results = await Promise.all(
        req.topics.map(async (topic): Promise<CreatePartitionsResponseCreatePartitionsTopicResult> => {
          const { name } = topic;
          try {
            if (counts.get(name)! > 1) {
              throw new InvalidRequestError(
                `Cannot add partitions to topic "${name}": it is listed more than once in the request`,
              );
            }
            await services.topics.addPartitions(
              name,
              topic.count,
              req.validateOnly,
              topic.assignments?.map((a) => a.brokerIds) ?? null,
            );
            return { name, errorCode: ErrorCode.NONE, errorMessage: null };
          } catch (err) {
            return { name, ...apiErrorOf(err, services.logger, `Add partitions to topic "${name}"`) };
          }
        }),
      );
      return { throttleTimeMs: 0, results };
    },
  );
}
