import { ZERO_UUID } from '../../protocol/codec.ts';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  CreateTopicsRequest,
  type CreateTopicsRequestCreatableTopic,
  CreateTopicsResponse,
  type CreateTopicsResponseCreatableTopicResult,
} from '../../protocol/generated/messages/create-topics.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { ConfigService } from '../services/configs.ts';
import { InvalidConfigRequestError, InvalidRequestError } from '../services/errors.ts';
import type { BrokerServices } from '../services.ts';

/**
 * CreateTopics v0–v7. v1 adds validateOnly, v4 lets numPartitions/replicationFactor be −1
 * (broker defaults; accepted at every version here, as the KRaft controller does), v5
 * returns the partition count, replication factor and every config with its source, v7
 * the topic ID. v6 may answer THROTTLING_QUOTA_EXCEEDED, which never happens here. The
 * timeout is ignored: creation is done when the response goes out.
 */
export function createTopicsHandler(services: BrokerServices): ApiHandler<CreateTopicsRequest, CreateTopicsResponse> {
  const configs = new ConfigService(services);

  const failed = (name: string, err: unknown): CreateTopicsResponseCreatableTopicResult => ({
    name,
    topicId: ZERO_UUID,
    ...apiErrorOf(err, services.logger, `Create topic "${name}"`),
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: -1,
    replicationFactor: -1,
    configs: [],
  });

  const createOne = async (
    topic: CreateTopicsRequestCreatableTopic,
    validateOnly: boolean,
  ): Promise<CreateTopicsResponseCreatableTopicResult> => {
    const { name } = topic;
    try {
      const overrides: Record<string, string> = {};
      for (const { name: key, value } of topic.configs) {
        if (value === null) {
          throw new InvalidConfigRequestError(`Cannot create topic "${name}": config "${key}" has a null value`);
        }
        if (Object.hasOwn(overrides, key)) {
          throw new InvalidRequestError(`Cannot create topic "${name}": config "${key}" is given more than once`);
        }
        overrides[key] = value;
      }
      const created = await services.topics.create({
        name,
        numPartitions: topic.numPartitions,
        replicationFactor: topic.replicationFactor,
        assignments: topic.assignments,
        configs: overrides,
        validateOnly,
      });
      return {
        name,
        topicId: created.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        topicConfigErrorCode: ErrorCode.NONE,
        numPartitions: created.partitionCount,
        replicationFactor: created.replicationFactor,
        configs: configs.topicEntries(created.configs).map((e) => ({
          name: e.name,
          value: e.value,
          readOnly: e.readOnly,
          configSource: e.source,
          isSensitive: e.isSensitive,
        })),
      };
    } catch (err) {
      return failed(name, err);
    }
  };

  return defineHandler(
    { request: CreateTopicsRequest, response: CreateTopicsResponse },
    { min: 0, max: 7 },
    async (req) => {
      // A name listed twice gets one INVALID_REQUEST result and is not created (as Kafka does).
      const counts = new Map<string, number>();
      for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const reported = new Set<string>();
      const results = await Promise.all(
        req.topics.map((topic) => {
          if (counts.get(topic.name)! === 1) return createOne(topic, req.validateOnly);
          if (reported.has(topic.name)) return null;
          reported.add(topic.name);
          return failed(
            topic.name,
            new InvalidRequestError(`Cannot create topic "${topic.name}": it is listed more than once in the request`),
          );
        }),
      );
      return {
        throttleTimeMs: 0,
        topics: results.filter((r): r is CreateTopicsResponseCreatableTopicResult => r !== null),
      };
    },
  );
}
