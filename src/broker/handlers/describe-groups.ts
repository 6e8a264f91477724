import { DescribeGroupsRequest, DescribeGroupsResponse } from '../../protocol/generated/messages/describe-groups.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, GROUP_OPERATIONS } from '../acl-operations.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/**
 * DescribeGroups v0–v5 (classic groups). Member metadata and assignments are shown while
 * the group is Stable; an unknown group reads as Dead with no error, as in Kafka before v6.
 */
export function describeGroupsHandler(
  services: BrokerServices,
): ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> {
  return defineHandler(
    { request: DescribeGroupsRequest, response: DescribeGroupsResponse },
    { min: 0, max: 5 },
    (req) => ({
      throttleTimeMs: 0,
      groups: services.groups.describeGroups(req.groups).map((g) => ({
        ...g,
        authorizedOperations: req.includeAuthorizedOperations ? GROUP_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
      })),
    }),
  );
}
