/**
 * Real clients against a real broker started in this process: kafkajs 2.2.4 and
 * @platformatic/kafka producers, kcat (librdkafka 2.0) as producer and group-less
 * consumer, @platformatic/kafka's group-less fetch. Records must come back exactly as
 * they were sent: keys, values, headers and timestamps, for CreateTime and LogAppendTime
 * topics, every codec, and reads that start at an offset or a time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { CompressionCodec, readBatchHeader } from '../../src/protocol/records/index.ts';
import { createTopic, fetchRaw, kcatTest } from '../broker/data-path/helpers.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { runKcat } from './wire-checks.ts';

const { CompressionTypes, Kafka, logLevel } = kafkajs;
const T = { timeout: 60_000 };

/** One record as kcat -J prints it. */
interface KcatRecord {
  offset: number;
  tstype: string;
  ts: number;
  headers?: string[];
  key: string | null;
  payload: string | null;
}

async function kcatConsume(bootstrap: string, topic: string, offset = 'beginning'): Promise<KcatRecord[]> {
  const args = ['-C', '-b', bootstrap, '-t', topic, '-p', '0', '-o', offset, '-e', '-J', '-q'];
  const result = await runKcat(args, '', 30_000);
  assert.ok(!result.timedOut && result.code === 0, `kcat -C failed (${result.code}): ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as KcatRecord);
}

async function kcatProduce(bootstrap: string, topic: string, input: string, extra: string[] = []): Promise<void> {
  const args = ['-P', '-b', bootstrap, '-t', topic, '-p', '0', '-K:', ...extra];
  const result = await runKcat(args, input, 30_000);
  assert.ok(!result.timedOut && result.code === 0, `kcat -P failed (${result.code}): ${result.stderr}`);
}

describe('real clients against the broker', () => {
  let broker: StartedBroker;
  let raw: RawClient;

  before(async () => {
    broker = await startBroker();
    raw = await RawClient.connect(broker.port);
  });
  after(async () => {
    raw.close();
    await broker.close();
  });

  const kafkajsProducer = () =>
    new Kafka({ clientId: 'broker-interop', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer({
      allowAutoTopicCreation: true,
    });

  /** Codec of every stored batch of partition 0, read with a raw fetch. */
  const storedCodecs = async (topic: string): Promise<number[]> => {
    const records = (await fetchRaw(raw, [{ topic }])).responses[0]!.partitions[0]!.records!;
    const codecs: number[] = [];
    for (let pos = 0; pos < records.length; ) {
      const header = readBatchHeader(records, pos);
      codecs.push(header.compression);
      pos += header.sizeInBytes;
    }
    return codecs;
  };

  kcatTest('kafkajs produces (acks=all, plain and gzip); kcat reads the same records back', T, async () => {
    const producer = kafkajsProducer();
    await producer.connect();
    const topic = 'kafkajs-to-kcat';
    const first = await producer.send({
      topic,
      acks: -1,
      messages: [
        { partition: 0, key: 'k1', value: 'v1', headers: { h: 'x' }, timestamp: '1700000000000' },
        { partition: 0, key: null, value: 'v2', timestamp: '1700000000005' },
      ],
    });
    const second = await producer.send({
      topic,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: [
        { partition: 0, key: 'k3', value: 'v3'.repeat(40), headers: { a: '1', b: '2' }, timestamp: '1700000001000' },
      ],
    });
    await producer.disconnect();
    assert.deepEqual(
      [...first, ...second].map((r) => [r.errorCode, r.baseOffset]),
      [
        [0, '0'],
        [0, '2'],
      ],
    );
    const records = await kcatConsume(broker.bootstrap, topic);
    assert.deepEqual(
      records.map((r) => [r.offset, r.tstype, r.ts, r.key, r.payload, r.headers ?? []]),
      [
        [0, 'create', 1700000000000, 'k1', 'v1', ['h', 'x']],
        [1, 'create', 1700000000005, null, 'v2', []],
        [2, 'create', 1700000001000, 'k3', 'v3'.repeat(40), ['a', '1', 'b', '2']],
      ],
    );
    assert.deepEqual(await storedCodecs(topic), [CompressionCodec.None, CompressionCodec.Gzip]);
  });

  kcatTest('kcat produces with every codec, keys and headers; kcat reads them back', T, async () => {
    // librdkafka 2.0 uses lz4 only when FindCoordinator v0 is advertised (the group APIs).
    const findCoordinator = broker.broker.services.router
      .apiVersions()
      .find((a) => a.apiKey === ApiKey.FindCoordinator);
    const lz4Enabled = findCoordinator !== undefined && findCoordinator.minVersion === 0;
    const codecs = [
      ['none', CompressionCodec.None],
      ['gzip', CompressionCodec.Gzip],
      ['snappy', CompressionCodec.Snappy],
      ['lz4', lz4Enabled ? CompressionCodec.Lz4 : CompressionCodec.None],
      ['zstd', CompressionCodec.Zstd],
    ] as const;
    for (const [name, expected] of codecs) {
      const topic = `kcat-${name}`;
      // Long repetitive values: librdkafka sends a batch uncompressed when compressing does not shrink it.
      const lines = Array.from({ length: 5 }, (_, i) => ({
        key: `key-${i}`,
        value: `${name} ${'tributary '.repeat(20)}#${i}`,
      }));
      const beforeMs = Date.now();
      await kcatProduce(broker.bootstrap, topic, lines.map((l) => `${l.key}:${l.value}\n`).join(''), [
        '-z',
        name,
        '-H',
        'h1=one',
        '-H',
        'h2=two',
      ]);
      const afterMs = Date.now();
      const records = await kcatConsume(broker.bootstrap, topic);
      assert.deepEqual(
        records.map((r) => [r.offset, r.key, r.payload, r.headers]),
        lines.map((l, i) => [i, l.key, l.value, ['h1', 'one', 'h2', 'two']]),
        name,
      );
      for (const r of records) {
        assert.equal(r.tstype, 'create');
        assert.ok(r.ts >= beforeMs - 5 && r.ts <= afterMs + 5, `timestamp ${r.ts} outside the produce window`);
      }
      const stored = await storedCodecs(topic);
      assert.ok(stored.length > 0 && stored.every((c) => c === expected), `${name}: stored codecs ${stored}`);
    }
  });

  kcatTest('LogAppendTime topics: readers see the broker time', T, async () => {
    const topic = 'log-append-time';
    await createTopic(broker, topic, { configs: { 'message.timestamp.type': 'LogAppendTime' } });
    const producer = kafkajsProducer();
    await producer.connect();
    const beforeMs = Date.now();
    await producer.send({ topic, acks: -1, messages: [{ partition: 0, key: 'k', value: 'v', timestamp: '1000' }] });
    await kcatProduce(broker.bootstrap, topic, 'k2:v2\n');
    const afterMs = Date.now();
    await producer.disconnect();
    const records = await kcatConsume(broker.bootstrap, topic);
    assert.deepEqual(
      records.map((r) => [r.key, r.payload, r.tstype]),
      [
        ['k', 'v', 'logappend'],
        ['k2', 'v2', 'logappend'],
      ],
    );
    for (const r of records) assert.ok(r.ts >= beforeMs && r.ts <= afterMs, `append time ${r.ts}`);
  });

  kcatTest('kcat starts reading at an offset (-o 3, -o -2) and at a time (-o s@ts)', T, async () => {
    const topic = 'seek';
    const producer = kafkajsProducer();
    await producer.connect();
    const base = 1_700_000_000_000;
    for (let i = 0; i < 6; i++) {
      await producer.send({
        topic,
        acks: -1,
        messages: [{ partition: 0, key: `k${i}`, value: `v${i}`, timestamp: String(base + i * 1000) }],
      });
    }
    await producer.disconnect();
    const offsets = async (arg: string) => (await kcatConsume(broker.bootstrap, topic, arg)).map((r) => r.offset);
    assert.deepEqual(await offsets('3'), [3, 4, 5]);
    assert.deepEqual(await offsets('-2'), [4, 5]);
    assert.deepEqual(await offsets(`s@${base + 2000}`), [2, 3, 4, 5]);
    assert.deepEqual(await offsets(`s@${base + 2500}`), [3, 4, 5]);
    assert.deepEqual(await offsets('end'), []);
  });

  kcatTest(
    '@platformatic/kafka produces; its group-less fetch (v16, topic ids) and kcat read the records',
    T,
    async () => {
      const topic = 'platformatic';
      const producer = new Producer({
        clientId: 'broker-interop',
        bootstrapBrokers: [broker.bootstrap],
        serializers: stringSerializers,
        autocreateTopics: true,
      });
      const sent = await producer.send({
        acks: -1,
        messages: [
          {
            topic,
            partition: 0,
            key: 'pk1',
            value: 'pv1',
            headers: new Map([['h', 'x']]),
            timestamp: 1_700_000_000_000n,
          },
          { topic, partition: 0, key: 'pk2', value: 'pv2'.repeat(30), timestamp: 1_700_000_000_007n },
        ],
      });
      await producer.close();
      assert.deepEqual(sent.offsets, [{ topic, partition: 0, offset: 0n }]);

      const consumer = new Consumer({
        clientId: 'broker-interop',
        groupId: 'unused',
        bootstrapBrokers: [broker.bootstrap],
        deserializers: stringDeserializers,
      });
      try {
        const latest = await consumer.listOffsets({ topics: [topic] });
        assert.deepEqual(latest.get(topic), [2n]);
        const metadata = await consumer.metadata({ topics: [topic] });
        const topicId = metadata.topics.get(topic)!.id;
        const response = await consumer.fetch({
          node: broker.broker.services.nodeId,
          maxWaitTime: 100,
          topics: [
            {
              topicId,
              partitions: [
                {
                  partition: 0,
                  currentLeaderEpoch: 0,
                  fetchOffset: 0n,
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: 1 << 20,
                },
              ],
            },
          ],
        });
        const partition = response.responses[0]!.partitions[0]!;
        assert.equal(partition.errorCode, 0);
        assert.equal(partition.highWatermark, 2n);
        const batches = partition.records ?? [];
        const got = batches.flatMap((batch) =>
          batch.records.map((r) => ({
            offset: batch.firstOffset + BigInt(r.offsetDelta),
            timestamp: batch.firstTimestamp + r.timestampDelta,
            key: r.key?.toString() ?? null,
            value: r.value?.toString() ?? null,
            headers: r.headers.map(([k, v]) => [k?.toString() ?? null, v?.toString() ?? null]),
          })),
        );
        assert.deepEqual(got, [
          { offset: 0n, timestamp: 1_700_000_000_000n, key: 'pk1', value: 'pv1', headers: [['h', 'x']] },
          { offset: 1n, timestamp: 1_700_000_000_007n, key: 'pk2', value: 'pv2'.repeat(30), headers: [] },
        ]);
      } finally {
        await consumer.close();
      }
      const viaKcat = await kcatConsume(broker.bootstrap, topic);
      assert.deepEqual(
        viaKcat.map((r) => [r.offset, r.ts, r.key, r.headers ?? []]),
        [
          [0, 1_700_000_000_000, 'pk1', ['h', 'x']],
          [1, 1_700_000_000_007, 'pk2', []],
        ],
      );
    },
  );

  test('a kafkajs producer sending to several partitions at once gets every record placed in order', T, async () => {
    const topic = 'kafkajs-partitions';
    await createTopic(broker, topic, { partitions: 3 });
    const producer = kafkajsProducer();
    await producer.connect();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        producer.send({ topic, acks: -1, messages: [{ partition: i % 3, value: `m${i}` }] }),
      ),
    );
    await producer.disconnect();
    for (let partition = 0; partition < 3; partition++) {
      const response = await fetchRaw(raw, [{ topic, partition }]);
      assert.equal(response.responses[0]!.partitions[0]!.highWatermark, 10n);
    }
  });
});
