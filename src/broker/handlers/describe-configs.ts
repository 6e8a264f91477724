import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import {
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  type DescribeConfigsResponseDescribeConfigsResult,
} from '../../protocol/generated/messages/describe-configs.ts';
import { apiErrorOf } from '../error-mapping.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import { ConfigService, ConfigSource } from '../services/configs.ts';
import type { BrokerServices } from '../services.ts';

/**
 * DescribeConfigs v0–v4 for topics (2), this broker (4) and its logger (8). v0 reports
 * isDefault instead of a source; v1 adds sources and synonyms (when asked for), v3 the
 * config type and documentation (always null: there is none to give). Each resource
 * gets its own error code and message.
 */
export function describeConfigsHandler(
  services: BrokerServices,
): ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse> {
  const configs = new ConfigService(services);
  return defineHandler(
    { request: DescribeConfigsRequest, response: DescribeConfigsResponse },
    { min: 0, max: 4 },
    (req) => ({
      throttleTimeMs: 0,
      results: req.resources.map((resource): DescribeConfigsResponseDescribeConfigsResult => {
        const { resourceType, resourceName } = resource;
        try {
          const entries = configs.describe(resource, resource.configurationKeys, req.includeSynonyms);
          return {
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            resourceType,
            resourceName,
            configs: entries.map((e) => ({
              name: e.name,
              value: e.value,
              readOnly: e.readOnly,
              isDefault: e.source === ConfigSource.DEFAULT_CONFIG,
              configSource: e.source,
              isSensitive: e.isSensitive,
              synonyms: e.synonyms,
              configType: e.configType,
              documentation: null,
            })),
          };
        } catch (err) {
          return {
            ...apiErrorOf(err, services.logger, `Describe configs of resource ${resourceType} "${resourceName}"`),
            resourceType,
            resourceName,
            configs: [],
          };
        }
      }),
    }),
  );
}
