import { ErrorCode } from '../../protocol/generated/error-codes.ts';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../protocol/generated/messages/api-versions.ts';
import { type ApiHandler, defineHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';

export function apiVersionsHandler(services: BrokerServices): ApiHandler<ApiVersionsRequest, ApiVersionsResponse> {
  return defineHandler({ request: ApiVersionsRequest, response: ApiVersionsResponse }, { min: 0, max: 3 }, () => ({
    errorCode: ErrorCode.NONE,
    apiKeys: services.router.apiVersions(),
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1n,
    finalizedFeatures: [],
    zkMigrationReady: false,
  }));
}
