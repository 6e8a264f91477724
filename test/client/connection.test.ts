import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Cluster, MetadataApi } from '../../src/client/cluster.ts';
import { ApiVersionsApi, Connection } from '../../src/client/connection.ts';
import { ConnectionError, type KafkaError, RequestTimeoutError } from '../../src/client/errors.ts';
import { ProduceApi } from '../../src/client/producer/producer.ts';
import { ZERO_UUID } from '../../src/protocol/codec.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { FakeBroker } from './fake-broker.ts';
import { startTestBroker, type TestBroker, uniqueName } from './helpers.ts';

const metadataRequest = (topics: string[] | null) => ({
  topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
});

describe('connection against our broker', { timeout: 300_000 }, () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker();
  });
  after(() => broker.close());

  test('negotiates the highest version both sides support for each API', async () => {
    const connection = await Connection.connect({ host: broker.host, port: broker.port });
    try {
      const theirs = connection.brokerVersions(ApiKey.Metadata)!;
      assert.ok(theirs);
      assert.equal(connection.versionFor(MetadataApi), Math.min(theirs.max, MetadataApi.maxVersion));
      // Our ApiVersions v4 is above the broker's; it answered error 35 and we retried lower.
      assert.ok(connection.brokerVersions(ApiKey.ApiVersions)!.max <= ApiVersionsApi.maxVersion);
      const response = await connection.send(MetadataApi, metadataRequest([]));
      assert.equal(response.brokers.length, 1);
    } finally {
      connection.close();
    }
  });

  test('pipelines many requests on one connection and matches each response', async () => {
    const connection = await Connection.connect({ host: broker.host, port: broker.port });
    try {
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => connection.send(MetadataApi, metadataRequest(i % 2 ? null : []))),
      );
      assert.equal(responses.length, 200);
      for (const r of responses) assert.equal(r.brokers[0]!.port, broker.port);
      assert.equal(connection.inFlight, 0);
    } finally {
      connection.close();
    }
  });

  test('a cluster reconnects after the broker restarts on the same port', async () => {
    const first = await startTestBroker();
    const port = first.port;
    const cluster = new Cluster({ bootstrap: first.bootstrap, reconnectBackoffMs: 10, retryBackoffMs: 10 });
    try {
      await cluster.connect();
      await first.close();
      const second = await startTestBroker({ port });
      try {
        const response = await cluster.retry('metadata', () => cluster.fetchMetadata([]), { timeoutMs: 10_000 });
        assert.equal(response.brokers[0]!.port, port);
      } finally {
        await second.close();
      }
    } finally {
      await cluster.close();
    }
  });

  test('bootstrap skips brokers that refuse connections', async () => {
    const cluster = new Cluster({ bootstrap: `127.0.0.1:1,${broker.bootstrap}` });
    try {
      for (let i = 0; i < 3; i++) await cluster.fetchMetadata([]);
      assert.equal(cluster.metadata.brokers.size, 1);
    } finally {
      await cluster.close();
    }
  });

  test('unknown topics come back as missing, not as an error of the whole request', async () => {
    const cluster = new Cluster({ bootstrap: broker.bootstrap });
    try {
      await cluster.fetchMetadata([uniqueName('absent')], { allowAutoTopicCreation: false });
      assert.equal(cluster.metadata.topics.size, 0);
    } finally {
      await cluster.close();
    }
  });
});

describe('connection against a scripted broker', { timeout: 300_000 }, () => {
  test('an ApiVersions answer of UNSUPPORTED_VERSION with a v0 body makes the client retry at the version offered', async () => {
    const fake = await FakeBroker.start();
    fake.versions.set(ApiKey.ApiVersions, { min: 0, max: 2 });
    fake.versions.set(ApiKey.Metadata, { min: 0, max: 9 });
    try {
      const connection = await Connection.connect({ host: fake.host, port: fake.port });
      const versions = fake.requests.filter((r) => r.apiKey === ApiKey.ApiVersions).map((r) => r.version);
      assert.deepEqual(versions, [ApiVersionsApi.maxVersion, 2]);
      assert.equal(connection.versionFor(MetadataApi), 9);
      connection.close();
    } finally {
      await fake.close();
    }
  });

  test('an API the broker does not serve fails with UNSUPPORTED_VERSION, without sending', async () => {
    const fake = await FakeBroker.start();
    fake.versions.set(ApiKey.Produce, { min: 0, max: 2 });
    try {
      const connection = await Connection.connect({ host: fake.host, port: fake.port });
      assert.throws(
        () => connection.versionFor(ProduceApi),
        (e: KafkaError) => e.code === 'UNSUPPORTED_VERSION' && /serves versions 0-2/.test(e.message),
      );
      assert.throws(() => connection.versionFor(MetadataApi), /does not serve it/);
      connection.close();
    } finally {
      await fake.close();
    }
  });

  test('a request without a response times out, closes the connection and fails the others', async () => {
    const fake = await FakeBroker.start();
    fake.on(ApiKey.Metadata, { min: 0, max: 12 }, () => 'hang');
    try {
      const connection = await Connection.connect({ host: fake.host, port: fake.port, requestTimeoutMs: 100 });
      const first = connection.send(MetadataApi, metadataRequest([]));
      const second = connection.send(MetadataApi, metadataRequest([]), { timeoutMs: 5_000 });
      await assert.rejects(first, (e: KafkaError) => e instanceof RequestTimeoutError && e.retriable);
      await assert.rejects(second, (e: KafkaError) => e instanceof ConnectionError && e.retriable);
      assert.equal(connection.closed, true);
    } finally {
      await fake.close();
    }
  });

  test('reconnects back off exponentially while a broker is down', async () => {
    const fake = await FakeBroker.start();
    fake.on(ApiKey.Metadata, { min: 0, max: 12 }, (_r, b) => b.metadata({}));
    const cluster = new Cluster({ bootstrap: fake.bootstrap, reconnectBackoffMs: 40, reconnectBackoffMaxMs: 400 });
    try {
      await cluster.connect();
      const port = fake.port;
      await fake.close();
      const started = Date.now();
      const attempts: number[] = [];
      for (let i = 0; i < 4; i++) {
        await cluster.connection(1).catch(() => attempts.push(Date.now() - started));
      }
      assert.equal(attempts.length, 4);
      // Delays of about 40, 80, 160 ms (±20%) between attempts after the first failure.
      assert.ok(attempts[3]! >= (40 + 80 + 160) * 0.8, `attempts at ${attempts.join(', ')} ms (port ${port})`);
    } finally {
      await cluster.close();
    }
  });
});
