import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  type FindCoordinatorResponseCoordinator,
} from '../../protocol/generated/messages/find-coordinator.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

const KeyType = { GROUP: 0, TRANSACTION: 1 } as const;

/**
 * FindCoordinator v0–v4 (v4+ batched). A group's coordinator is the leader of its
 * `__consumer_offsets` partition: this broker, once the topic exists (it is created on the
 * first lookup); a transactional id's is the leader of its `__transaction_state` partition,
 * this broker too.
 * v0 stays advertised: old librdkafka enables features only when it sees it.
 */
export function findCoordinatorHandler(
  services: BrokerServices,
): ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> {
  const lookup = async (key: string, keyType: number): Promise<FindCoordinatorResponseCoordinator> => {
    const failed = (errorCode: number, errorMessage: string | null): FindCoordinatorResponseCoordinator => ({
      key,
      nodeId: -1,
      host: '',
      port: -1,
      errorCode,
      errorMessage,
    });
    if (keyType !== KeyType.GROUP && keyType !== KeyType.TRANSACTION) {
      return failed(ErrorCode.INVALID_REQUEST, `Unknown coordinator type ${keyType}`);
    }
    const errorCode =
      keyType === KeyType.TRANSACTION
        ? await services.transactions.ensureStateTopic()
        : await services.groups.ensureStateTopic();
    if (errorCode !== ErrorCode.NONE) return failed(errorCode, null);
    return {
      key,
      nodeId: services.nodeId,
      host: services.advertised.host,
      port: services.advertised.port,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
    };
  };

  return defineHandler(
    { request: FindCoordinatorRequest, response: FindCoordinatorResponse },
    { min: 0, max: 4 },
    async (req, ctx) => {
      if (ctx.apiVersion >= 4) {
        const coordinators = await Promise.all(req.coordinatorKeys.map((key) => lookup(key, req.keyType)));
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          nodeId: -1,
          host: '',
          port: -1,
          coordinators,
        };
      }
      const c = await lookup(req.key, ctx.apiVersion === 0 ? KeyType.GROUP : req.keyType);
      return {
        throttleTimeMs: 0,
        errorCode: c.errorCode,
        errorMessage: c.errorMessage,
        nodeId: c.nodeId,
        host: c.host,
        port: c.port,
        coordinators: [],
      };
    },
  );
}
