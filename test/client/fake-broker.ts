import { createServer, type Server, type Socket } from 'node:net';
import { API_BY_KEY } from '../../src/protocol/generated/api-codecs.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { readRequestHeader, writeResponseHeader } from '../../src/protocol/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';

export interface FakeRequest {
  apiKey: number;
  version: number;
  correlationId: number;
  // biome-ignore lint/suspicious/noExplicitAny: bodies of every API
  body: any;
}

/**
 * What a handler returns: a response body, null for no response (acks=0), `'close'` to
 * close the connection, or `'hang'` to never answer.
 */
// biome-ignore lint/suspicious/noExplicitAny: bodies of every API
export type FakeReply = any | null | 'close' | 'hang';
export type FakeHandler = (request: FakeRequest, broker: FakeBroker) => FakeReply | Promise<FakeReply>;

/**
 * A scriptable Kafka broker for client tests: it decodes requests with our codecs and lets
 * each test answer them, so errors a real broker rarely shows (NOT_LEADER, out-of-order
 * sequences, coordinator moves, version fallbacks) can be played exactly.
 */
export class FakeBroker {
  readonly requests: FakeRequest[] = [];
  readonly handlers = new Map<number, FakeHandler>();
  /** Advertised in ApiVersions: every API with a handler, at these versions. */
  readonly versions = new Map<number, { min: number; max: number }>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;
  readonly host = '127.0.0.1';
  nodeId = 1;

  private constructor() {
    this.#server = createServer((socket) => this.#serve(socket));
  }

  static async start(): Promise<FakeBroker> {
    const broker = new FakeBroker();
    await new Promise<void>((resolve) => broker.#server.listen(0, '127.0.0.1', resolve));
    broker.port = (broker.#server.address() as { port: number }).port;
    broker.versions.set(ApiKey.ApiVersions, { min: 0, max: 3 });
    return broker;
  }

  get bootstrap(): string {
    return `${this.host}:${this.port}`;
  }

  /** Serves an API at the given versions with the handler. */
  on(apiKey: number, versions: { min: number; max: number }, handler: FakeHandler): this {
    this.versions.set(apiKey, versions);
    this.handlers.set(apiKey, handler);
    return this;
  }

  count(apiKey: number): number {
    return this.requests.filter((r) => r.apiKey === apiKey).length;
  }

  /** Drops every open connection (the server keeps listening). */
  dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4 && buffer.length >= 4 + buffer.readInt32BE(0)) {
        const frame = buffer.subarray(4, 4 + buffer.readInt32BE(0));
        buffer = buffer.subarray(4 + frame.length);
        // Answers leave in request order, as Kafka's do.
        queue = queue
          .then(() => this.#answer(socket, frame))
          .catch(() => {
            socket.destroy();
          });
      }
    });
  }

  async #answer(socket: Socket, frame: Buffer): Promise<void> {
    const r = new Reader(frame);
    const header = readRequestHeader(r);
    const api = API_BY_KEY.get(header.requestApiKey)!;
    const version = header.requestApiVersion;
    if (header.requestApiKey === ApiKey.ApiVersions && !this.handlers.has(ApiKey.ApiVersions)) {
      const range = this.versions.get(ApiKey.ApiVersions)!;
      const supported = version <= range.max;
      this.requests.push({ apiKey: 18, version, correlationId: header.correlationId, body: null });
      const body = {
        errorCode: supported ? 0 : 35,
        apiKeys: (supported ? [...this.versions] : [[18, range] as const]).map(([apiKey, v]) => ({
          apiKey,
          minVersion: v.min,
          maxVersion: v.max,
        })),
        throttleTimeMs: 0,
        supportedFeatures: [],
        finalizedFeaturesEpoch: -1n,
        finalizedFeatures: [],
        zkMigrationReady: false,
      };
      this.#write(socket, api.response, body, header.requestApiKey, supported ? version : 0, header.correlationId);
      return;
    }
    const body = api.request.read(r, version);
    const request: FakeRequest = { apiKey: header.requestApiKey, version, correlationId: header.correlationId, body };
    this.requests.push(request);
    const handler = this.handlers.get(header.requestApiKey);
    if (handler === undefined) {
      socket.destroy();
      return;
    }
    const reply = await handler(request, this);
    if (reply === null) return;
    if (reply === 'close') {
      socket.destroy();
      return;
    }
    if (reply === 'hang') return;
    this.#write(socket, api.response, reply, header.requestApiKey, version, header.correlationId);
  }

  // biome-ignore lint/suspicious/noExplicitAny: bodies of every API
  #write(socket: Socket, codec: any, body: unknown, apiKey: number, version: number, correlationId: number): void {
    const w = new Writer();
    w.int32(0);
    writeResponseHeader(w, { correlationId }, apiKey, version);
    codec.write(w, body, version);
    const out = Buffer.from(w.toBuffer());
    out.writeInt32BE(out.length - 4, 0);
    socket.write(out);
  }

  /** A Metadata response naming this broker as leader of every partition of the given topics. */
  metadata(topics: Record<string, number>, leader = this.nodeId) {
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: this.nodeId, host: this.host, port: this.port, rack: null }],
      clusterId: 'fake',
      controllerId: this.nodeId,
      topics: Object.entries(topics).map(([name, count]) => ({
        errorCode: 0,
        name,
        topicId: Buffer.alloc(16, name.length).toString('base64url'),
        isInternal: false,
        partitions: Array.from({ length: count }, (_, p) => ({
          errorCode: 0,
          partitionIndex: p,
          leaderId: leader,
          leaderEpoch: 0,
          replicaNodes: [this.nodeId],
          isrNodes: [this.nodeId],
          offlineReplicas: [],
        })),
        topicAuthorizedOperations: -2147483648,
      })),
      clusterAuthorizedOperations: -2147483648,
    };
  }
}

/** A Produce response giving every partition of the request `errorCode` (offset 100 when none). */
export function produceReply(r: FakeRequest, errorCode: number) {
  return {
    throttleTimeMs: 0,
    nodeEndpoints: [],
    responses: r.body.topicData.map((t: { name: string; partitionData: Array<{ index: number }> }) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => ({
        index: p.index,
        errorCode,
        baseOffset: errorCode === 0 ? 100n : -1n,
        logAppendTimeMs: -1n,
        logStartOffset: 0n,
        recordErrors: [],
        errorMessage: null,
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
      })),
    })),
  };
}
