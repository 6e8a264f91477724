import { inRange } from './codec.ts';
import { API_VERSION_FACTS, ApiKey } from './generated/api-keys.ts';
import { type RequestHeader, RequestHeader as RequestHeaderCodec } from './generated/messages/request-header.ts';
import { type ResponseHeader, ResponseHeader as ResponseHeaderCodec } from './generated/messages/response-header.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * The request header version for an API version: v2 (with a tag section) when the request
 * version is flexible, v1 otherwise (v0, without a client id, only for ControlledShutdown v0). Unknown APIs are read as v1, which is enough to answer
 * them with an error.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ControlledShutdown && apiVersion === 0) return 0;
  const api = API_VERSION_FACTS.get(apiKey);
  return api && inRange(api.requestFlexibleVersions, apiVersion) ? 2 : 1;
}

/**
 * The response header version: v1 when the response version is flexible, v0 otherwise, and
 * always v0 for ApiVersions so that a client can read it before it knows our versions.
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === ApiKey.ApiVersions) return 0;
  const api = API_VERSION_FACTS.get(apiKey);
  return api && inRange(api.responseFlexibleVersions, apiVersion) ? 1 : 0;
}

/**
 * Reads a request header. The first four fields are the same in every header version, so
 * they are peeked to choose the version that decodes the rest.
 */
export function readRequestHeader(r: Reader): RequestHeader {
  const start = r.offset;
  const apiKey = r.int16();
  const apiVersion = r.int16();
  r.offset = start;
  return RequestHeaderCodec.read(r, requestHeaderVersion(apiKey, apiVersion));
}

export function writeRequestHeader(w: Writer, header: RequestHeader): void {
  RequestHeaderCodec.write(w, header, requestHeaderVersion(header.requestApiKey, header.requestApiVersion));
}

export function readResponseHeader(r: Reader, apiKey: number, apiVersion: number): ResponseHeader {
  return ResponseHeaderCodec.read(r, responseHeaderVersion(apiKey, apiVersion));
}

export function writeResponseHeader(w: Writer, header: ResponseHeader, apiKey: number, apiVersion: number): void {
  ResponseHeaderCodec.write(w, header, responseHeaderVersion(apiKey, apiVersion));
}
