import type { MessageCodec } from '../protocol/codec.ts';
import type { Connection } from './net/connection.ts';

/** What a handler knows about the request it serves. */
export interface RequestContext {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  connection: Connection;
}

/**
 * One API's handler: the versions it fully implements (advertised in ApiVersions) and
 * the function that turns a decoded request into a response, or null for no response
 * (Produce with acks=0).
 */
export interface ApiHandler<Req = unknown, Res = unknown> {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
  request: MessageCodec<Req>;
  response: MessageCodec<Res>;
  handle(request: Req, context: RequestContext): Promise<Res | null> | Res | null;
}

export function defineHandler<Req, Res>(
  api: { request: MessageCodec<Req>; response: MessageCodec<Res> },
  versions: { min: number; max: number },
  handle: (request: Req, context: RequestContext) => Promise<Res | null> | Res | null,
): ApiHandler<Req, Res> {
  const { min, max } = api.request.schema.validVersions;
  if (versions.min < min || versions.max > max) {
    throw new Error(`${api.request.name}: versions ${versions.min}-${versions.max} outside the schema's ${min}-${max}`);
  }
  return {
    apiKey: api.request.apiKey,
    minVersion: versions.min,
    maxVersion: versions.max,
    request: api.request,
    response: api.response,
    handle,
  };
}
