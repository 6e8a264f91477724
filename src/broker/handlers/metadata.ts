import { ZERO_UUID } from '../../protocol/codec.ts';
import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  MetadataRequest,
  MetadataResponse,
  type MetadataResponseMetadataResponseTopic,
} from '../../protocol/generated/messages/metadata.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS, TOPIC_OPERATIONS } from '../acl-operations.ts';
import { errorCodeOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { TopicInfo } from '../services/topic-manager.ts';
import { TopicManager } from '../services/topic-manager.ts';
import type { BrokerServices } from '../services.ts';

export function metadataHandler(services: BrokerServices): ApiHandler<MetadataRequest, MetadataResponse> {
  const { nodeId } = services;

  const describe = (topic: TopicInfo, includeOps: boolean): MetadataResponseMetadataResponseTopic => ({
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: topic.isInternal,
    partitions: Array.from({ length: topic.partitionCount }, (_, p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: includeOps ? TOPIC_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
  });

  const failed = (name: string | null, topicId: string, errorCode: number): MetadataResponseMetadataResponseTopic => ({
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  });

  return defineHandler(
    { request: MetadataRequest, response: MetadataResponse },
    { min: 0, max: 12 },
    async (req, ctx) => {
      const includeOps = req.includeTopicAuthorizedOperations;
      // v0: an empty list means every topic; v1+: null means every topic, empty means none.
      const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
      let topics: MetadataResponseMetadataResponseTopic[];
      if (all) {
        topics = services.topics.list().map((t) => describe(t, includeOps));
      } else {
        // Kafka auto-creates only for v4+ requests that allow it, and always for v0–v3.
        const mayCreate = ctx.apiVersion < 4 || req.allowAutoTopicCreation;
        topics = [];
        for (const wanted of req.topics!) {
          if (wanted.name === null) {
            const byId = services.topics.getById(wanted.topicId);
            topics.push(byId ? describe(byId, includeOps) : failed(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
            continue;
          }
          const name = wanted.name;
          const existing = services.topics.get(name);
          if (existing) {
            topics.push(describe(existing, includeOps));
            continue;
          }
          try {
            TopicManager.validateName(name);
            const created = mayCreate ? await services.topics.autoCreate(name) : undefined;
            topics.push(
              created ? describe(created, includeOps) : failed(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
            );
          } catch (err) {
            topics.push(failed(name, ZERO_UUID, errorCodeOf(err)));
          }
        }
      }
      return {
        throttleTimeMs: 0,
        brokers: [{ nodeId, host: services.advertised.host, port: services.advertised.port, rack: null }],
        clusterId: services.clusterId,
        controllerId: nodeId,
        topics,
        clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
          ? CLUSTER_OPERATIONS
          : AUTHORIZED_OPERATIONS_OMITTED,
      };
    },
  );
}
