import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  AlterConfigsRequest,
  AlterConfigsResponse,
  type AlterConfigsResponseAlterConfigsResourceResponse,
} from '../../protocol/generated/messages/alter-configs.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { ConfigService } from '../services/configs.ts';
import { InvalidRequestError } from '../services/errors.ts';
import type { BrokerServices } from '../services.ts';

/**
 * AlterConfigs v0–v2 (the legacy, replace-everything API): a topic's listed configs become
 * its whole set of overrides, persisted and applied to its logs before the response.
 * Each resource succeeds or fails as a whole. Broker resources accept no change (there
 * are no dynamic broker configs); broker loggers are for IncrementalAlterConfigs.
 */
export function alterConfigsHandler(services: BrokerServices): ApiHandler<AlterConfigsRequest, AlterConfigsResponse> {
  const configs = new ConfigService(services);
  return defineHandler(
    { request: AlterConfigsRequest, response: AlterConfigsResponse },
    { min: 0, max: 2 },
    async (req) => {
      const counts = new Map<string, number>();
      const key = (r: { resourceType: number; resourceName: string }) => `${r.resourceType}:${r.resourceName}`;
      for (const r of req.resources) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
      const responses = await Promise.all(
        req.resources.map(async (resource): Promise<AlterConfigsResponseAlterConfigsResourceResponse> => {
          const { resourceType, resourceName } = resource;
          try {
            if (counts.get(key(resource))! > 1) {
              throw new InvalidRequestError(
                `Cannot alter configs of resource ${resourceType} "${resourceName}": it is listed more than once in the request`,
              );
            }
            await configs.alter(resource, resource.configs, req.validateOnly);
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
