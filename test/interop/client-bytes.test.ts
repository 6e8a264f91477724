/**
 * Real clients against the capture server: kafkajs 2.2.4, @platformatic/kafka 1.x and kcat
 * (librdkafka 2.0) send their own ApiVersions, Metadata and Produce requests, and we check
 * that our codecs read exactly what each client was asked to send, and write the same
 * bytes back.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import {
  ApiKey,
  type ApiVersionsRequest,
  ApiVersionsResponse,
  ConsumerProtocolSubscription,
  type CreateTopicsRequest,
  ErrorCode,
  type FindCoordinatorRequest,
  type InitProducerIdRequest,
  type JoinGroupRequest,
  type MetadataRequest,
  type ProduceRequest,
  Reader,
  readResponseHeader,
} from '../../src/protocol/index.ts';
import {
  BatchHeaderOffset,
  COMPRESSION_CODEC_MASK,
  CompressionCodec,
  TimestampType,
} from '../../src/protocol/records/index.ts';
import { type CapturedRequest, CaptureServer, type CaptureServerOptions } from '../helpers/capture-server.ts';
import {
  assertFramesRoundTrip,
  kcatInstalled,
  type PlainRecord,
  type ProducedBatch,
  producedBatches,
  runKcat,
} from './wire-checks.ts';

const { CompressionTypes, Kafka, logLevel } = kafkajs;

const TEST_TIMEOUT = 30_000;

const cleanups = new WeakMap<TestContext, Array<() => unknown>>();

/** Runs `fn` after the test, before whatever was deferred earlier: clients close before their server. */
function defer(t: TestContext, fn: () => unknown): void {
  let list = cleanups.get(t);
  if (list === undefined) {
    const own: Array<() => unknown> = [];
    t.after(async () => {
      for (const cleanup of own.reverse()) await cleanup();
    });
    cleanups.set(t, own);
    list = own;
  }
  list.push(fn);
}

async function startServer(t: TestContext, options?: CaptureServerOptions): Promise<CaptureServer> {
  const server = await CaptureServer.start(options);
  defer(t, () => server.close());
  return server;
}

