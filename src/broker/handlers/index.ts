import type { ApiHandler } from '../handler.ts';
import type { BrokerServices } from '../services.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { metadataHandler } from './metadata.ts';

/** Every API the broker serves; ApiVersions advertises exactly these. */
export function allHandlers(services: BrokerServices): ApiHandler<never, never>[] {
  return [apiVersionsHandler(services), metadataHandler(services)] as ApiHandler<never, never>[];
}
