import { connect, type Socket } from 'node:net';
import { DecodeError } from '../protocol/errors.ts';
import { ErrorCode } from '../protocol/generated/error-codes.ts';
import {
  ApiVersionsRequest,
  ApiVersionsResponse,
  type ApiVersionsResponse as ApiVersionsResponseMessage,
} from '../protocol/generated/messages/api-versions.ts';
import { readResponseHeader, writeRequestHeader } from '../protocol/headers.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';
import { type ClientApi, defineApi } from './api.ts';
import { ConnectionError, KafkaError, RequestTimeoutError } from './errors.ts';

export const ApiVersionsApi = defineApi(ApiVersionsRequest, ApiVersionsResponse, { min: 0, max: 4 });

export const CLIENT_SOFTWARE_NAME = 'tributary-client';
export const CLIENT_SOFTWARE_VERSION = '0.1.0';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId?: string;
  /** Broker id, for messages; −1 for bootstrap connections. */
  nodeId?: number;
  connectTimeoutMs?: number;
  /** Default time a request waits for its response before the connection is closed. */
  requestTimeoutMs?: number;
}

export interface SendOptions {
  /** Use this version instead of the highest both sides support. */
  version?: number;
  timeoutMs?: number;
  /** Produce with acks=0: the broker sends nothing back; resolves once written. */
  expectResponse?: boolean;
}

export interface VersionRange {
  min: number;
  max: number;
}

interface Pending {
  correlationId: number;
  apiKey: number;
  version: number;
  name: string;
  decode: (reader: Reader) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

const MAX_CORRELATION_ID = 0x7fffffff;

/**
 * One TCP connection to one broker. Requests are pipelined: each is written at once and
 * responses, which Kafka sends in request order, are matched to the oldest pending request
 * by correlation id. A request that times out closes the connection (its response may still
 * come and nothing else can be trusted to line up), failing the others with ConnectionError.
 */
export class Connection {
  readonly host: string;
  readonly port: number;
  readonly nodeId: number;
  readonly #socket: Socket;
  readonly #clientId: string;
  readonly #requestTimeoutMs: number;
  readonly #pending: Pending[] = [];
  readonly #closeListeners: Array<(err: Error | null) => void> = [];
  #chunks: Buffer[] = [];
  #buffered = 0;
  #correlationId = 0;
  #closed = false;
  #closeError: Error | null = null;
  #versions = new Map<number, VersionRange>();

  private constructor(socket: Socket, options: ConnectionOptions) {
    this.host = options.host;
    this.port = options.port;
    this.nodeId = options.nodeId ?? -1;
    this.#socket = socket;
    this.#clientId = options.clientId ?? 'tributary';
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(new ConnectionError(`Connection to ${this.label} failed`, err)));
    socket.on('close', () => this.#fail(new ConnectionError(`Connection to ${this.label} closed`)));
  }

  /** Opens a connection and negotiates API versions with ApiVersions. */
  static async connect(options: ConnectionOptions): Promise<Connection> {
    let version = ApiVersionsApi.maxVersion;
    for (;;) {
      const socket = await openSocket(options);
      const connection = new Connection(socket, options);
      try {
        await connection.#negotiate(version);
        return connection;
      } catch (err) {
        connection.close();
        // Brokers older than KIP-511 close the connection on an ApiVersions version they do
        // not know instead of answering with error 35; v0 is the one every broker knows.
        if (err instanceof ConnectionError && version > 0 && connection.#pending.length === 0) {
          version = 0;
          continue;
        }
        throw err;
      }
    }
  }

