/**
 * Produce over the raw protocol against a real broker: acks, per-partition validation and
 * error codes, LogAppendTime, legacy message sets (v0–v2), ordering of pipelined requests,
 * and storage failures.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Broker } from '../../../src/broker/broker.ts';
import { BrokerConfig } from '../../../src/broker/config.ts';
import { silentLogger } from '../../../src/broker/logger.ts';
import { type StartedBroker, startBroker } from '../../../src/broker/start-broker.ts';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.ts';
import { MetadataRequest, MetadataResponse } from '../../../src/protocol/generated/messages/metadata.ts';
import {
  BatchHeaderOffset,
  batchCrcValid,
  COMPRESSION_CODEC_MASK,
  CompressionCodec,
  encodeCompressedMessageSet,
  encodeMessageSet,
  readBatchHeader,
  TIMESTAMP_TYPE_MASK,
  updateBatchCrc,
} from '../../../src/protocol/records/index.ts';
import { FaultyFs } from '../../../src/storage/faulty-fs.ts';
import { nodeFs } from '../../../src/storage/fs.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import {
  batchOf,
  createTopic,
  fetchRaw,
  Produce,
  plainRecords,
  produceOk,
  produceRaw,
  readPartition,
} from './helpers.ts';

const Metadata = { request: MetadataRequest, response: MetadataResponse };
const T = { timeout: 30_000 };

describe('Produce', () => {
  let broker: StartedBroker;
  let client: RawClient;
  before(async () => {
    broker = await startBroker();
    await createTopic(broker, 'plain', { partitions: 2 });
    client = await RawClient.connect(broker.port);
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  test('acks=all appends, answers with offsets, and the records read back unchanged', T, async () => {
    const ts = 1_700_000_000_000n;
    const first = await batchOf(
      [
        { key: 'k1', value: 'hello', headers: [{ key: 'h', value: 'x' }], timestamp: ts },
        { key: null, value: 'world', timestamp: ts + 5n },
      ],
      {},
    );
    const r1 = await produceRaw(client, 'plain', 0, first, { version: 9 });
    assert.deepEqual(
      [r1.errorCode, r1.baseOffset, r1.logAppendTimeMs, r1.logStartOffset, r1.recordErrors, r1.errorMessage],
      [ErrorCode.NONE, 0n, -1n, 0n, [], null],
    );
    const r2 = await produceRaw(client, 'plain', 0, await batchOf([{ value: 'third', timestamp: ts + 9n }]));
    assert.equal(r2.baseOffset, 2n);
    assert.deepEqual(await readPartition(client, 'plain', 0), [
      { offset: 0n, timestamp: ts, key: 'k1', value: 'hello', headers: [['h', 'x']] },
      { offset: 1n, timestamp: ts + 5n, key: null, value: 'world', headers: [] },
      { offset: 2n, timestamp: ts + 9n, key: null, value: 'third', headers: [] },
    ]);
  });

  test('acks=1 and every version 3–11 append alike', T, async () => {
    await createTopic(broker, 'versions');
    for (let version = 3; version <= 11; version++) {
      const response = await produceRaw(client, 'versions', 0, await batchOf([{ value: `v${version}` }]), {
        version,
        acks: 1,
      });
      assert.equal(response.errorCode, ErrorCode.NONE);
      assert.equal(response.baseOffset, BigInt(version - 3));
    }
    const values = (await readPartition(client, 'versions')).map((r) => r.value);
    assert.deepEqual(values, ['v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11']);
  });

  test('acks=0 gets no response; the next request on the connection is answered', T, async () => {
    await createTopic(broker, 'fire-and-forget');
    const c = await RawClient.connect(broker.port);
    const body = {
      transactionalId: null,
      acks: 0,
      timeoutMs: 1000,
      topicData: [{ name: 'fire-and-forget', partitionData: [{ index: 0, records: await batchOf([{ value: 'a' }]) }] }],
    };
    c.write(c.frame(Produce.request, 9, body, 101));
    c.write(c.frame(Produce.request, 9, body, 102));
    const metadata = {
      topics: [],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    };
    c.write(c.frame(Metadata.request, 12, metadata, 103));
    // The first frame back is the Metadata response: nothing came for the two produces.
    const frame = await c.nextFrame();
    assert.equal(frame?.readInt32BE(0), 103);
    assert.equal((await readPartition(c, 'fire-and-forget')).length, 2);
    c.close();
  });

  test('acks=0 to an unknown topic closes the connection (after earlier responses), as Kafka does', T, async () => {
    const c = await RawClient.connect(broker.port);
    const body = (topic: string, acks: number) => ({
      transactionalId: null,
      acks,
      timeoutMs: 1000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records: Buffer.alloc(0) }] }],
    });
    c.write(c.frame(Produce.request, 9, body('no-such-topic', 1), 1));
    c.write(c.frame(Produce.request, 9, body('no-such-topic', 0), 2));
    const first = await c.nextFrame();
    assert.ok(first !== null && first.readInt32BE(0) === 1, 'the acks=1 response comes first');
    await c.waitClosed();
  });

  test('a bad CRC is CORRUPT_MESSAGE, and the connection goes on', T, async () => {
    const batch = await batchOf([{ value: 'x' }]);
    batch[batch.length - 1]! ^= 0xff;
    const response = await produceRaw(client, 'plain', 1, batch);
    assert.equal(response.errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal(response.baseOffset, -1n);
    assert.match(response.errorMessage ?? '', /CRC/);
    assert.equal((await produceRaw(client, 'plain', 1, await batchOf([{ value: 'ok' }]))).errorCode, ErrorCode.NONE);
  });

  test('truncated and garbage records are CORRUPT_MESSAGE', T, async () => {
    const batch = await batchOf([{ value: 'x' }]);
    assert.equal((await produceRaw(client, 'plain', 1, batch.subarray(0, 40))).errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal(
      (await produceRaw(client, 'plain', 1, batch.subarray(0, batch.length - 3))).errorCode,
      ErrorCode.CORRUPT_MESSAGE,
    );
    const garbage = Buffer.alloc(80, 0xab);
    assert.equal((await produceRaw(client, 'plain', 1, garbage)).errorCode, ErrorCode.CORRUPT_MESSAGE);
  });

  test('a batch over max.message.bytes is MESSAGE_TOO_LARGE', T, async () => {
    await createTopic(broker, 'small-messages', { configs: { 'max.message.bytes': '1000' } });
    const big = await batchOf([{ value: 'x'.repeat(2000) }]);
    const response = await produceRaw(client, 'small-messages', 0, big);
    assert.equal(response.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    assert.equal((await produceRaw(client, 'small-messages', 0, await batchOf([{ value: 'x' }]))).errorCode, 0);
  });

  test('two batches in one partition is INVALID_RECORD (v3+)', T, async () => {
    const two = Buffer.concat([await batchOf([{ value: 'a' }]), await batchOf([{ value: 'b' }])]);
    const response = await produceRaw(client, 'plain', 1, two);
    assert.equal(response.errorCode, ErrorCode.INVALID_RECORD);
  });

  test('client batches with a base offset, a control flag or a bad count are INVALID_RECORD', T, async () => {
    const withBase = await batchOf([{ value: 'a' }], { baseOffset: 7n });
    assert.equal((await produceRaw(client, 'plain', 1, withBase)).errorCode, ErrorCode.INVALID_RECORD);
    const control = await batchOf([{ value: 'a' }]);
    control.writeInt16BE(control.readInt16BE(BatchHeaderOffset.ATTRIBUTES) | 0x20, BatchHeaderOffset.ATTRIBUTES);
    updateBatchCrc(control);
    assert.equal((await produceRaw(client, 'plain', 1, control)).errorCode, ErrorCode.INVALID_RECORD);
    const badCount = await batchOf([{ value: 'a' }, { value: 'b' }]);
    badCount.writeInt32BE(5, BatchHeaderOffset.RECORD_COUNT);
    updateBatchCrc(badCount);
    assert.equal((await produceRaw(client, 'plain', 1, badCount)).errorCode, ErrorCode.INVALID_RECORD);
    const noRecords = await produceRaw(client, 'plain', 1, null);
    assert.equal(noRecords.errorCode, ErrorCode.INVALID_RECORD);
  });

  test('unknown topics are not created by Produce; unknown partitions are refused', T, async () => {
    const batch = await batchOf([{ value: 'a' }]);
    const unknownTopic = await produceRaw(client, 'never-created', 0, batch);
    assert.equal(unknownTopic.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(broker.broker.services.topics.get('never-created'), undefined);
    const unknownPartition = await produceRaw(client, 'plain', 2, batch);
    assert.equal(unknownPartition.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const negative = await produceRaw(client, 'plain', -1, batch);
    assert.equal(negative.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('one request, several partitions: each gets its own result', T, async () => {
    const batch = () => batchOf([{ value: 'multi' }]);
    const { body } = await client.request(Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [
        {
          name: 'plain',
          partitionData: [
            { index: 0, records: await batch() },
            { index: 7, records: await batch() },
          ],
        },
        { name: 'missing-topic', partitionData: [{ index: 0, records: await batch() }] },
      ],
    });
    assert.deepEqual(
      body.responses.map((t) => [t.name, t.partitionResponses.map((p) => [p.index, p.errorCode])]),
      [
        [
          'plain',
          [
            [0, ErrorCode.NONE],
            [7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
          ],
        ],
        ['missing-topic', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
      ],
    );
    assert.equal(body.throttleTimeMs, 0);
  });

  test('acks other than -1, 0 and 1 is INVALID_REQUIRED_ACKS', T, async () => {
    const response = await produceRaw(client, 'plain', 0, await batchOf([{ value: 'a' }]), { acks: 2 });
    assert.equal(response.errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
  });

  test('zstd needs Produce v7', T, async () => {
    await createTopic(broker, 'zstd');
    const batch = () => batchOf([{ value: 'z'.repeat(100) }], { compression: CompressionCodec.Zstd });
    assert.equal(
      (await produceRaw(client, 'zstd', 0, await batch(), { version: 6 })).errorCode,
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
    );
    assert.equal((await produceRaw(client, 'zstd', 0, await batch(), { version: 7 })).errorCode, ErrorCode.NONE);
  });

  test('LogAppendTime topics: the broker stamps its clock into the batch and answers with it', T, async () => {
    await createTopic(broker, 'append-time', { configs: { 'message.timestamp.type': 'LogAppendTime' } });
    const beforeMs = BigInt(Date.now());
    const response = await produceRaw(
      client,
      'append-time',
      0,
      await batchOf([
        { value: 'a', timestamp: 5n },
        { value: 'b', timestamp: 6n },
      ]),
      { version: 2 + 7 },
    );
    const afterMs = BigInt(Date.now());
    assert.equal(response.errorCode, ErrorCode.NONE);
    assert.ok(response.logAppendTimeMs >= beforeMs && response.logAppendTimeMs <= afterMs);
    const fetched = await fetchRaw(client, [{ topic: 'append-time' }]);
    const records = fetched.responses[0]!.partitions[0]!.records!;
    const header = readBatchHeader(records);
    assert.equal(header.attributes & TIMESTAMP_TYPE_MASK, TIMESTAMP_TYPE_MASK);
    assert.equal(header.maxTimestamp, response.logAppendTimeMs);
    assert.ok(batchCrcValid(records), 'the rewritten batch has a valid CRC');
    assert.deepEqual(
      (await plainRecords(records)).map((r) => r.timestamp),
      [response.logAppendTimeMs, response.logAppendTimeMs],
    );
  });

  test(
    'CreateTime outside message.timestamp.before/after.max.ms is INVALID_TIMESTAMP, with record errors',
    T,
    async () => {
      await createTopic(broker, 'recent-only', {
        configs: { 'message.timestamp.before.max.ms': '3600000', 'message.timestamp.after.max.ms': '3600000' },
      });
      const now = BigInt(Date.now());
      const batch = await batchOf(
        [
          { value: 'ok', timestamp: now },
          { value: 'old', timestamp: now - 7_200_000n },
          { value: 'future', timestamp: now + 7_200_000n },
        ],
        { compression: CompressionCodec.Lz4 },
      );
      const response = await produceRaw(client, 'recent-only', 0, batch, { version: 8 });
      assert.equal(response.errorCode, ErrorCode.INVALID_TIMESTAMP);
      assert.deepEqual(
        response.recordErrors.map((e) => e.batchIndex),
        [1, 2],
      );
      assert.ok(response.errorMessage);
      assert.equal(
        (await produceRaw(client, 'recent-only', 0, await batchOf([{ value: 'ok', timestamp: now }]))).errorCode,
        ErrorCode.NONE,
      );
    },
  );

  test('compacted topics refuse records without a key (INVALID_RECORD)', T, async () => {
    await createTopic(broker, 'compacted', { configs: { 'cleanup.policy': 'compact' } });
    const response = await produceRaw(
      client,
      'compacted',
      0,
      await batchOf([{ key: 'k', value: 'a' }, { value: 'no key' }], { compression: CompressionCodec.Zstd }),
    );
    assert.equal(response.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(
      response.recordErrors.map((e) => e.batchIndex),
      [1],
    );
    assert.equal(
      (await produceRaw(client, 'compacted', 0, await batchOf([{ key: 'k', value: 'a' }]))).errorCode,
      ErrorCode.NONE,
    );
  });

  test('compression.type other than producer: the broker recompresses', T, async () => {
    await createTopic(broker, 'gzipped', { configs: { 'compression.type': 'gzip' } });
    await produceOk(client, 'gzipped', 0, await batchOf([{ key: 'k', value: 'v'.repeat(50) }]));
    const records = (await fetchRaw(client, [{ topic: 'gzipped' }])).responses[0]!.partitions[0]!.records!;
    assert.equal(readBatchHeader(records).attributes & COMPRESSION_CODEC_MASK, CompressionCodec.Gzip);
    assert.deepEqual(
      (await plainRecords(records)).map((r) => [r.key, r.value]),
      [['k', 'v'.repeat(50)]],
    );
  });

  test(
    'acks=all with min.insync.replicas above the one replica is NOT_ENOUGH_REPLICAS; acks=1 is fine',
    T,
    async () => {
      await createTopic(broker, 'needs-two', { configs: { 'min.insync.replicas': '2' } });
      const batch = () => batchOf([{ value: 'a' }]);
      assert.equal(
        (await produceRaw(client, 'needs-two', 0, await batch(), { acks: -1 })).errorCode,
        ErrorCode.NOT_ENOUGH_REPLICAS,
      );
      assert.equal((await produceRaw(client, 'needs-two', 0, await batch(), { acks: 1 })).errorCode, ErrorCode.NONE);
    },
  );

  test('clients cannot write to internal topics', T, async () => {
    await broker.broker.services.topics.create({ name: '__transaction_state', numPartitions: 1, replicationFactor: 1 });
    const response = await produceRaw(client, '__transaction_state', 0, await batchOf([{ value: 'a' }]));
    assert.equal(response.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  });

  test('v0–v2 magic 0/1 message sets (plain and compressed) are converted to magic-2 batches', T, async () => {
    await createTopic(broker, 'legacy');
    const v0 = await produceRaw(
      client,
      'legacy',
      0,
      encodeMessageSet([
        { magic: 0, key: Buffer.from('k0'), value: Buffer.from('m0') },
        { magic: 0, key: null, value: Buffer.from('m0b') },
      ]),
      { version: 0 },
    );
    assert.deepEqual([v0.errorCode, v0.baseOffset], [ErrorCode.NONE, 0n]);
    const v1 = await produceRaw(
      client,
      'legacy',
      0,
      encodeCompressedMessageSet({
        magic: 1,
        codec: CompressionCodec.Gzip,
        timestamp: 1_600_000_000_010n,
        messages: [
          { key: Buffer.from('k1'), value: Buffer.from('m1'), timestamp: 1_600_000_000_000n },
          { key: Buffer.from('k2'), value: Buffer.from('m2'), timestamp: 1_600_000_000_010n },
        ],
      }),
      { version: 1 },
    );
    assert.deepEqual([v1.errorCode, v1.baseOffset], [ErrorCode.NONE, 2n]);
    const v2 = await produceRaw(
      client,
      'legacy',
      0,
      encodeCompressedMessageSet({
        magic: 0,
        codec: CompressionCodec.Snappy,
        messages: [{ key: null, value: Buffer.from('snappy-0') }],
      }),
      { version: 2 },
    );
    assert.deepEqual([v2.errorCode, v2.baseOffset, v2.logAppendTimeMs], [ErrorCode.NONE, 4n, -1n]);
    const corrupt = encodeMessageSet([{ magic: 1, value: Buffer.from('x'), timestamp: 1n }]);
    corrupt[corrupt.length - 1]! ^= 1;
    assert.equal((await produceRaw(client, 'legacy', 0, corrupt, { version: 2 })).errorCode, ErrorCode.CORRUPT_MESSAGE);

    const fetched = await fetchRaw(client, [{ topic: 'legacy' }]);
    const records = fetched.responses[0]!.partitions[0]!.records!;
    // Stored as magic-2 batches with the producer's codec.
    assert.equal(records[BatchHeaderOffset.MAGIC], 2);
    assert.deepEqual(
      (await plainRecords(records)).map((r) => [r.offset, r.timestamp, r.key, r.value]),
      [
        [0n, -1n, 'k0', 'm0'],
        [1n, -1n, null, 'm0b'],
        [2n, 1_600_000_000_000n, 'k1', 'm1'],
        [3n, 1_600_000_000_010n, 'k2', 'm2'],
        [4n, -1n, null, 'snappy-0'],
      ],
    );
    const secondBatch = readBatchHeader(records, readBatchHeader(records).sizeInBytes);
    assert.equal(secondBatch.compression, CompressionCodec.Gzip);
  });

  test('v3+ refuses magic 0/1 message sets (INVALID_RECORD)', T, async () => {
    const set = encodeMessageSet([{ magic: 1, value: Buffer.from('x'), timestamp: 1n }]);
    assert.equal((await produceRaw(client, 'plain', 0, set, { version: 3 })).errorCode, ErrorCode.INVALID_RECORD);
  });

  test('pipelined requests on one connection are appended in request order', T, async () => {
    // "checked" decodes every batch (timestamp bounds), which takes an await per append;
    // the order must hold there as well as on the synchronous path.
    await createTopic(broker, 'ordered');
    await createTopic(broker, 'ordered-checked', { configs: { 'message.timestamp.after.max.ms': '3600000' } });
    const codecs = [CompressionCodec.None, CompressionCodec.Zstd, CompressionCodec.Gzip, CompressionCodec.Lz4];
    for (const topic of ['ordered', 'ordered-checked']) {
      const c = await RawClient.connect(broker.port);
      const frames: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        const records = await batchOf([{ value: `m${i}` }], { compression: codecs[i % codecs.length] });
        const body = {
          transactionalId: null,
          acks: -1,
          timeoutMs: 1000,
          topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
        };
        frames.push(c.frame(Produce.request, 9, body, i + 1));
      }
      c.write(Buffer.concat(frames));
      for (let i = 0; i < 40; i++) assert.ok(await c.nextFrame());
      const values = (await readPartition(c, topic)).map((r) => r.value);
      assert.deepEqual(
        values,
        Array.from({ length: 40 }, (_, i) => `m${i}`),
      );
      c.close();
    }
  });
});

describe('Produce on a failing disk', () => {
  test('a failed write or fsync is KAFKA_STORAGE_ERROR and nothing unacknowledged is acknowledged', T, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tributary-produce-faults-'));
    const fs = new FaultyFs(nodeFs);
    const broker = await Broker.start({
      config: new BrokerConfig({ listeners: 'PLAINTEXT://127.0.0.1:0', 'log.dirs': dataDir }),
      logger: silentLogger(),
      fs,
    });
    t.after(async () => {
      await broker.close().catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    });
    await broker.services.topics.create({ name: 'disk', numPartitions: 1, replicationFactor: 1 });
    const client = await RawClient.connect(broker.address.port);
    t.after(() => client.close());
    assert.equal(await produceOk(client, 'disk', 0, await batchOf([{ value: 'first' }])), 0n);

    fs.inject({ op: 'write', path: /\.log$/, errno: 'ENOSPC' });
    const full = await produceRaw(client, 'disk', 0, await batchOf([{ value: 'lost' }]));
    assert.equal(full.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    // The write was rolled back; the log stays online once space is back.
    assert.equal(await produceOk(client, 'disk', 0, await batchOf([{ value: 'second' }])), 1n);

    fs.inject({ op: 'datasync', path: /\.log$/, errno: 'EIO' });
    const failedSync = await produceRaw(client, 'disk', 0, await batchOf([{ value: 'unsynced' }]));
    assert.equal(failedSync.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
    // After a failed fsync the directory is offline until a restart.
    const later = await produceRaw(client, 'disk', 0, await batchOf([{ value: 'later' }]));
    assert.equal(later.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  });
});