function kafkajsClient(server: CaptureServer): InstanceType<typeof Kafka> {
  return new Kafka({
    clientId: 'interop-kafkajs',
    brokers: [server.address],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
}

function bodies<T>(requests: readonly CapturedRequest[], apiKey: number): T[] {
  return requests.filter((r) => r.apiKey === apiKey).map((r) => r.body as T);
}

function versionsOf(requests: readonly CapturedRequest[], apiKey: number): number[] {
  return [...new Set(requests.filter((r) => r.apiKey === apiKey).map((r) => r.apiVersion))];
}

/** The ApiVersions answer the server sent for a captured request, decoded as the client would. */
function apiVersionsAnswer(request: CapturedRequest, version: number): ApiVersionsResponse {
  assert.ok(request.response !== null, 'ApiVersions was not answered');
  const r = new Reader(request.response);
  assert.equal(readResponseHeader(r, ApiKey.ApiVersions, version).correlationId, request.correlationId);
  const body = ApiVersionsResponse.read(r, version);
  assert.equal(r.remaining, 0);
  return body;
}

/** The parts of a batch a test states: where it went, its codec and its records. */
function summary(batch: ProducedBatch): {
  topic: string;
  partition: number;
  compression: number;
  records: PlainRecord[];
} {
  return { topic: batch.topic, partition: batch.partition, compression: batch.compression, records: batch.records };
}

describe('kafkajs 2.2.4', () => {
  const TOPIC = 'interop-kafkajs';

  test('a producer’s requests decode to the keys, values, headers, partitions and timestamps it sent', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const server = await startServer(t);
    const producer = kafkajsClient(server).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    defer(t, () => producer.disconnect());

    const first = await producer.send({
      topic: TOPIC,
      acks: -1,
      messages: [
        { partition: 0, key: 'k1', value: 'v1', headers: { h: 'x', tags: ['a', 'b'] }, timestamp: '1700000000000' },
        { partition: 0, key: null, value: 'v2', timestamp: '1700000000005' },
        { partition: 1, key: 'k3', value: null, headers: { h: 'y' }, timestamp: '1700000000010' },
      ],
    });
    const second = await producer.send({
      topic: TOPIC,
      compression: CompressionTypes.GZIP,
      messages: [
        { partition: 0, key: 'k4', value: 'v4'.repeat(50), timestamp: '1700000001000' },
        { partition: 0, key: 'k5', value: 'v5'.repeat(50), headers: { h: 'z' }, timestamp: '1700000000999' },
      ],
    });

    // kafkajs read our Produce answers: offsets count on from what each partition got before.
    const offsets = (results: typeof first) => results.map((m) => [m.partition, m.errorCode, m.baseOffset]).sort();
    assert.deepEqual(offsets(first), [
      [0, 0, '0'],
      [1, 0, '0'],
    ]);
    assert.deepEqual(offsets(second), [[0, 0, '2']]);

    const { requests } = server;
    assert.deepEqual(versionsOf(requests, ApiKey.ApiVersions), [2]);
    assert.deepEqual(versionsOf(requests, ApiKey.Metadata), [6]);
    assert.deepEqual(versionsOf(requests, ApiKey.Produce), [7]);
    assert.equal(requests[0]!.apiKey, ApiKey.ApiVersions, 'ApiVersions comes first');
    assert.equal(requests[0]!.clientId, 'interop-kafkajs');
    for (const metadata of bodies<MetadataRequest>(requests, ApiKey.Metadata)) {
      assert.deepEqual(
        metadata.topics?.map((topic) => topic.name),
        [TOPIC],
      );
      assert.equal(metadata.allowAutoTopicCreation, false);
    }
    const produces = bodies<ProduceRequest>(requests, ApiKey.Produce);
    assert.deepEqual(
      produces.map((p) => [p.transactionalId, p.acks, p.timeoutMs, p.topicData.map((d) => d.name)]),
      [
        [null, -1, 30000, [TOPIC]],
        [null, -1, 30000, [TOPIC]],
      ],
    );

    const batches = await producedBatches(requests);
    assert.deepEqual(batches.map(summary), [
      {
        topic: TOPIC,
        partition: 0,
        compression: CompressionCodec.None,
        records: [
          {
            offsetDelta: 0,
            timestamp: 1700000000000n,
            key: 'k1',
            value: 'v1',
            // An array header value becomes one header per element, under the same key.
            headers: [
              ['h', 'x'],
              ['tags', 'a'],
              ['tags', 'b'],
            ],
          },
          { offsetDelta: 1, timestamp: 1700000000005n, key: null, value: 'v2', headers: [] },
        ],
      },
      {
        topic: TOPIC,
        partition: 1,
        compression: CompressionCodec.None,
        records: [{ offsetDelta: 0, timestamp: 1700000000010n, key: 'k3', value: null, headers: [['h', 'y']] }],
      },
      {
        topic: TOPIC,
        partition: 0,
        compression: CompressionCodec.Gzip,
        records: [
          { offsetDelta: 0, timestamp: 1700000001000n, key: 'k4', value: 'v4'.repeat(50), headers: [] },
          { offsetDelta: 1, timestamp: 1700000000999n, key: 'k5', value: 'v5'.repeat(50), headers: [['h', 'z']] },
        ],
      },
    ]);
    for (const { batch } of batches) {
      // Not idempotent: no producer id. kafkajs still writes epoch 0 and sequence 0, where
      // the Java client writes −1 for both; a broker must accept either.
      assert.deepEqual([batch.producerId, batch.producerEpoch, batch.baseSequence], [-1n, 0, 0]);
      assert.equal(batch.partitionLeaderEpoch, 0);
      assert.equal(batch.attributes & 0x08, TimestampType.CreateTime);
    }
    // maxTimestamp is the largest, not the last, record timestamp.
    assert.equal(batches[2]!.batch.maxTimestamp, 1700000001000n);

    assertFramesRoundTrip(requests);
  });

  test('acks=0 gets no answer, and the connection goes on with the next request', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const server = await startServer(t);
    const producer = kafkajsClient(server).producer();
    await producer.connect();
    defer(t, () => producer.disconnect());

    await producer.send({ topic: TOPIC, acks: 0, messages: [{ partition: 2, key: 'fire', value: 'forget' }] });
    await server.waitFor((requests) => requests.some((r) => r.apiKey === ApiKey.Produce));
    const [result] = await producer.send({ topic: TOPIC, acks: 1, messages: [{ partition: 2, value: 'after' }] });
    assert.equal(result?.baseOffset, '1');

    const produces = server.requestsOf(ApiKey.Produce);
    assert.deepEqual(
      produces.map((r) => [(r.body as ProduceRequest).acks, r.response === null, r.connection]),
      [
        [0, true, produces[0]!.connection],
        [1, false, produces[0]!.connection],
      ],
    );
    const batches = await producedBatches(server.requests);
    assert.deepEqual(
      batches.map((b) => [b.acks, b.partition, b.records.map((r) => r.value)]),
      [
        [0, 2, ['forget']],
        [1, 2, ['after']],
      ],
    );
    assertFramesRoundTrip(server.requests);
  });

  test('admin.createTopics sends CreateTopics v3 with the partitions, replication and configs asked for', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const server = await startServer(t);
    const admin = kafkajsClient(server).admin();
    await admin.connect();
    defer(t, () => admin.disconnect());

    const created = await admin.createTopics({
      topics: [
        {
          topic: 'interop-created',
          numPartitions: 4,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
        { topic: 'interop-defaults' },
      ],
    });
    assert.equal(created, true);

    assert.deepEqual(versionsOf(server.requests, ApiKey.CreateTopics), [3]);
    const [createTopics] = bodies<CreateTopicsRequest>(server.requests, ApiKey.CreateTopics);
    assert.deepEqual(createTopics, {
      topics: [
        {
          name: 'interop-created',
          numPartitions: 4,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: 'cleanup.policy', value: 'compact' }],
        },
        // Left out, they are -1: "the broker's default".
        { name: 'interop-defaults', numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assertFramesRoundTrip(server.requests);
  });

  test('an idempotent producer gets a producer id from InitProducerId and numbers its batches per partition', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const server = await startServer(t);
    const producer = kafkajsClient(server).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 1 },
    });
    await producer.connect();
    defer(t, () => producer.disconnect());
    await producer.send({
      topic: TOPIC,
      messages: [
        { partition: 0, value: 'a' },
        { partition: 0, value: 'b' },
      ],
    });
    await producer.send({
      topic: TOPIC,
      messages: [
        { partition: 0, value: 'c' },
        { partition: 1, value: 'd' },
      ],
    });

    assert.deepEqual(versionsOf(server.requests, ApiKey.InitProducerId), [1]);
    assert.deepEqual(bodies<InitProducerIdRequest>(server.requests, ApiKey.InitProducerId), [
      { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 },
    ]);
    // On connect the idempotent producer asks for the metadata of all topics (null).
    assert.equal(bodies<MetadataRequest>(server.requests, ApiKey.Metadata)[0]?.topics, null);
    const batches = await producedBatches(server.requests);
    assert.deepEqual(
      batches.map((b) => [b.partition, b.batch.producerId, b.batch.producerEpoch, b.batch.baseSequence, b.acks]),
      [
        [0, 1000n, 0, 0, -1],
        [0, 1000n, 0, 2, -1],
        [1, 1000n, 0, 0, -1],
      ],
    );
    assertFramesRoundTrip(server.requests);
  });

  test('a consumer’s FindCoordinator and JoinGroup carry its group and a subscription that decodes', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    // JoinGroup is advertised but not answered: the server records it and drops the
    // connection, and the consumer is told not to restart after that failure.
    const server = await startServer(t, { versions: { [ApiKey.JoinGroup]: [0, 5] } });
    const consumer = kafkajsClient(server).consumer({
      groupId: 'interop-group',
      retry: { retries: 0, restartOnFailure: async () => false },
    });
    await consumer.connect();
    defer(t, () => consumer.disconnect());
    await consumer.subscribe({ topics: ['interop-a', 'interop-b'] });
    await consumer.run({ eachMessage: async () => {} });
    await server.waitFor((requests) => requests.some((r) => r.apiKey === ApiKey.JoinGroup));
    await consumer.disconnect();

    assert.deepEqual(versionsOf(server.requests, ApiKey.FindCoordinator), [2]);
    const [findCoordinator] = bodies<FindCoordinatorRequest>(server.requests, ApiKey.FindCoordinator);
    assert.deepEqual(findCoordinator, { key: 'interop-group', keyType: 0, coordinatorKeys: [] });

    assert.deepEqual(versionsOf(server.requests, ApiKey.JoinGroup), [5]);
    const [joinGroup] = bodies<JoinGroupRequest>(server.requests, ApiKey.JoinGroup);
    assert.ok(joinGroup !== undefined);
    // The first join of a member has no member id: from v4 on a broker answers
    // MEMBER_ID_REQUIRED with one (KIP-394) and the client joins again.
    assert.deepEqual(
      [joinGroup.groupId, joinGroup.memberId, joinGroup.groupInstanceId, joinGroup.protocolType],
      ['interop-group', '', null, 'consumer'],
    );
    assert.deepEqual([joinGroup.sessionTimeoutMs, joinGroup.rebalanceTimeoutMs], [30000, 60000]);
    assert.deepEqual(
      joinGroup.protocols.map((p) => p.name),
      ['RoundRobinAssigner'],
    );
    // Protocol metadata of type "consumer" is a ConsumerProtocolSubscription behind an int16 version.
    const metadata = joinGroup.protocols[0]!.metadata;
    const version = metadata.readInt16BE(0);
    assert.equal(version, 0);
    const reader = new Reader(metadata, 2);
    const subscription = ConsumerProtocolSubscription.read(reader, version);
    assert.equal(reader.remaining, 0);
    assert.deepEqual(subscription.topics, ['interop-a', 'interop-b']);
    assert.deepEqual(subscription.userData, Buffer.alloc(0));
    assert.deepEqual(ConsumerProtocolSubscription.encode(subscription, version), metadata.subarray(2));
    assertFramesRoundTrip(server.requests);
  });

  test('ApiVersions above ours gets a v0 body with UNSUPPORTED_VERSION, and kafkajs retries lower', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const server = await startServer(t, { versions: { [ApiKey.ApiVersions]: [0, 1] } });
    const producer = kafkajsClient(server).producer();
    await producer.connect();
    defer(t, () => producer.disconnect());
    await producer.send({ topic: TOPIC, messages: [{ partition: 0, value: 'negotiated' }] });

    const [tooHigh, retry] = server.requestsOf(ApiKey.ApiVersions);
    assert.equal(tooHigh?.apiVersion, 2);
    const refusal = apiVersionsAnswer(tooHigh, 0);
    assert.equal(refusal.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.deepEqual(refusal.apiKeys, [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 1 }]);
    // kafkajs walks down its own list (2, 1, 0) rather than jumping to our maximum.
    assert.equal(retry?.apiVersion, 1);
    assert.equal(apiVersionsAnswer(retry, 1).errorCode, ErrorCode.NONE);
    assert.equal(server.requestsOf(ApiKey.Produce).length, 1);
    assertFramesRoundTrip(server.requests);
  });
});

