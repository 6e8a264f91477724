// A pipelined Kafka protocol connection for load generation, built on our codecs. Requests
// are pre-encoded frames written back to back; responses come back in request order on one
// connection (the protocol guarantees it), so a FIFO of callbacks is all the matching needed.
import { Socket, type SocketConstructorOpts } from 'node:net';
import type { MessageCodec } from '../../src/protocol/codec.ts';
import { ZERO_UUID } from '../../src/protocol/codec.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/generated/messages/api-versions.ts';
import { CreateTopicsRequest, CreateTopicsResponse } from '../../src/protocol/generated/messages/create-topics.ts';
import { DeleteTopicsRequest, DeleteTopicsResponse } from '../../src/protocol/generated/messages/delete-topics.ts';
import { FetchRequest, FetchResponse } from '../../src/protocol/generated/messages/fetch.ts';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/generated/messages/metadata.ts';
import { ProduceRequest, ProduceResponse } from '../../src/protocol/generated/messages/produce.ts';
import { readResponseHeader, writeRequestHeader } from '../../src/protocol/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { Writer } from '../../src/protocol/writer.ts';

export const PRODUCE_VERSION = 9;
export const FETCH_VERSION = 12;

type Callback = (frame: Buffer | null) => void;

/** Read buffers for connections that see only small responses. */
const SMALL_BUFFER_BYTES = 256 * 1024;
/** Read buffers once a response over SMALL_BUFFER_BYTES / 4 arrives (Fetch): room for several. */
const LARGE_BUFFER_BYTES = 8 * 1024 * 1024;
/** Below this much room left, the next read goes to the other buffer. */
const MIN_READ_ROOM = 64 * 1024;

/**
 * One TCP connection with any number of requests in flight.
 *
 * A load generator must cost less than what it measures, and on a 2-core machine its
 * garbage collection alone (1 MiB Fetch responses allocated at hundreds of MiB/s) took
 * half its time. So the kernel copies responses straight into one of two reused buffers
 * (the socket's `onread` option), back to back: nothing is assembled from chunks or
 * allocated per response. A frame handed to a caller is a view that stays valid until the
 * connection has switched buffers twice, i.e. for at least a buffer's worth of later
 * responses: callers decode it when they get it, before awaiting anything else.
 */
export class KafkaConnection {
  readonly socket: Socket;
  readonly #waiting: Callback[] = [];
  #buffer = Buffer.allocUnsafe(SMALL_BUFFER_BYTES);
  #spare = Buffer.alloc(0);
  /** Unconsumed bytes are #buffer[#start, #end). */
  #start = 0;
  #end = 0;
  #closed = false;

