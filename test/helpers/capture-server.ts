/**
 * A fake single-broker Kafka cluster for tests: it listens on 127.0.0.1 (random port),
 * records every request frame exactly as it arrived, and answers just enough for a real
 * client to get as far as Produce. It is test infrastructure, not a broker: it stores
 * nothing, and anything it does not answer (Fetch, group APIs, …) is recorded and then
 * the connection is closed, which every client treats as a broken broker connection.
 *
 * Every answer is encoded with our own generated codecs in the version the request used,
 * and answers leave a connection in request order (requests are handled synchronously as
 * they are framed, so there is nothing to reorder).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  API_BY_KEY,
  ApiKey,
  type ApiVersionsResponse,
  type ApiVersionsResponseApiVersion,
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  defaultApiVersionsResponse,
  defaultCreateTopicsResponse,
  defaultCreateTopicsResponseCreatableTopicResult,
  defaultFindCoordinatorResponse,
  defaultInitProducerIdResponse,
  defaultMetadataResponse,
  defaultMetadataResponseMetadataResponsePartition,
  defaultMetadataResponseMetadataResponseTopic,
  defaultProduceResponse,
  defaultProduceResponsePartitionProduceResponse,
  ErrorCode,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
  type MetadataRequest,
  type MetadataResponse,
  type ProduceRequest,
  type ProduceResponse,
  Reader,
  type RequestHeader,
  readRequestHeader,
  Writer,
  writeResponseHeader,
} from '../../src/protocol/index.ts';
import { batchSizeAt, readBatchHeader } from '../../src/protocol/records/index.ts';

/** One request frame as the client sent it, plus what the server made of it. */
export interface CapturedRequest {
  /** Accept order of the TCP connection the frame came on, from 0. */
  connection: number;
  apiKey: number;
  /** Kafka's name for the API, or `Unknown(<key>)`. */
  apiName: string;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The frame after its 4-byte size prefix: request header, then body, byte for byte. */
  frame: Buffer;
  /** Where the body starts in `frame`, i.e. the size of the request header. */
  bodyOffset: number;
  header: RequestHeader;
  /** The body decoded with our codec for `apiVersion`; undefined when that failed. */
  body: unknown;
  /** Why the header or body could not be decoded, if it could not. */
  decodeError?: Error;
  /** Bytes of the frame left after the body was decoded; a well-formed request leaves 0. */
  trailingBytes: number;
  /** The response frame sent back (without size prefix), or null when none was sent. */
  response: Buffer | null;
}

/** An inclusive [min, max] version range that the server advertises for an API. */
export type VersionRange = readonly [min: number, max: number];

/**
 * A request handler: returns the response body to encode in the request's version, or
 * `NO_RESPONSE` to stay silent (Produce with acks=0), or `CLOSE` to drop the connection.
 */
export type Handler = (body: unknown, request: CapturedRequest, server: CaptureServer) => unknown;

export const NO_RESPONSE = Symbol('no response');
export const CLOSE = Symbol('close connection');

/**
 * What the server advertises in ApiVersions. Some ranges exist only for what clients infer
 * from them, not because the server answers those APIs:
 * - librdkafka 2.0 enables features by overlap with fixed versions: magic-2 batches need
 *   Produce 3 and Fetch 4, zstd needs Produce 7 and Fetch 10, lz4 needs FindCoordinator 0,
 *   the idempotent producer needs InitProducerId 0. Without Fetch in the list it sends
 *   magic-0 message sets, so Fetch is advertised and never answered.
 * - Produce starts at 0 because librdkafka 2.0 sends gzip, snappy and lz4 batches
 *   uncompressed unless the Produce range includes v0 (KAFKA-18659).
 * The kcat tests in test/interop/client-bytes.test.ts show each of these fallbacks.
 */
export const DEFAULT_VERSIONS: Readonly<Record<number, VersionRange>> = {
  [ApiKey.Produce]: [0, 9],
  [ApiKey.Fetch]: [0, 11],
  [ApiKey.Metadata]: [0, 12],
  [ApiKey.FindCoordinator]: [0, 4],
  [ApiKey.ApiVersions]: [0, 3],
  [ApiKey.CreateTopics]: [0, 7],
  [ApiKey.InitProducerId]: [0, 4],
};

