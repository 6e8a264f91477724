import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
  type IncrementalAlterConfigsResponseAlterConfigsResourceResponse,
} from '../../protocol/generated/messages/incremental-alter-configs.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { ConfigService } from '../services/configs.ts';
import { InvalidRequestError } from '../services/errors.ts';
import type { BrokerServices } from '../services.ts';

/**
 * IncrementalAlterConfigs v0–v1: SET, DELETE, APPEND and SUBTRACT (the last two for list
 * configs such as cleanup.policy) on a topic's overrides, applied to its logs before the
 * response; SET of the root logger's level on BROKER_LOGGER. Each resource succeeds or
 * fails as a whole. Broker resources accept no change (no dynamic broker configs).
 */
export function incrementalAlterConfigsHandler(
  services: BrokerServices,
): ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> {
  const configs = new ConfigService(services);
  return defineHandler(
    { request: IncrementalAlterConfigsRequest, response: IncrementalAlterConfigsResponse },
    { min: 0, max: 1 },
    async (req) => {
      const counts = new Map<string, number>();
      const key = (r: { resourceType: number; resourceName: string }) => `${r.resourceType}:${r.resourceName}`;
      for (const r of req.resources) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
      const responses = await Promise.all(
        req.resources.map(async (resource): Promise<IncrementalAlterConfigsResponseAlterConfigsResourceResponse> => {
          const { resourceType, resourceName } = resource;
          try {
            if (counts.get(key(resource))! > 1) {
              throw new InvalidRequestError(
                `Cannot alter configs of resource ${resourceType} "${resourceName}": it is listed more than once in the request`,
              );
            }
            await configs.incrementalAlter(resource, resource.configs, req.validateOnly);
            return { errorCode: ErrorCode.NONE, errorMessage: null, resourceType, resourceName };
          } catch (err) {
            return {
              ...apiErrorOf(err, services.logger, `Alter configs of resource ${resourceType} "${resourceName}"`),
              resourceType,
              resourceName,
            };
          }
        }),
      );
      return { throttleTimeMs: 0, responses };
    },
  );
}
