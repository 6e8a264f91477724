import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { DescribeClusterRequest, DescribeClusterResponse } from '../../protocol/generated/messages/describe-cluster.ts';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS } from '../acl-operations.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

/** KIP-919 endpoint types: what a client expects to be talking to. */
const EndpointType = { BROKER: 1, CONTROLLER: 2 } as const;

/**
 * DescribeCluster v0–v1: this broker, which is also the controller, and the cluster id.
 * v1 carries the endpoint type: this is a broker endpoint, so a client that wants a
 * controller gets MISMATCHED_ENDPOINT_TYPE (as Kafka answers on a broker listener).
 */
export function describeClusterHandler(
  services: BrokerServices,
): ApiHandler<DescribeClusterRequest, DescribeClusterResponse> {
  return defineHandler(
    { request: DescribeClusterRequest, response: DescribeClusterResponse },
    { min: 0, max: 1 },
    (req, ctx) => {
      const base = {
        throttleTimeMs: 0,
        endpointType: EndpointType.BROKER,
        clusterId: services.clusterId,
        controllerId: services.nodeId,
        brokers: [
          { brokerId: services.nodeId, host: services.advertised.host, port: services.advertised.port, rack: null },
        ],
        clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
          ? CLUSTER_OPERATIONS
          : AUTHORIZED_OPERATIONS_OMITTED,
      };
      if (ctx.apiVersion >= 1 && req.endpointType !== EndpointType.BROKER) {
        const mismatched = req.endpointType === EndpointType.CONTROLLER;
        return {
          ...base,
          controllerId: -1,
          brokers: [],
          clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
          errorCode: mismatched ? ErrorCode.MISMATCHED_ENDPOINT_TYPE : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
          errorMessage: mismatched
            ? 'Cannot describe the cluster as a controller endpoint: this is a broker endpoint'
            : `Cannot describe the cluster: unknown endpoint type ${req.endpointType}`,
        };
      }
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null };
    },
  );
}