export interface CaptureServerOptions {
  /** Partitions of every topic in Metadata answers. Default 3. */
  partitions?: number;
  /** Topics a Metadata request for all topics sees, besides those asked for or created so far. */
  topics?: readonly string[];
  /** Replaces advertised version ranges by API key; `null` stops advertising that API. */
  versions?: Readonly<Record<number, VersionRange | null>>;
  /** Replaces or adds handlers by API key. A handler is only reached for advertised versions. */
  handlers?: Readonly<Record<number, Handler>>;
}

const NODE_ID = 1;
const CLUSTER_ID = 'capture-server-cluster';
/** Large enough for any test payload, small enough that a garbage size cannot eat memory. */
const MAX_FRAME_SIZE = 64 * 1024 * 1024;

export class CaptureServer {
  readonly requests: CapturedRequest[] = [];
  /** Range by API key, as advertised in ApiVersions. */
  readonly versions: ReadonlyMap<number, VersionRange>;
  readonly partitions: number;
  /** Topics the server has heard of, with the topic id it gives them in Metadata v10+. */
  readonly topics = new Map<string, string>();
  /** Next offset to hand out, by `topic/partition`, so produced batches get increasing base offsets. */
  readonly nextOffsets = new Map<string, bigint>();
  private readonly handlers: Map<number, Handler>;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private connectionCount = 0;
  private nextProducerId = 1000n;
  private listeners: Array<() => void> = [];