describe('@platformatic/kafka 1.x', () => {
  const TOPIC = 'interop-platformatic';

  test('a producer’s flexible requests (ApiVersions v3, Metadata v12, Produce v9) decode and re-encode exactly', {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    const server = await startServer(t);
    const producer = new Producer({
      clientId: 'interop-platformatic',
      bootstrapBrokers: [server.address],
      serializers: stringSerializers,
      retries: 0,
    });
    defer(t, () => producer.close());

    // zstd is left out: this client compresses it with node:zlib, which Node 20 lacks.
    const codecs = [
      ['none', CompressionCodec.None],
      ['gzip', CompressionCodec.Gzip],
      ['snappy', CompressionCodec.Snappy],
      ['lz4', CompressionCodec.Lz4],
    ] as const;
    for (const [compression, codec] of codecs) {
      await producer.send({
        compression,
        acks: -1,
        messages: [
          {
            topic: TOPIC,
            partition: 1,
            key: `k-${codec}`,
            value: `${compression} `.repeat(40),
            headers: new Map([['h', 'x']]),
            timestamp: 1700000000000n + BigInt(codec),
          },
        ],
      });
    }

    const { requests } = server;
    assert.deepEqual(versionsOf(requests, ApiKey.ApiVersions), [3]);
    const software = requests[0]!.body as ApiVersionsRequest;
    assert.deepEqual(
      [software.clientSoftwareName, software.clientSoftwareVersion.split('.')[0]],
      ['platformatic-kafka', '1'],
    );
    assert.deepEqual(versionsOf(requests, ApiKey.Metadata), [12]);
    assert.deepEqual(versionsOf(requests, ApiKey.Produce), [9]);
    const batches = await producedBatches(requests);
    assert.deepEqual(
      batches.map(summary),
      codecs.map(([compression, codec]) => ({
        topic: TOPIC,
        partition: 1,
        compression: codec,
        records: [
          {
            offsetDelta: 0,
            timestamp: 1700000000000n + BigInt(codec),
            key: `k-${codec}`,
            value: `${compression} `.repeat(40),
            headers: [['h', 'x']],
          },
        ],
      })),
    );
    for (const { batch } of batches) {
      // Like kafkajs: no producer id, yet epoch 0 and sequence 0.
      assert.deepEqual([batch.producerId, batch.producerEpoch, batch.baseSequence], [-1n, 0, 0]);
    }
    assertFramesRoundTrip(requests);
  });
});

