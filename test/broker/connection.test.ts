import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Connection, type FrameOutcome } from '../../src/broker/net/connection.ts';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/generated/messages/api-versions.ts';
import { MetadataRequest, MetadataResponse } from '../../src/protocol/generated/messages/metadata.ts';
import { readResponseHeader } from '../../src/protocol/headers.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { RawClient } from '../helpers/raw-client.ts';

const ApiVersions = { request: ApiVersionsRequest, response: ApiVersionsResponse };
const Metadata = { request: MetadataRequest, response: MetadataResponse };
const apiVersionsV3 = { clientSoftwareName: 'raw-test', clientSoftwareVersion: '1.0' };

describe('broker connections', () => {
  let broker: StartedBroker;
  before(async () => {
    broker = await startBroker({ config: { 'socket.request.max.bytes': 1024 * 1024 } });
  });
  after(() => broker.close());

  test('ApiVersions lists itself and Metadata with the ranges the router serves', async () => {
    const client = await RawClient.connect(broker.port);
    const { body } = await client.request(ApiVersions, 3, apiVersionsV3);
    assert.equal(body.errorCode, ErrorCode.NONE);
    const keys = new Map(body.apiKeys.map((k) => [k.apiKey, k]));
    assert.deepEqual(keys.get(ApiKey.ApiVersions), { apiKey: 18, minVersion: 0, maxVersion: 3 });
    assert.deepEqual(keys.get(ApiKey.Metadata), { apiKey: 3, minVersion: 0, maxVersion: 12 });
    client.close();
  });

  test('an ApiVersions version above ours gets a v0 body with UNSUPPORTED_VERSION and our range', async () => {
    const client = await RawClient.connect(broker.port);
    // Version 4 exists in the schema but is above what we serve; the body is v3-shaped.
    const frame = client.frame(ApiVersionsRequest, 3, apiVersionsV3, 77);
    frame.writeInt16BE(4, 6);
    client.write(frame);
    const response = await client.nextFrame();
    assert.ok(response);
    const r = new Reader(response);
    assert.equal(readResponseHeader(r, ApiKey.ApiVersions, 0).correlationId, 77);
    const body = ApiVersionsResponse.read(r, 0);
    assert.equal(body.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.deepEqual(body.apiKeys, [{ apiKey: 18, minVersion: 0, maxVersion: 3 }]);
    // The connection stays usable for the retry.
    assert.equal((await client.request(ApiVersions, 3, apiVersionsV3)).body.errorCode, ErrorCode.NONE);
    client.close();
  });

  test('pipelined requests are answered in request order', async () => {
    const client = await RawClient.connect(broker.port);
    const frames: Buffer[] = [];
    for (let i = 1; i <= 50; i++) {
      frames.push(
        i % 2 === 0
          ? client.frame(ApiVersionsRequest, 3, apiVersionsV3, i)
          : client.frame(
              MetadataRequest,
              12,
              {
                topics: [],
                allowAutoTopicCreation: false,
                includeClusterAuthorizedOperations: false,
                includeTopicAuthorizedOperations: false,
              },
              i,
            ),
      );
    }
    client.write(Buffer.concat(frames));
    for (let i = 1; i <= 50; i++) {
      const frame = await client.nextFrame();
      assert.ok(frame);
      assert.equal(frame.readInt32BE(0), i);
    }
    client.close();
  });

  test('a frame dribbled in one byte at a time is read whole', async () => {
    const client = await RawClient.connect(broker.port);
    const frame = client.frame(ApiVersionsRequest, 2, apiVersionsV3, 5);
    for (const byte of frame) {
      client.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const response = await client.nextFrame();
    assert.ok(response);
    assert.equal(response.readInt32BE(0), 5);
    client.close();
  });

  test('a length prefix over socket.request.max.bytes closes that connection only', async () => {
    const bad = await RawClient.connect(broker.port);
    const good = await RawClient.connect(broker.port);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(64 * 1024 * 1024);
    bad.write(prefix);
    await bad.waitClosed();
    assert.equal((await good.request(ApiVersions, 3, apiVersionsV3)).body.errorCode, ErrorCode.NONE);
    good.close();
  });

  test('a negative length prefix, garbage header or unknown API key closes the connection', async () => {
    const frames = [
      Buffer.from('ffffffff', 'hex'),
      Buffer.from('0000000300ff00', 'hex'), // header cut short
      Buffer.from('0000000a7fff000000000001ffff', 'hex'), // API key 32767
    ];
    for (const frame of frames) {
      const client = await RawClient.connect(broker.port);
      client.write(frame);
      await client.waitClosed();
    }
    const good = await RawClient.connect(broker.port);
    assert.equal((await good.request(ApiVersions, 3, apiVersionsV3)).body.errorCode, ErrorCode.NONE);
    good.close();
  });

  test('a body that lies about its lengths closes the connection', async () => {
    const client = await RawClient.connect(broker.port);
    const frame = client.frame(MetadataRequest, 4, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'abc' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    // The topics array count sits right after the header: say a million topics.
    const headerEnd = 4 + 2 + 2 + 4 + 2 + 'raw-test'.length;
    frame.writeInt32BE(1_000_000, headerEnd);
    client.write(frame);
    await client.waitClosed();
  });
});

describe('Metadata', () => {
  let broker: StartedBroker;
  before(async () => {
    broker = await startBroker();
  });
  after(() => broker.close());

  const request = (topics: { name: string | null; topicId?: string }[] | null, allowAutoTopicCreation = true) => ({
    topics: topics?.map((t) => ({ topicId: t.topicId ?? 'AAAAAAAAAAAAAAAAAAAAAA', name: t.name })) ?? null,
    allowAutoTopicCreation,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });

  test('auto-creates a topic a client asks for, with a topic id, leader and ISR', async () => {
    const client = await RawClient.connect(broker.port);
    const { body } = await client.request(Metadata, 12, request([{ name: 'orders' }]));
    assert.equal(body.clusterId?.length, 22);
    assert.equal(body.controllerId, 1);
    assert.deepEqual(body.brokers, [{ nodeId: 1, host: '127.0.0.1', port: broker.port, rack: null }]);
    const [topic] = body.topics;
    assert.equal(topic?.errorCode, ErrorCode.NONE);
    assert.equal(topic?.name, 'orders');
    assert.notEqual(topic?.topicId, 'AAAAAAAAAAAAAAAAAAAAAA');
    assert.deepEqual(
      topic?.partitions.map((p) => [p.partitionIndex, p.leaderId, p.isrNodes]),
      [[0, 1, [1]]],
    );
    assert.equal(topic?.topicAuthorizedOperations, -2147483648);
    // Looked up by id (v10+), the same topic comes back.
    const byId = await client.request(Metadata, 12, request([{ name: null, topicId: topic!.topicId }]));
    assert.equal(byId.body.topics[0]?.name, 'orders');
    client.close();
  });

  test('null asks for every topic, an empty list for none (v1+), and an empty list means all in v0', async () => {
    const client = await RawClient.connect(broker.port);
    await client.request(Metadata, 12, request([{ name: 'a-topic' }]));
    const all = await client.request(Metadata, 12, request(null));
    assert.ok(all.body.topics.some((t) => t.name === 'a-topic'));
    assert.deepEqual((await client.request(Metadata, 12, request([]))).body.topics, []);
    const v0 = await client.request(Metadata, 0, request([]));
    assert.ok(v0.body.topics.some((t) => t.name === 'a-topic'));
    client.close();
  });

  test('unknown topics without auto-create, bad names and unknown ids get their error codes', async () => {
    const client = await RawClient.connect(broker.port);
    const { body } = await client.request(
      Metadata,
      12,
      request(
        [{ name: 'not-created' }, { name: 'bad name!' }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' }],
        false,
      ),
    );
    assert.deepEqual(
      body.topics.map((t) => t.errorCode),
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.UNKNOWN_TOPIC_ID],
    );
    client.close();
  });

  test('authorized operations are reported when asked for', async () => {
    const client = await RawClient.connect(broker.port);
    const { body } = await client.request(Metadata, 10, {
      ...request([{ name: 'ops' }]),
      includeClusterAuthorizedOperations: true,
      includeTopicAuthorizedOperations: true,
    });
    assert.ok((body.topics[0]!.topicAuthorizedOperations & (1 << 3)) !== 0, 'READ');
    assert.ok((body.clusterAuthorizedOperations & (1 << 8)) !== 0, 'DESCRIBE');
    client.close();
  });
});

test('startBroker removes its temp dir on close and idle connections are closed', async () => {
  const broker = await startBroker({ config: { 'connections.max.idle.ms': 200 } });
  const client = await RawClient.connect(broker.port);
  await client.request(ApiVersions, 3, apiVersionsV3);
  await client.waitClosed(3_000);
  await broker.close();
  assert.equal(existsSync(broker.dataDir), false);
});

describe('connection limits', () => {
  test('max.connections.per.ip refuses connections beyond the limit and frees slots on close', async (t) => {
    const broker = await startBroker({ config: { 'max.connections.per.ip': 2 } });
    t.after(() => broker.close());
    const a = await RawClient.connect(broker.port);
    const b = await RawClient.connect(broker.port);
    await a.request(ApiVersions, 3, apiVersionsV3);
    await b.request(ApiVersions, 3, apiVersionsV3);
    const refused = await RawClient.connect(broker.port);
    await refused.waitClosed();
    a.close();
    await a.waitClosed();
    // The server notices the close asynchronously; retry briefly until the slot is free.
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      const c = await RawClient.connect(broker.port);
      try {
        ok = (await c.request(ApiVersions, 3, apiVersionsV3)).body.errorCode === 0;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
      c.close();
    }
    assert.ok(ok);
    b.close();
  });

  test('a request dribbled in slower than request.timeout.ms is cut off', async (t) => {
    const broker = await startBroker({ config: { 'request.timeout.ms': 300 } });
    t.after(() => broker.close());
    const client = await RawClient.connect(broker.port);
    const frame = client.frame(ApiVersionsRequest, 3, apiVersionsV3);
    client.write(frame.subarray(0, 10));
    const started = Date.now();
    await client.waitClosed(3_000);
    assert.ok(Date.now() - started >= 250);
  });

  test('with a small in-flight budget, many pipelined requests are all answered in order', async (t) => {
    const broker = await startBroker({ config: { 'socket.max.in.flight.bytes': 256 } });
    t.after(() => broker.close());
    const client = await RawClient.connect(broker.port);
    const frames = Array.from({ length: 300 }, (_, i) => client.frame(ApiVersionsRequest, 3, apiVersionsV3, i + 1));
    client.write(Buffer.concat(frames));
    for (let i = 1; i <= 300; i++) assert.equal((await client.nextFrame())?.readInt32BE(0), i);
    client.close();
  });
});

test('responses that finish together go out in one socket write', async () => {
  // Eight requests wait on one gate, as produce requests wait on one group commit.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let arrived = 0;
  let allArrived!: () => void;
  const everyRequest = new Promise<void>((resolve) => {
    allArrived = resolve;
  });
  let writes = 0;
  const connections: Connection[] = [];
  const server = createServer((socket) => {
    // Counted below Node's stream: one call per write system call it makes (cork → one _writev).
    const s = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    for (const name of ['_write', '_writev'] as const) {
      const original = s[name].bind(socket);
      s[name] = (...args: unknown[]) => {
        writes++;
        return original(...args);
      };
    }
    const limits = { maxRequestSize: 1024, maxInFlightBytes: 1024 * 1024, idleTimeoutMs: 0, requestTimeoutMs: 0 };
    const handle = async (frame: Buffer): Promise<FrameOutcome> => {
      if (++arrived === 8) allArrived();
      await gate;
      const response = Buffer.alloc(8);
      response.writeInt32BE(4, 0);
      response.writeInt32BE(frame.readInt32BE(0), 4);
      return { response };
    };
    connections.push(new Connection(socket, limits, handle, () => {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
  try {
    await once(client, 'connect');
    for (let i = 0; i < 8; i++) {
      const frame = Buffer.alloc(8);
      frame.writeInt32BE(4, 0);
      frame.writeInt32BE(i, 4);
      client.write(frame);
    }
    await everyRequest;
    const received: Buffer[] = [];
    let length = 0;
    const done = new Promise<void>((resolve) => {
      client.on('data', (chunk: Buffer) => {
        received.push(chunk);
        length += chunk.length;
        if (length === 64) resolve();
      });
    });
    open();
    await done;
    const all = Buffer.concat(received);
    assert.deepEqual(
      Array.from({ length: 8 }, (_, i) => all.readInt32BE(i * 8 + 4)),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(writes, 1);
  } finally {
    client.destroy();
    for (const c of connections) c.close(null);
    await new Promise((resolve) => server.close(resolve));
  }
});
