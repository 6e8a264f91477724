import { DecodeError } from '../protocol/errors.ts';
import { ApiKey } from '../protocol/generated/api-keys.ts';
import { ErrorCode } from '../protocol/generated/error-codes.ts';
import { ApiVersionsResponse } from '../protocol/generated/messages/api-versions.ts';
import { readRequestHeader, writeResponseHeader } from '../protocol/headers.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';
import type { ApiHandler, RequestContext } from './handler.ts';
import type { Logger } from './logger.ts';
import { RateLimitedLog } from './logger.ts';
import type { Connection, FrameOutcome } from './net/connection.ts';

/**
 * Below Buffer.poolSize / 2, so a response writer is a slice of Node's shared pool rather than
 * an allocation of its own, and enough for the usual small responses (Produce, heartbeats,
 * offsets, and Fetch, whose large record sets are referenced, not copied) not to grow.
 */
const RESPONSE_INITIAL_SIZE = 2048;
/** Byte fields from this size on are written by reference: below it a copy costs less than a chunk. */
const RESPONSE_REFERENCE_BYTES_FROM = 16 * 1024;

/**
 * Routes request frames to the handler of their API. It owns the only decode and encode
 * of each request and response, so handlers see typed messages only; ApiVersions is
 * answered from the same registry, so what is advertised is exactly what is routed.
 */
export class Router {
  readonly #handlers = new Map<number, ApiHandler>();
  readonly #offences: RateLimitedLog;

  constructor(logger: Logger) {
    this.#offences = new RateLimitedLog(logger);
  }

  register(handler: ApiHandler<never, never> | ApiHandler): this {
    const h = handler as ApiHandler;
    if (this.#handlers.has(h.apiKey)) throw new Error(`Two handlers for API key ${h.apiKey}`);
    this.#handlers.set(h.apiKey, h);
    return this;
  }

  /** The advertised version ranges, sorted by API key. */
  apiVersions(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
    return [...this.#handlers.values()]
      .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey);
  }

  handler(apiKey: number): ApiHandler | undefined {
    return this.#handlers.get(apiKey);
  }

  /** Handles one request frame (without its size prefix). */
  async handle(frame: Buffer, connection: Connection): Promise<FrameOutcome> {
    const reader = new Reader(frame);
    let context: RequestContext;
    let handler: ApiHandler | undefined;
    let request: unknown;
    try {
      const header = readRequestHeader(reader);
      context = {
        apiKey: header.requestApiKey,
        apiVersion: header.requestApiVersion,
        correlationId: header.correlationId,
        clientId: header.clientId,
        connection,
      };
      handler = this.#handlers.get(header.requestApiKey);
      if (handler && (context.apiVersion < handler.minVersion || context.apiVersion > handler.maxVersion)) {
        if (context.apiKey === ApiKey.ApiVersions) return { response: this.#unsupportedApiVersions(context) };
        handler = undefined;
      }
      if (!handler) {
        return this.#offence(connection, `unsupported API key ${context.apiKey} version ${context.apiVersion}`);
      }
      request = handler.request.read(reader, context.apiVersion);
    } catch (err) {
      if (err instanceof DecodeError) return this.#offence(connection, `malformed request: ${err.message}`);
      throw err;
    }
    const response = await handler.handle(request, context);
    if (response === null) return { response: null };
    return { response: this.#encode(handler, response, context) };
  }

  /**
   * Large byte fields (Fetch records) are not copied: the response is the writer's chunks,
   * which the connection writes in one writev, and the record buffers stay referenced until then.
   */
  #encode(handler: ApiHandler, response: unknown, context: RequestContext): Buffer | Buffer[] {
    const w = new Writer(RESPONSE_INITIAL_SIZE, { referenceBytesFrom: RESPONSE_REFERENCE_BYTES_FROM });
    w.int32(0); // size, filled in below
    writeResponseHeader(w, { correlationId: context.correlationId }, context.apiKey, context.apiVersion);
    handler.response.write(w, response, context.apiVersion);
    const chunks = w.chunks();
    // The first chunk starts at the prefix even if the writer has since moved to a new buffer.
    chunks[0]!.writeInt32BE(w.length - 4, 0);
    return chunks.length === 1 ? chunks[0]! : chunks;
  }

  /**
   * A client asking for an ApiVersions version above ours gets a v0 body with
   * UNSUPPORTED_VERSION and our range, and retries with a version we listed (KIP-511).
   */
  #unsupportedApiVersions(context: RequestContext): Buffer {
    const api = this.#handlers.get(ApiKey.ApiVersions)!;
    const w = new Writer(64);
    w.int32(0);
    writeResponseHeader(w, { correlationId: context.correlationId }, ApiKey.ApiVersions, 0);
    ApiVersionsResponse.write(
      w,
      {
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: api.minVersion, maxVersion: api.maxVersion }],
        throttleTimeMs: 0,
        supportedFeatures: [],
        finalizedFeaturesEpoch: -1n,
        finalizedFeatures: [],
        zkMigrationReady: false,
      },
      0,
    );
    const bytes = w.toBuffer();
    bytes.writeInt32BE(bytes.length - 4, 0);
    return bytes;
  }

  #offence(connection: Connection, reason: string): FrameOutcome {
    this.#offences.warn(
      connection.remoteAddress,
      { connection: connection.id, remote: `${connection.remoteAddress}:${connection.remotePort}` },
      `Closing connection: ${reason}`,
    );
    return { close: reason };
  }
}