// ---------------------------------------------------------------------------- kcat

const KCAT_INSTALLED = kcatInstalled();
const ON_CI = process.env.CI === 'true';
if (!KCAT_INSTALLED && !ON_CI) {
  console.warn(
    '\n*** kcat is not installed: SKIPPING the kcat interop tests. Install Debian kcat (apt-get install kcat). ***\n',
  );
}

/** A kcat test: skipped loudly without kcat, except under CI=true, where a missing kcat fails. */
function kcatTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  if (KCAT_INSTALLED) {
    test(name, { timeout: TEST_TIMEOUT }, fn);
  } else if (ON_CI) {
    test(name, () =>
      assert.fail('kcat is not installed, and CI=true does not allow skipping: install it (.ci/run does)'),
    );
  } else {
    test(name, { skip: 'kcat is not installed' }, fn);
  }
}

describe('kcat (librdkafka 2.0)', () => {
  // Values long and repetitive enough to shrink: librdkafka sends a batch uncompressed
  // (codec bits 0) whenever compressing it would not make it smaller.
  const lines = Array.from({ length: 5 }, (_, i) => ({ key: `key-${i}`, value: `${'tributary '.repeat(20)}#${i}` }));
  const input = lines.map((l) => `${l.key}:${l.value}\n`).join('');
  const codecs = [
    ['none', CompressionCodec.None],
    ['gzip', CompressionCodec.Gzip],
    ['snappy', CompressionCodec.Snappy],
    ['lz4', CompressionCodec.Lz4],
    ['zstd', CompressionCodec.Zstd],
  ] as const;

  for (const [name, codec] of codecs) {
    kcatTest(`kcat -P -z ${name}: keys, values and headers arrive in ${name} batches that decode`, async (t) => {
      const server = await startServer(t);
      const topic = `interop-kcat-${name}`;
      const compression = name === 'none' ? [] : ['-z', name];
      const args = ['-P', '-b', server.address, '-t', topic, '-p', '0', '-K:', '-H', 'h=v'];
      const before = BigInt(Date.now());
      const result = await runKcat([...args, ...compression, '-X', 'api.version.request=true'], input);
      const after = BigInt(Date.now());
      assert.ok(!result.timedOut && result.code === 0, `kcat failed (${result.code}): ${result.stderr}`);

      const { requests } = server;
      const [apiVersions] = requests;
      assert.equal(apiVersions?.apiKey, ApiKey.ApiVersions, 'ApiVersions comes first');
      assert.equal(apiVersions.apiVersion, 3);
      const software = apiVersions.body as ApiVersionsRequest;
      assert.equal(software.clientSoftwareName, 'librdkafka');
      assert.match(software.clientSoftwareVersion, /^2\.0\./);
      assert.equal(apiVersions.clientId, 'rdkafka');
      assert.deepEqual(versionsOf(requests, ApiKey.Metadata), [4]);
      assert.deepEqual(versionsOf(requests, ApiKey.Produce), [7]);
      // Now and then librdkafka first asks for brokers only: an empty list, which means no topics.
      const asked = bodies<MetadataRequest>(requests, ApiKey.Metadata).map((m) => m.topics?.map((x) => x.name) ?? null);
      assert.ok(
        asked.every((names) => names !== null && (names.length === 0 || names.join() === topic)),
        `Metadata asks for ${JSON.stringify(asked)}`,
      );
      assert.ok(
        asked.some((names) => names?.join() === topic),
        'Metadata asks for the topic',
      );
      for (const produce of bodies<ProduceRequest>(requests, ApiKey.Produce)) {
        assert.deepEqual([produce.transactionalId, produce.acks], [null, -1]);
      }

      const batches = await producedBatches(requests);
      assert.ok(batches.length > 0, 'No batches were produced');
      for (const { topic: to, partition, compression: used, batch } of batches) {
        assert.deepEqual([to, partition, used], [topic, 0, codec]);
        // Not idempotent: librdkafka writes −1 for every producer field, like Java.
        assert.deepEqual([batch.producerId, batch.producerEpoch, batch.baseSequence], [-1n, -1, -1]);
        assert.equal(batch.attributes & 0x08, TimestampType.CreateTime);
      }
      const records = batches.flatMap((b) => b.records);
      assert.deepEqual(
        records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        lines.map((l) => ({ ...l, headers: [['h', 'v']] })),
      );
      for (const batch of batches) {
        assert.deepEqual(
          batch.records.map((r) => r.offsetDelta),
          batch.records.map((_, i) => i),
        );
      }
      for (const { timestamp } of records) {
        assert.ok(timestamp >= before && timestamp <= after, `Timestamp ${timestamp} is outside ${before}..${after}`);
      }

      assertFramesRoundTrip(requests);
    });
  }

  kcatTest('ApiVersions v3 above ours gets a v0 UNSUPPORTED_VERSION body; librdkafka 2.0 retries at v0', async (t) => {
    const server = await startServer(t, { versions: { [ApiKey.ApiVersions]: [0, 2] } });
    const args = ['-P', '-b', server.address, '-t', 'interop-kcat-negotiation', '-p', '0'];
    const result = await runKcat([...args, '-X', 'api.version.request=true'], 'negotiated\n');
    assert.ok(!result.timedOut && result.code === 0, `kcat failed (${result.code}): ${result.stderr}`);

    const [tooHigh, retry] = server.requestsOf(ApiKey.ApiVersions);
    assert.equal(tooHigh?.apiVersion, 3);
    const refusal = apiVersionsAnswer(tooHigh, 0);
    assert.equal(refusal.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.deepEqual(refusal.apiKeys, [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 2 }]);
    // librdkafka implements only ApiVersions v0 and v3, so it falls back to v0, not to our v2.
    assert.equal(retry?.apiVersion, 0);
    assert.equal(apiVersionsAnswer(retry, 0).errorCode, ErrorCode.NONE);
    const batches = await producedBatches(server.requests);
    assert.deepEqual(
      batches.flatMap((b) => b.records.map((r) => r.value)),
      ['negotiated'],
    );
    assertFramesRoundTrip(server.requests);
  });
  kcatTest(
    '-X enable.idempotence=true: InitProducerId v4 (flexible), then batches carry the producer id',
    async (t) => {
      const server = await startServer(t);
      const args = ['-P', '-b', server.address, '-t', 'interop-kcat-idempotent', '-p', '0', '-K:'];
      const result = await runKcat(
        [...args, '-X', 'enable.idempotence=true', '-X', 'api.version.request=true'],
        'a:1\nb:2\n',
      );
      assert.ok(!result.timedOut && result.code === 0, `kcat failed (${result.code}): ${result.stderr}`);

      assert.deepEqual(versionsOf(server.requests, ApiKey.InitProducerId), [4]);
      assert.deepEqual(bodies<InitProducerIdRequest>(server.requests, ApiKey.InitProducerId), [
        { transactionalId: null, transactionTimeoutMs: -1, producerId: -1n, producerEpoch: -1 },
      ]);
      const batches = await producedBatches(server.requests);
      assert.deepEqual(
        batches.map((b) => [b.batch.producerId, b.batch.producerEpoch, b.batch.baseSequence]),
        [[1000n, 0, 0]],
      );
      assert.deepEqual(
        batches[0]!.records.map((r) => [r.key, r.value]),
        [
          ['a', '1'],
          ['b', '2'],
        ],
      );
      assertFramesRoundTrip(server.requests);
    },
  );

  // Why DEFAULT_VERSIONS looks the way it does: librdkafka 2.0 keys features on specific
  // old versions being advertised, and falls back without a word when they are not.
  kcatTest(
    'librdkafka 2.0 silently drops gzip, lz4 and magic 2 when some old versions are not advertised',
    async (t) => {
      const produceWith = async (versions: CaptureServerOptions['versions'], codec: string): Promise<Buffer> => {
        const server = await startServer(t, { versions });
        const args = ['-P', '-b', server.address, '-t', 'interop-kcat-features', '-p', '0', '-K:', '-z', codec];
        const result = await runKcat(args, input);
        assert.ok(!result.timedOut && result.code === 0, `kcat failed (${result.code}): ${result.stderr}`);
        const [produce] = bodies<ProduceRequest>(server.requests, ApiKey.Produce);
        const records = produce?.topicData[0]?.partitionData[0]?.records;
        assert.ok(records, 'No records were produced');
        return records;
      };
      const magic = (records: Buffer) => records[BatchHeaderOffset.MAGIC];
      const codecOf = (records: Buffer) => records.readInt16BE(BatchHeaderOffset.ATTRIBUTES) & COMPRESSION_CODEC_MASK;

      // gzip and snappy need Produce v0 in the advertised range (KAFKA-18659).
      const noProduceV0 = await produceWith({ [ApiKey.Produce]: [3, 9] }, 'gzip');
      assert.deepEqual([magic(noProduceV0), codecOf(noProduceV0)], [2, CompressionCodec.None]);
      // lz4 needs FindCoordinator v0, which Kafka 4.0 no longer advertises.
      const noFindCoordinatorV0 = await produceWith({ [ApiKey.FindCoordinator]: [1, 4] }, 'lz4');
      assert.deepEqual([magic(noFindCoordinatorV0), codecOf(noFindCoordinatorV0)], [2, CompressionCodec.None]);
      // Record batches (magic 2) need Fetch v4 in the range, zstd Fetch v10: without Fetch,
      // librdkafka sends an uncompressed magic 0 message set even in Produce v7.
      const noFetch = await produceWith({ [ApiKey.Fetch]: null }, 'zstd');
      assert.equal(magic(noFetch), 0);
    },
  );
});
