/**
 * kafkajs 2.2.4's admin client against a real broker: it picks CreateTopics v3,
 * DeleteTopics v1, CreatePartitions v1, DeleteRecords v1, DescribeConfigs v2 and
 * AlterConfigs v1 (pre-flexible versions), and describes the cluster through Metadata.
 * Config changes take effect on the logs, and topics and configs survive a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { createRecordBatch, encodeRecordBatchSync } from '../../src/protocol/records/index.ts';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;
const TIMEOUT = { timeout: 30_000 };
const DAY_MS = 86_400_000;

function client(broker: StartedBroker) {
  return new Kafka({
    clientId: 'admin-kafkajs',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 0 },
  });
}

/** kafkajs reports per-topic failures as an aggregate; the error types, sorted. */
async function errorTypes(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    const e = err as { errors?: Array<{ type?: string }>; type?: string };
    return (e.errors?.map((x) => x.type ?? '?') ?? [e.type ?? String(err)]).sort();
  }
  assert.fail('expected the call to fail');
}

/** Appends one-record batches straight to a partition's log (the data path is not under test here). */
async function appendRecords(
  broker: StartedBroker,
  topic: string,
  partition: number,
  count: number,
  timestamp?: number,
) {
  const log = broker.broker.services.logs.getLog(topic, partition);
  assert.ok(log, `log ${topic}-${partition}`);
  for (let i = 0; i < count; i++) {
    const batch = createRecordBatch([{ key: `k${i}`, value: `value-${i}`.padEnd(100, '.') }], {
      timestamp: timestamp === undefined ? undefined : BigInt(timestamp),
    });
    await log.appendAsLeader(encodeRecordBatchSync(batch));
  }
  return log;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('kafkajs admin', TIMEOUT, () => {
  let broker: StartedBroker;
  let admin: ReturnType<InstanceType<typeof Kafka>['admin']>;
  before(async () => {
    broker = await startBroker({
      // kafkajs asks Metadata with auto-creation on; off here so validateOnly is visibly a no-op.
      config: { 'auto.create.topics.enable': false, 'log.retention.check.interval.ms': 100 },
    });
    admin = client(broker).admin();
    await admin.connect();
  });
  after(async () => {
    await admin.disconnect();
    await broker.close();
  });

  test('createTopics with configs, validateOnly and manual assignments; fetchTopicMetadata', async () => {
    assert.equal(
      await admin.createTopics({
        topics: [
          { topic: 'kj-orders', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
          {
            topic: 'kj-manual',
            replicaAssignment: [
              { partition: 0, replicas: [1] },
              { partition: 1, replicas: [1] },
            ],
          },
        ],
      }),
      true,
    );
    // Existing topics: kafkajs answers false rather than failing.
    assert.equal(await admin.createTopics({ topics: [{ topic: 'kj-orders' }] }), false);
    assert.equal(
      await admin.createTopics({
        topics: [{ topic: 'kj-dry-run', numPartitions: 2 }],
        validateOnly: true,
        waitForLeaders: false,
      }),
      true,
    );
    assert.ok(!(await admin.listTopics()).includes('kj-dry-run'));

    const { topics } = await admin.fetchTopicMetadata({ topics: ['kj-orders', 'kj-manual'] });
    const partitions = Object.fromEntries(
      topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionId, p.leader, p.replicas])]),
    );
    assert.deepEqual(partitions['kj-orders']?.sort(), [
      [0, 1, [1]],
      [1, 1, [1]],
      [2, 1, [1]],
    ]);
    assert.equal(partitions['kj-manual']?.length, 2);
  });

  test('createTopics errors: bad name, partitions, replication factor, config, assignment', async () => {
    assert.deepEqual(await errorTypes(admin.createTopics({ topics: [{ topic: 'bad name!' }] })), [
      'INVALID_TOPIC_EXCEPTION',
    ]);
    assert.deepEqual(await errorTypes(admin.createTopics({ topics: [{ topic: 'kj-zero', numPartitions: 0 }] })), [
      'INVALID_PARTITIONS',
    ]);
    assert.deepEqual(await errorTypes(admin.createTopics({ topics: [{ topic: 'kj-rf', replicationFactor: 3 }] })), [
      'INVALID_REPLICATION_FACTOR',
    ]);
    assert.deepEqual(
      await errorTypes(
        admin.createTopics({
          topics: [{ topic: 'kj-cfg', configEntries: [{ name: 'retention.ms', value: 'forever' }] }],
        }),
      ),
      ['INVALID_CONFIG'],
    );
    assert.deepEqual(
      await errorTypes(
        admin.createTopics({ topics: [{ topic: 'kj-ra', replicaAssignment: [{ partition: 0, replicas: [7] }] }] }),
      ),
      ['INVALID_REPLICA_ASSIGNMENT'],
    );
    const names = await admin.listTopics();
    for (const name of ['kj-zero', 'kj-rf', 'kj-cfg', 'kj-ra']) assert.ok(!names.includes(name), name);
  });

  test('createPartitions grows a topic and refuses to shrink it', async () => {
    await admin.createTopics({ topics: [{ topic: 'kj-grow', numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'kj-grow', count: 4 }] });
    const { topics } = await admin.fetchTopicMetadata({ topics: ['kj-grow'] });
    assert.equal(topics[0]?.partitions.length, 4);
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'kj-grow', count: 2 }] }), {
      type: 'INVALID_PARTITIONS',
    });
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'kj-nope', count: 2 }] }), {
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
  });

  test('describeConfigs of a topic and of the broker, with synonyms', async () => {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: 'kj-orders' },
        { type: ConfigResourceTypes.BROKER, name: '1', configNames: ['num.partitions', 'log.retention.hours'] },
      ],
    });
    const [topicResult, brokerResult] = resources;
    assert.equal(topicResult?.errorCode, 0);
    const entries = new Map(topicResult!.configEntries.map((e) => [e.configName, e]));
    assert.equal(entries.get('retention.ms')?.configValue, '3600000');
    assert.equal(entries.get('retention.ms')?.isDefault, false);
    assert.equal((entries.get('retention.ms') as unknown as { configSource: number }).configSource, 1);
    assert.equal(entries.get('cleanup.policy')?.configValue, 'delete');
    assert.equal(entries.get('cleanup.policy')?.isDefault, true);
    assert.deepEqual(
      entries.get('max.message.bytes')?.configSynonyms.map((s) => [s.configName, s.configValue]),
      [['message.max.bytes', '1048588']],
    );
    assert.equal(brokerResult?.errorCode, 0);
    assert.deepEqual(
      brokerResult?.configEntries.map((e) => [e.configName, e.configValue, e.readOnly]),
      [
        ['log.retention.hours', '168', true],
        ['num.partitions', '1', true],
      ],
    );
    await assert.rejects(
      admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kj-nope' }],
      }),
      { type: 'UNKNOWN_TOPIC_OR_PARTITION' },
    );
  });

  test('alterConfigs replaces the overrides and they reach the logs; bad values are refused', async () => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'kj-orders',
          configEntries: [
            { name: 'retention.ms', value: '7200000' },
            { name: 'cleanup.policy', value: 'compact,delete' },
          ],
        },
      ],
    });
    const log = broker.broker.services.logs.getLog('kj-orders', 2)!;
    assert.equal(log.config['retention.ms'], 7_200_000);
    assert.deepEqual(log.config['cleanup.policy'], ['compact', 'delete']);
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: 'kj-orders',
            configEntries: [{ name: 'segment.bytes', value: '-5' }],
          },
        ],
      }),
      { type: 'INVALID_CONFIG' },
    );
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          { type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'num.partitions', value: '3' }] },
        ],
      }),
      { type: 'INVALID_REQUEST' },
    );
    assert.equal(log.config['retention.ms'], 7_200_000);
  });

  test('a lower retention.ms deletes old segments on the next retention pass', async () => {
    await admin.createTopics({
      topics: [{ topic: 'kj-retention', configEntries: [{ name: 'segment.bytes', value: '400' }] }],
    });
    const log = await appendRecords(broker, 'kj-retention', 0, 12, Date.now() - 3 * DAY_MS);
    const segments = log.numberOfSegments;
    assert.ok(segments >= 3, `${segments} segments`);
    await broker.broker.services.logs.runRetention();
    assert.equal(log.numberOfSegments, segments, 'nothing is older than the default 7 days');

    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'kj-retention',
          configEntries: [
            { name: 'segment.bytes', value: '400' },
            { name: 'retention.ms', value: String(DAY_MS) },
          ],
        },
      ],
    });
    // log.retention.check.interval.ms is 100 here: the broker's own timer runs the pass.
    await waitFor(() => log.logStartOffset === 12n, 'retention to delete the 3-day-old segments');
    assert.equal(log.logEndOffset, 12n);
  });

  test('a lower max.message.bytes makes larger batches fail', async () => {
    await admin.createTopics({ topics: [{ topic: 'kj-small' }] });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'kj-small',
          configEntries: [{ name: 'max.message.bytes', value: '200' }],
        },
      ],
    });
    const log = broker.broker.services.logs.getLog('kj-small', 0)!;
    assert.equal(log.config['max.message.bytes'], 200);
    const big = encodeRecordBatchSync(createRecordBatch([{ value: 'x'.repeat(500) }]));
    await assert.rejects(log.appendAsLeader(big), { code: 'ERR_RECORD_BATCH_TOO_LARGE' });
    if (broker.broker.services.router.handler(ApiKey.Produce) !== undefined) {
      const producer = client(broker).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      try {
        await assert.rejects(producer.send({ topic: 'kj-small', acks: -1, messages: [{ value: 'x'.repeat(500) }] }), {
          type: 'MESSAGE_TOO_LARGE',
        });
        await producer.send({ topic: 'kj-small', acks: -1, messages: [{ value: 'small' }] });
        // One broker is one in-sync replica: min.insync.replicas=2 refuses acks=all, not acks=1.
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: 'kj-small',
              configEntries: [
                { name: 'max.message.bytes', value: '200' },
                { name: 'min.insync.replicas', value: '2' },
              ],
            },
          ],
        });
        // A retriable error: with retries off kafkajs wraps it.
        await assert.rejects(
          producer.send({ topic: 'kj-small', acks: -1, messages: [{ value: 'all' }] }),
          (err: { cause?: { type?: string } }) => err.cause?.type === 'NOT_ENOUGH_REPLICAS',
        );
        await producer.send({ topic: 'kj-small', acks: 1, messages: [{ value: 'one' }] });
      } finally {
        await producer.disconnect();
      }
      assert.equal(log.logEndOffset, 2n);
    }
  });

  test('deleteTopicRecords raises the low watermark', async (t) => {
    if (broker.broker.services.router.handler(ApiKey.ListOffsets) === undefined) {
      t.skip('kafkajs looks up offsets with ListOffsets first, which this broker does not serve yet');
      return;
    }
    await admin.createTopics({ topics: [{ topic: 'kj-records', numPartitions: 2 }] });
    const log = await appendRecords(broker, 'kj-records', 0, 5);
    // kafkajs finds partition leaders in the metadata of topics it already tracks.
    assert.deepEqual((await admin.fetchTopicOffsets('kj-records')).map((o) => o.high).sort(), ['0', '5']);
    await admin.deleteTopicRecords({ topic: 'kj-records', partitions: [{ partition: 0, offset: '3' }] });
    assert.equal(log.logStartOffset, 3n);
    const offsets = await admin.fetchTopicOffsets('kj-records');
    assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]).sort(), [
      [0, '3', '5'],
      [1, '0', '0'],
    ]);
    await assert.rejects(
      admin.deleteTopicRecords({ topic: 'kj-records', partitions: [{ partition: 0, offset: '99' }] }),
    );
  });

  test('describeCluster, then deleteTopics', async () => {
    const cluster = await admin.describeCluster();
    assert.equal(cluster.controller, 1);
    assert.equal(cluster.clusterId, broker.broker.services.clusterId);
    assert.deepEqual(cluster.brokers, [{ nodeId: 1, host: '127.0.0.1', port: broker.port }]);

    await admin.createTopics({ topics: [{ topic: 'kj-doomed', numPartitions: 2 }] });
    await admin.deleteTopics({ topics: ['kj-doomed'] });
    assert.ok(!(await admin.listTopics()).includes('kj-doomed'));
    assert.equal(broker.broker.services.logs.getLog('kj-doomed', 0), undefined);
    await assert.rejects(admin.deleteTopics({ topics: ['kj-doomed'] }));
  });
});

