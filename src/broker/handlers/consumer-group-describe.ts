import {
  ConsumerGroupDescribeRequest,
  ConsumerGroupDescribeResponse,
} from '../../protocol/generated/messages/consumer-group-describe.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, GROUP_OPERATIONS } from '../acl-operations.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** ConsumerGroupDescribe v0: KIP-848 groups with epochs, members, current and target assignments. */
export function consumerGroupDescribeHandler(
  services: BrokerServices,
): ApiHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse> {
  return defineHandler(
    { request: ConsumerGroupDescribeRequest, response: ConsumerGroupDescribeResponse },
    { min: 0, max: 0 },
    (req) => ({
      throttleTimeMs: 0,
      groups: services.groups.consumerGroupDescribe(req.groupIds).map((g) => ({
        ...g,
        members: g.members.map((m) => ({
          ...m,
          assignment: { topicPartitions: m.assignment },
          targetAssignment: { topicPartitions: m.targetAssignment },
        })),
        authorizedOperations: req.includeAuthorizedOperations ? GROUP_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
      })),
    }),
  );
}