  private constructor() {
    // Node accepts `onread` here as in connect() (its typings list it only there).
    this.socket = new Socket({
      onread: {
        // Asked before every read: where the next one lands.
        buffer: () => this.#readRoom(),
        callback: (n: number) => {
          this.#onRead(n);
          return true; // keep reading
        },
      },
    } as SocketConstructorOpts);
    this.socket.setNoDelay(true);
    this.socket.on('close', () => {
      this.#closed = true;
      for (const cb of this.#waiting.splice(0)) cb(null);
    });
    this.socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<KafkaConnection> {
    const conn = new KafkaConnection();
    return new Promise((resolve, reject) => {
      conn.socket.once('error', reject);
      conn.socket.connect({ port, host }, () => {
        conn.socket.off('error', reject);
        resolve(conn);
      });
    });
  }

  get inFlight(): number {
    return this.#waiting.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes a whole frame (size prefix included); `cb` gets the response frame, or null if the connection closed. */
  send(frame: Buffer, cb: Callback): void {
    if (this.#closed) {
      cb(null);
      return;
    }
    this.#waiting.push(cb);
    this.socket.write(frame);
  }

  request(frame: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      this.send(frame, (f) => (f === null ? reject(new Error('Connection closed before the response')) : resolve(f))),
    );
  }

  close(): void {
    this.socket.destroy();
  }

  /** The free part of the read buffer, after switching to the other buffer when it is nearly full. */
  #readRoom(): Buffer {
    const pending = this.#end - this.#start;
    const need = pending >= 4 ? 4 + this.#buffer.readInt32BE(this.#start) : 4;
    if (this.#buffer.length - this.#end < Math.max(MIN_READ_ROOM, need - pending)) {
      let size = this.#buffer.length;
      if (need > SMALL_BUFFER_BYTES / 4) size = Math.max(size, LARGE_BUFFER_BYTES, 2 * need);
      const next = this.#spare.length >= size ? this.#spare : Buffer.allocUnsafe(size);
      this.#buffer.copy(next, 0, this.#start, this.#end);
      this.#spare = this.#buffer;
      this.#buffer = next;
      this.#start = 0;
      this.#end = pending;
    }
    return this.#buffer.subarray(this.#end);
  }

  #onRead(n: number): void {
    this.#end += n;
    while (this.#end - this.#start >= 4) {
      const size = this.#buffer.readInt32BE(this.#start);
      if (this.#end - this.#start < 4 + size) break;
      const frame = this.#buffer.subarray(this.#start + 4, this.#start + 4 + size);
      this.#start += 4 + size;
      this.#waiting.shift()?.(frame);
    }
  }
}

/** Encodes a request frame with its size prefix. Correlation ids are not checked (order is). */
export function encodeRequest<T>(codec: MessageCodec<T>, version: number, body: T, correlationId = 1): Buffer {
  const w = new Writer(1024);
  w.int32(0);
  writeRequestHeader(w, { requestApiKey: codec.apiKey, requestApiVersion: version, correlationId, clientId: 'bench' });
  codec.write(w, body, version);
  const bytes = Buffer.from(w.toBuffer());
  bytes.writeInt32BE(bytes.length - 4, 0);
  return bytes;
}

export function decodeResponse<T>(codec: MessageCodec<T>, apiKey: number, version: number, frame: Buffer): T {
  const r = new Reader(frame);
  readResponseHeader(r, apiKey, version);
  return codec.read(r, version);
}

/** One Produce request carrying `batch` for each of `partitions` of `topic`. */
export function produceFrame(topic: string, partitions: number[], batch: Buffer, acks: number): Buffer {
  return encodeRequest(ProduceRequest, PRODUCE_VERSION, {
    transactionalId: null,
    acks,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: partitions.map((index) => ({ index, records: batch })) }],
  });
}

/** Throws unless every partition of a Produce response succeeded; returns the base offsets. */
export function checkProduceResponse(frame: Buffer): bigint[] {
  const res = decodeResponse(ProduceResponse, ProduceRequest.apiKey, PRODUCE_VERSION, frame);
  const offsets: bigint[] = [];
  for (const t of res.responses) {
    for (const p of t.partitionResponses) {
      if (p.errorCode !== ErrorCode.NONE) {
        throw new Error(`Produce to ${t.name}-${p.index} failed: error ${p.errorCode} ${p.errorMessage ?? ''}`);
      }
      offsets.push(p.baseOffset);
    }
  }
  return offsets;
}

export interface FetchTarget {
  topic: string;
  partition: number;
  offset: bigint;
}

export function fetchFrame(targets: FetchTarget[], partitionMaxBytes: number, maxWaitMs = 0, minBytes = 1): Buffer {
  const byTopic = new Map<string, FetchTarget[]>();
  for (const t of targets) byTopic.set(t.topic, [...(byTopic.get(t.topic) ?? []), t]);
  return encodeRequest(FetchRequest, FETCH_VERSION, {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs,
    minBytes,
    maxBytes: 64 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [...byTopic].map(([topic, ps]) => ({
      topic,
      topicId: ZERO_UUID,
      partitions: ps.map((p) => ({
        partition: p.partition,
        currentLeaderEpoch: -1,
        fetchOffset: p.offset,
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes,
        replicaDirectoryId: ZERO_UUID,
      })),
    })),
    forgottenTopicsData: [],
    rackId: '',
  });
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  highWatermark: bigint;
  records: Buffer;
}

