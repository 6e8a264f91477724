import {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
} from '../../protocol/generated/messages/consumer-group-heartbeat.ts';
import { clientHostOf } from '../group/client-host.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * ConsumerGroupHeartbeat v0–v1 (KIP-848): join (epoch 0), heartbeat, leave (−1, or −2 for
 * a static member leaving for a while). v1 adds the topic regex and has the client choose
 * its member id (KIP-1082), as in Kafka 4.0.
 */
export function consumerGroupHeartbeatHandler(
  services: BrokerServices,
): ApiHandler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse> {
  return defineHandler(
    { request: ConsumerGroupHeartbeatRequest, response: ConsumerGroupHeartbeatResponse },
    { min: 0, max: 1 },
    async (req, ctx) => {
      const result = await services.groups.consumerGroupHeartbeat({
        apiVersion: ctx.apiVersion,
        groupId: req.groupId,
        memberId: req.memberId,
        memberEpoch: req.memberEpoch,
        instanceId: req.instanceId,
        rackId: req.rackId,
        rebalanceTimeoutMs: req.rebalanceTimeoutMs,
        subscribedTopicNames: req.subscribedTopicNames,
        subscribedTopicRegex: ctx.apiVersion >= 1 ? req.subscribedTopicRegex : null,
        serverAssignor: req.serverAssignor,
        topicPartitions: req.topicPartitions,
        clientId: ctx.clientId ?? '',
        clientHost: clientHostOf(ctx),
      });
      return {
        throttleTimeMs: 0,
        errorCode: result.errorCode,
        errorMessage: result.errorMessage,
        memberId: result.memberId,
        memberEpoch: result.memberEpoch,
        heartbeatIntervalMs: result.heartbeatIntervalMs,
        assignment: result.assignment === null ? null : { topicPartitions: result.assignment },
      };
    },
  );
}
