import type { MessageCodec } from '../protocol/codec.ts';

/**
 * One Kafka API as this client uses it: the request and response codecs and the versions
 * the client implements. Each connection picks the highest version both it and the broker
 * support. Modules define the APIs they use, importing only those message codecs.
 */
export interface ClientApi<Req, Res> {
  readonly key: number;
  readonly name: string;
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
  readonly minVersion: number;
  readonly maxVersion: number;
}

export function defineApi<Req, Res>(
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  versions: { min: number; max: number },
): ClientApi<Req, Res> {
  const valid = request.schema.validVersions;
  if (versions.min < valid.min || versions.max > valid.max) {
    throw new Error(`${request.name}: versions ${versions.min}-${versions.max} outside ${valid.min}-${valid.max}`);
  }
  return {
    key: request.apiKey,
    name: request.name.replace(/Request$/, ''),
    request,
    response,
    minVersion: versions.min,
    maxVersion: versions.max,
  };
}