export function decodeFetchResponse(frame: Buffer): FetchedPartition[] {
  const res = decodeResponse(FetchResponse, FetchRequest.apiKey, FETCH_VERSION, frame);
  if (res.errorCode !== ErrorCode.NONE) throw new Error(`Fetch failed: error ${res.errorCode}`);
  const out: FetchedPartition[] = [];
  for (const t of res.responses) {
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE) throw new Error(`Fetch ${t.topic}-${p.partitionIndex}: error ${p.errorCode}`);
      out.push({
        topic: t.topic,
        partition: p.partitionIndex,
        highWatermark: p.highWatermark,
        records: p.records ?? Buffer.alloc(0),
      });
    }
  }
  return out;
}

/** The whole batches in a fetched `records` field: record count, and the offset after the last one. */
export function walkBatches(
  records: Buffer,
  from: bigint,
  until: bigint,
): { records: number; bytes: number; next: bigint | null } {
  let pos = 0;
  let count = 0;
  let bytes = 0;
  let next: bigint | null = null;
  while (records.length - pos >= 61) {
    const size = records.readInt32BE(pos + 8) + 12;
    if (records.length - pos < size) break;
    const base = records.readBigInt64BE(pos);
    const last = base + BigInt(records.readInt32BE(pos + 23));
    if (last >= from && base < until) {
      // Whole batches are counted by their record count; a batch straddling a range edge
      // is counted by the part inside it (offset deltas are contiguous in these batches).
      const lo = base > from ? base : from;
      const hi = last < until ? last : until - 1n;
      count += Number(hi - lo + 1n);
      bytes += size;
    }
    next = last + 1n;
    pos += size;
  }
  return { records: count, bytes, next };
}

export async function createTopics(
  conn: KafkaConnection,
  topics: Array<{ name: string; partitions: number; configs?: Record<string, string> }>,
  timeoutMs = 600_000,
): Promise<void> {
  const frame = encodeRequest(CreateTopicsRequest, 5, {
    topics: topics.map((t) => ({
      name: t.name,
      numPartitions: t.partitions,
      replicationFactor: 1,
      assignments: [],
      configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
    })),
    timeoutMs,
    validateOnly: false,
  });
  const res = decodeResponse(CreateTopicsResponse, CreateTopicsRequest.apiKey, 5, await conn.request(frame));
  for (const t of res.topics) {
    if (t.errorCode !== ErrorCode.NONE)
      throw new Error(`CreateTopics ${t.name}: error ${t.errorCode} ${t.errorMessage}`);
  }
}

export async function deleteTopics(conn: KafkaConnection, names: string[]): Promise<void> {
  const frame = encodeRequest(DeleteTopicsRequest, 4, { topics: [], topicNames: names, timeoutMs: 60_000 });
  const res = decodeResponse(DeleteTopicsResponse, DeleteTopicsRequest.apiKey, 4, await conn.request(frame));
  for (const t of res.responses) {
    if (t.errorCode !== ErrorCode.NONE) throw new Error(`DeleteTopics ${t.name}: error ${t.errorCode}`);
  }
}

export async function apiVersions(conn: KafkaConnection): Promise<Map<number, [number, number]>> {
  const frame = encodeRequest(ApiVersionsRequest, 3, {
    clientSoftwareName: 'bench',
    clientSoftwareVersion: '0',
  });
  const res = decodeResponse(ApiVersionsResponse, ApiVersionsRequest.apiKey, 3, await conn.request(frame));
  return new Map(res.apiKeys.map((k) => [k.apiKey, [k.minVersion, k.maxVersion]]));
}

export async function metadata(conn: KafkaConnection, topics: string[]): Promise<number> {
  const frame = encodeRequest(MetadataRequest, 12, {
    topics: topics.map((name) => ({ topicId: ZERO_UUID, name })),
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const res = decodeResponse(MetadataResponse, MetadataRequest.apiKey, 12, await conn.request(frame));
  return res.topics.length;
}