  private constructor(options: CaptureServerOptions) {
    this.partitions = options.partitions ?? 3;
    const versions = new Map<number, VersionRange>();
    for (const [key, range] of Object.entries({ ...DEFAULT_VERSIONS, ...options.versions })) {
      if (range !== null) versions.set(Number(key), range);
    }
    this.versions = versions;
    for (const topic of options.topics ?? []) this.topicId(topic);
    this.handlers = new Map<number, Handler>([
      [ApiKey.Metadata, (body, req) => this.metadata(body as MetadataRequest, req.apiVersion)],
      [ApiKey.Produce, (body) => this.produce(body as ProduceRequest)],
      [ApiKey.FindCoordinator, (body) => this.findCoordinator(body as FindCoordinatorRequest)],
      [ApiKey.InitProducerId, (body) => this.initProducerId(body as InitProducerIdRequest)],
      [ApiKey.CreateTopics, (body) => this.createTopics(body as CreateTopicsRequest)],
    ]);
    for (const [key, handler] of Object.entries(options.handlers ?? {})) this.handlers.set(Number(key), handler);
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Starts a server on a free port of 127.0.0.1. */
  static async start(options: CaptureServerOptions = {}): Promise<CaptureServer> {
    const server = new CaptureServer(options);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(0, '127.0.0.1', () => resolve());
    });
    return server;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('Capture server is not listening');
    return address.port;
  }

  /** `127.0.0.1:<port>`, as clients take it in their bootstrap list. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Captured requests of one API, in arrival order. */
  requestsOf(apiKey: number): CapturedRequest[] {
    return this.requests.filter((r) => r.apiKey === apiKey);
  }

  /** Resolves once `predicate` holds for the captured requests; rejects after `timeoutMs`. */
  async waitFor(predicate: (requests: readonly CapturedRequest[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.requests)) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.requests)) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        const seen = this.requests.map((r) => `${r.apiName} v${r.apiVersion}`).join(', ');
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for requests (seen: ${seen || 'none'})`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
      };
      this.listeners.push(check);
    });
  }

  /** Stops listening and drops every open connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The topic id the server uses for a topic, creating the topic on first use. */
  topicId(name: string): string {
    let id = this.topics.get(name);
    if (id === undefined) {
      id = randomBytes(16).toString('base64url');
      this.topics.set(name, id);
    }
    return id;
  }

  private accept(socket: Socket): void {
    const connection = this.connectionCount++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && !socket.destroyed) {
        const size = pending.readInt32BE(0);
        if (size < 0 || size > MAX_FRAME_SIZE) {
          socket.destroy();
          return;
        }
        if (pending.length < 4 + size) break;
        // A copy, so the captured frame does not pin or alias the socket's chunk.
        const frame = Buffer.from(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
        this.handleFrame(socket, connection, frame);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private handleFrame(socket: Socket, connection: number, frame: Buffer): void {
    const request = decodeFrame(connection, frame);
    this.requests.push(request);
    for (const listener of [...this.listeners]) listener();

    if (request.decodeError !== undefined && request.bodyOffset === 0) {
      socket.destroy(); // not even the header could be read
      return;
    }
    const range = this.versions.get(request.apiKey);
    if (request.apiKey === ApiKey.ApiVersions) {
      const [body, version] = this.apiVersions(request);
      this.respond(socket, request, body, version);
      return;
    }
    const handler = this.handlers.get(request.apiKey);
    if (
      range === undefined ||
      request.apiVersion < range[0] ||
      request.apiVersion > range[1] ||
      handler === undefined ||
      request.decodeError !== undefined
    ) {
      socket.destroy();
      return;
    }
    const result = handler(request.body, request, this);
    if (result === NO_RESPONSE) return;
    if (result === CLOSE) {
      socket.destroy();
      return;
    }
    this.respond(socket, request, result);
  }

  private respond(socket: Socket, request: CapturedRequest, body: unknown, version = request.apiVersion): void {
    const api = API_BY_KEY.get(request.apiKey)!;
    const w = new Writer();
    writeResponseHeader(w, { correlationId: request.correlationId }, request.apiKey, version);
    api.response.write(w, body, version);
    const payload = w.toBuffer();
    const sizePrefix = Buffer.alloc(4);
    sizePrefix.writeInt32BE(payload.length);
    request.response = Buffer.from(payload);
    socket.write(Buffer.concat([sizePrefix, payload]));
  }

  /**
   * The KIP-511 rule: a version above ours is still answered, with a v0 body carrying
   * UNSUPPORTED_VERSION and our ApiVersions range, so the client can retry at our maximum.
   */
  private apiVersions(request: CapturedRequest): [body: ApiVersionsResponse, version: number] {
    const own = this.versions.get(ApiKey.ApiVersions) ?? [0, 0];
    const entry = (apiKey: number, [minVersion, maxVersion]: VersionRange): ApiVersionsResponseApiVersion => ({
      apiKey,
      minVersion,
      maxVersion,
    });
    const response = defaultApiVersionsResponse();
    if (request.apiVersion > own[1] || request.apiVersion < own[0]) {
      response.errorCode = ErrorCode.UNSUPPORTED_VERSION;
      response.apiKeys = [entry(ApiKey.ApiVersions, own)];
      return [response, 0];
    }
    response.apiKeys = [...this.versions].sort(([a], [b]) => a - b).map(([key, range]) => entry(key, range));
    return [response, request.apiVersion];
  }

  private metadata(request: MetadataRequest, version: number): MetadataResponse {
    // v0: an empty list means all topics; v1+: null means all and empty means none.
    const all = request.topics === null || (version === 0 && request.topics.length === 0);
    const names = all ? [...this.topics.keys()] : (request.topics ?? []).map((t) => t.name);
    const response = defaultMetadataResponse();
    response.brokers = [{ nodeId: NODE_ID, host: '127.0.0.1', port: this.port, rack: null }];
    response.clusterId = CLUSTER_ID;
    response.controllerId = NODE_ID;
    response.topics = names.map((name) => {
      const topic = defaultMetadataResponseMetadataResponseTopic();
      if (name === null) {
        topic.errorCode = ErrorCode.UNKNOWN_TOPIC_ID;
        return topic;
      }
      topic.name = name;
      topic.topicId = this.topicId(name);
      topic.partitions = Array.from({ length: this.partitions }, (_, partitionIndex) => ({
        ...defaultMetadataResponseMetadataResponsePartition(),
        partitionIndex,
        leaderId: NODE_ID,
        leaderEpoch: 0,
        replicaNodes: [NODE_ID],
        isrNodes: [NODE_ID],
      }));
      return topic;
    });
    return response;
  }

  /** Every partition accepts everything; base offsets count the records each batch declares. */
  private produce(request: ProduceRequest): ProduceResponse | typeof NO_RESPONSE {
    const response = defaultProduceResponse();
    response.responses = request.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((partition) => {
        const key = `${topic.name}/${partition.index}`;
        const baseOffset = this.nextOffsets.get(key) ?? 0n;
        this.nextOffsets.set(key, baseOffset + countRecords(partition.records));
        return {
          ...defaultProduceResponsePartitionProduceResponse(),
          index: partition.index,
          baseOffset,
          logStartOffset: 0n,
        };
      }),
    }));
    return request.acks === 0 ? NO_RESPONSE : response;
  }

  private findCoordinator(request: FindCoordinatorRequest): FindCoordinatorResponse {
    const response = defaultFindCoordinatorResponse();
    const self = { nodeId: NODE_ID, host: '127.0.0.1', port: this.port, errorCode: 0 };
    Object.assign(response, self, { errorMessage: null });
    response.coordinators = request.coordinatorKeys.map((key) => ({ key, ...self, errorMessage: null }));
    return response;
  }

  private initProducerId(_request: InitProducerIdRequest): InitProducerIdResponse {
    return { ...defaultInitProducerIdResponse(), producerId: this.nextProducerId++, producerEpoch: 0 };
  }

  private createTopics(request: CreateTopicsRequest): CreateTopicsResponse {
    const response = defaultCreateTopicsResponse();
    response.topics = request.topics.map((topic) => ({
      ...defaultCreateTopicsResponseCreatableTopicResult(),
      name: topic.name,
      topicId: this.topicId(topic.name),
      errorMessage: null,
      numPartitions: topic.numPartitions === -1 ? this.partitions : topic.numPartitions,
      replicationFactor: topic.replicationFactor === -1 ? 1 : topic.replicationFactor,
    }));
    return response;
  }
}

/** Splits a frame into header and body and decodes both, recording what went wrong if anything. */
function decodeFrame(connection: number, frame: Buffer): CapturedRequest {
  const apiKey = frame.length >= 2 ? frame.readInt16BE(0) : -1;
  const api = API_BY_KEY.get(apiKey);
  const request: CapturedRequest = {
    connection,
    apiKey,
    apiName: api?.name ?? `Unknown(${apiKey})`,
    apiVersion: frame.length >= 4 ? frame.readInt16BE(2) : -1,
    correlationId: frame.length >= 8 ? frame.readInt32BE(4) : -1,
    clientId: null,
    frame,
    bodyOffset: 0,
    header: { requestApiKey: apiKey, requestApiVersion: -1, correlationId: -1, clientId: null },
    body: undefined,
    trailingBytes: 0,
    response: null,
  };
  const reader = new Reader(frame);
  try {
    request.header = readRequestHeader(reader);
    request.clientId = request.header.clientId;
    request.bodyOffset = reader.offset;
    if (api === undefined) throw new Error(`Unknown API key ${apiKey}`);
    request.body = api.request.read(reader, request.apiVersion);
    request.trailingBytes = reader.remaining;
  } catch (err) {
    request.decodeError = err as Error;
  }
  return request;
}

/** Records in a `records` field: the declared counts of magic-2 batches, one per older message. */
function countRecords(records: Buffer | null): bigint {
  if (records === null) return 0n;
  let count = 0n;
  for (let offset = 0; offset < records.length; ) {
    const size = batchSizeAt(records, offset);
    if (size === null) break;
    const magic = records.length > offset + 16 ? records[offset + 16] : undefined;
    count += magic === 2 ? BigInt(readBatchHeader(records, offset).lastOffsetDelta + 1) : 1n;
    offset += size;
  }
  return count;
}
