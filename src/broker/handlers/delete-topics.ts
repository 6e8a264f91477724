import { ZERO_UUID } from '../../protocol/codec.ts';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  type DeleteTopicsResponseDeletableTopicResult,
} from '../../protocol/generated/messages/delete-topics.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { InvalidRequestError, TopicDeletionDisabledError } from '../services/errors.ts';
import type { BrokerServices } from '../services.ts';

/**
 * DeleteTopics v0–v6: by name (v0–v5 `topicNames`, v6 `topics` with a name) or by topic ID
 * (v6). v3+ answer TOPIC_DELETION_DISABLED when delete.topic.enable is false, older
 * versions INVALID_REQUEST (as Kafka does); v5 adds error messages. Deletion is done
 * (logs closed, directories renamed for removal) before the response; the timeout is ignored.
 */
export function deleteTopicsHandler(services: BrokerServices): ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse> {
  return defineHandler(
    { request: DeleteTopicsRequest, response: DeleteTopicsResponse },
    { min: 0, max: 6 },
    async (req, ctx) => {
      const wanted: Array<{ name: string | null; topicId: string }> =
        ctx.apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
      const enabled = services.config.bool('delete.topic.enable');
      const names = new Map<string, number>();
      const ids = new Map<string, number>();
      for (const { name, topicId } of wanted) {
        if (name !== null) names.set(name, (names.get(name) ?? 0) + 1);
        if (topicId !== ZERO_UUID) ids.set(topicId, (ids.get(topicId) ?? 0) + 1);
      }

      const result = (
        name: string | null,
        topicId: string,
        err: unknown | null,
      ): DeleteTopicsResponseDeletableTopicResult =>
        err === null
          ? { name, topicId, errorCode: ErrorCode.NONE, errorMessage: null }
          : { name, topicId, ...apiErrorOf(err, services.logger, `Delete topic "${name ?? topicId}"`) };

      const deleteOne = async ({
        name,
        topicId,
      }: {
        name: string | null;
        topicId: string;
      }): Promise<DeleteTopicsResponseDeletableTopicResult> => {
        const label = name !== null ? `topic "${name}"` : `topic with ID "${topicId}"`;
        try {
          if (name === null && topicId === ZERO_UUID) {
            throw new InvalidRequestError('Cannot delete a topic without a name or an ID');
          }
          if (name !== null && topicId !== ZERO_UUID) {
            throw new InvalidRequestError(`Cannot delete ${label}: give either its name or its ID, not both`);
          }
          if ((name !== null && names.get(name)! > 1) || (topicId !== ZERO_UUID && ids.get(topicId)! > 1)) {
            throw new InvalidRequestError(`Cannot delete ${label}: it is listed more than once in the request`);
          }
          if (!enabled) {
            const message = `Cannot delete ${label}: topic deletion is disabled (delete.topic.enable=false)`;
            throw ctx.apiVersion >= 3 ? new TopicDeletionDisabledError(message) : new InvalidRequestError(message);
          }
          const deleted =
            name !== null ? await services.topics.delete(name) : await services.topics.deleteById(topicId);
          return result(deleted.name, deleted.topicId, null);
        } catch (err) {
          return result(name, topicId, err);
        }
      };

      return { throttleTimeMs: 0, responses: await Promise.all(wanted.map(deleteOne)) };
    },
  );
}