test('topics, partitions, configs and the log start offset survive a restart', TIMEOUT, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-admin-restart-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));

  let broker = await startBroker({ dataDir });
  let admin = client(broker).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: 'kept', numPartitions: 2, configEntries: [{ name: 'retention.bytes', value: '1048576' }] }],
    });
    await admin.createPartitions({ topicPartitions: [{ topic: 'kept', count: 3 }] });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'kept',
          configEntries: [
            { name: 'retention.bytes', value: '1048576' },
            { name: 'max.message.bytes', value: '4096' },
          ],
        },
      ],
    });
    await appendRecords(broker, 'kept', 1, 4);
    assert.equal(await broker.broker.services.topics.deleteRecords('kept', 1, 2n), 2n);
  } finally {
    await admin.disconnect();
  }
  const topicId = broker.broker.services.topics.get('kept')?.topicId;
  await broker.close();

  broker = await startBroker({ dataDir });
  t.after(() => broker.close());
  admin = client(broker).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const { topics } = await admin.fetchTopicMetadata({ topics: ['kept'] });
  assert.equal(topics[0]?.partitions.length, 3);
  assert.equal(broker.broker.services.topics.get('kept')?.topicId, topicId);
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [
      { type: ConfigResourceTypes.TOPIC, name: 'kept', configNames: ['retention.bytes', 'max.message.bytes'] },
    ],
  });
  assert.deepEqual(
    resources[0]?.configEntries.map((e) => [e.configName, e.configValue, e.isDefault]),
    [
      ['max.message.bytes', '4096', false],
      ['retention.bytes', '1048576', false],
    ],
  );
  const log = broker.broker.services.logs.getLog('kept', 1)!;
  assert.equal(log.config['max.message.bytes'], 4096);
  assert.equal(log.logStartOffset, 2n);
  assert.equal(log.logEndOffset, 4n);
});