  get label(): string {
    return this.nodeId >= 0 ? `broker ${this.nodeId} (${this.host}:${this.port})` : `${this.host}:${this.port}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.#pending.length;
  }

  /** The versions the broker advertised for an API, or undefined when it does not serve it. */
  brokerVersions(apiKey: number): VersionRange | undefined {
    return this.#versions.get(apiKey);
  }

  supports(api: ClientApi<unknown, unknown>, minVersion = api.minVersion): boolean {
    const broker = this.#versions.get(api.key);
    return broker !== undefined && Math.min(broker.max, api.maxVersion) >= Math.max(broker.min, minVersion);
  }

  /** The highest version of an API both sides support; throws UNSUPPORTED_VERSION when none. */
  versionFor<Req, Res>(api: ClientApi<Req, Res>): number {
    const broker = this.#versions.get(api.key);
    if (broker === undefined) {
      throw new KafkaError(`Cannot send ${api.name}: ${this.label} does not serve it`, {
        code: 'UNSUPPORTED_VERSION',
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
      });
    }
    const version = Math.min(broker.max, api.maxVersion);
    if (version < Math.max(broker.min, api.minVersion)) {
      throw new KafkaError(
        `Cannot send ${api.name}: ${this.label} serves versions ${broker.min}-${broker.max}, the client ${api.minVersion}-${api.maxVersion}`,
        { code: 'UNSUPPORTED_VERSION', errorCode: ErrorCode.UNSUPPORTED_VERSION },
      );
    }
    return version;
  }

  /** Sends a request and resolves with its decoded response (undefined with expectResponse false). */
  send<Req, Res>(api: ClientApi<Req, Res>, body: Req, options: SendOptions = {}): Promise<Res> {
    const version = options.version ?? this.versionFor(api);
    return this.#request(api, body, version, options) as Promise<Res>;
  }

  onClose(listener: (err: Error | null) => void): void {
    if (this.#closed) listener(this.#closeError);
    else this.#closeListeners.push(listener);
  }

  close(): void {
    this.#fail(null);
  }

  async #negotiate(version: number): Promise<void> {
    const tried = new Set<number>();
    for (;;) {
      tried.add(version);
      const response = (await this.#request(
        ApiVersionsApi,
        { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION },
        version,
        {},
        decodeApiVersions,
      )) as ApiVersionsResponseMessage;
      if (response.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
        const theirs = response.apiKeys.find((k) => k.apiKey === ApiVersionsApi.key);
        const next = Math.min(theirs?.maxVersion ?? 0, ApiVersionsApi.maxVersion);
        if (tried.has(next))
          throw KafkaError.fromCode(response.errorCode, `Cannot negotiate versions with ${this.label}`);
        version = next;
        continue;
      }
      if (response.errorCode !== ErrorCode.NONE) {
        throw KafkaError.fromCode(response.errorCode, `Cannot negotiate versions with ${this.label}`);
      }
      this.#versions = new Map(response.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
      return;
    }
  }

  #request(
    api: ClientApi<unknown, unknown>,
    body: unknown,
    version: number,
    options: SendOptions,
    decode?: (reader: Reader, version: number) => unknown,
  ): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(
        new ConnectionError(`Cannot send ${api.name} to ${this.label}: the connection is closed`, this.#closeError),
      );
    }
    this.#correlationId = this.#correlationId >= MAX_CORRELATION_ID ? 1 : this.#correlationId + 1;
    const correlationId = this.#correlationId;
    const w = new Writer(256);
    try {
      w.int32(0);
      writeRequestHeader(w, {
        requestApiKey: api.key,
        requestApiVersion: version,
        correlationId,
        clientId: this.#clientId,
      });
      api.request.write(w, body, version);
    } catch (err) {
      return Promise.reject(err);
    }
    const frame = w.toBuffer();
    frame.writeInt32BE(frame.length - 4, 0);
    if (options.expectResponse === false) {
      return new Promise((resolve, reject) => {
        this.#socket.write(frame, (err) => {
          if (err) reject(new ConnectionError(`Cannot send ${api.name} to ${this.label}`, err));
          else resolve(undefined);
        });
      });
    }
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
      const pending: Pending = {
        correlationId,
        apiKey: api.key,
        version,
        name: api.name,
        decode: decode ? (r) => decode(r, version) : (r) => api.response.read(r, version),
        resolve,
        reject,
        timer: null,
      };
      pending.timer = setTimeout(() => {
        pending.timer = null;
        const err = new RequestTimeoutError(`${api.name} to ${this.label} got no response within ${timeoutMs} ms`);
        this.#remove(pending);
        reject(err);
        this.#fail(new ConnectionError(`Connection to ${this.label} closed after a request timed out`, err));
      }, timeoutMs);
      this.#pending.push(pending);
      this.#socket.write(frame);
    });
  }

  #remove(pending: Pending): void {
    const i = this.#pending.indexOf(pending);
    if (i >= 0) this.#pending.splice(i, 1);
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered >= 4) {
      const head = this.#chunks[0]!.length >= 4 ? this.#chunks[0]! : this.#take(4, false);
      const size = head.readInt32BE(0);
      if (size < 0) {
        this.#fail(new ConnectionError(`${this.label} sent a frame of negative size ${size}`));
        return;
      }
      if (this.#buffered < 4 + size) return;
      const frame = this.#take(4 + size, true).subarray(4);
      this.#onFrame(frame);
      if (this.#closed) return;
    }
  }

  /** The first n buffered bytes as one buffer; consumed when `consume` is set. */
  #take(n: number, consume: boolean): Buffer {
    let joined: Buffer;
    const first = this.#chunks[0]!;
    if (first.length >= n) joined = first.subarray(0, n);
    else {
      joined = Buffer.allocUnsafe(n);
      let at = 0;
      for (const c of this.#chunks) {
        const part = Math.min(c.length, n - at);
        c.copy(joined, at, 0, part);
        at += part;
        if (at === n) break;
      }
    }
    if (consume) {
      let left = n;
      while (left > 0) {
        const c = this.#chunks[0]!;
        if (c.length <= left) {
          this.#chunks.shift();
          left -= c.length;
        } else {
          this.#chunks[0] = c.subarray(left);
          left = 0;
        }
      }
      this.#buffered -= n;
    }
    return joined;
  }

  #onFrame(frame: Buffer): void {
    const pending = this.#pending.shift();
    if (pending === undefined) {
      this.#fail(new ConnectionError(`${this.label} sent a response to no request`));
      return;
    }
    if (pending.timer) clearTimeout(pending.timer);
    const reader = new Reader(frame);
    try {
      const header = readResponseHeader(reader, pending.apiKey, pending.version);
      if (header.correlationId !== pending.correlationId) {
        const err = new ConnectionError(
          `${this.label} answered correlation id ${header.correlationId} where ${pending.correlationId} was next`,
        );
        pending.reject(err);
        this.#fail(err);
        return;
      }
      pending.resolve(pending.decode(reader));
    } catch (err) {
      const wrapped =
        err instanceof DecodeError
          ? new KafkaError(`Cannot decode the ${pending.name} v${pending.version} response of ${this.label}`, {
              code: 'INVALID_RESPONSE',
              cause: err,
            })
          : (err as Error);
      pending.reject(wrapped);
    }
  }

  #fail(err: Error | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = err;
    this.#socket.destroy();
    const reason = err ?? new ConnectionError(`Connection to ${this.label} was closed by the client`);
    for (const p of this.#pending.splice(0)) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(reason);
    }
    for (const listener of this.#closeListeners.splice(0)) listener(err);
  }
}

/**
 * ApiVersions answers an unsupported version with a v0 body (KIP-511), so the error code,
 * the first field of every version, decides which layout to read.
 */
function decodeApiVersions(reader: Reader, version: number): ApiVersionsResponseMessage {
  const errorCode = reader.buffer.readInt16BE(reader.offset);
  if (errorCode === ErrorCode.UNSUPPORTED_VERSION && version > 0) {
    try {
      return ApiVersionsResponse.read(new Reader(reader.buffer, reader.offset, reader.end), 0);
    } catch {
      // fall through to the requested version
    }
  }
  return ApiVersionsResponse.read(reader, version);
}

function openSocket(options: ConnectionOptions): Promise<Socket> {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const label = `${options.host}:${options.port}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: options.host, port: options.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectionError(`Cannot connect to ${label}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectionError(`Cannot connect to ${label}: ${err.message}`, err));
    });
  });
}
