/**
 * @platformatic/kafka 1.x's Admin against a real broker, on the flexible versions it picks:
 * CreateTopics v7, DeleteTopics v6, CreatePartitions v3, DeleteRecords v2, DescribeConfigs
 * v4, AlterConfigs v2, IncrementalAlterConfigs v1, DescribeLogDirs v4.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ZERO_UUID } from '../../src/protocol/codec.ts';
import { createRecordBatch, encodeRecordBatchSync } from '../../src/protocol/records/index.ts';

const TIMEOUT = { timeout: 30_000 };
const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;

/** The protocol error ids (e.g. INVALID_CONFIG) inside a platformatic error, however deeply nested. */
function protocolErrors(err: unknown): string[] {
  const e = err as { apiId?: string; errors?: unknown[] };
  return [...(e.apiId ? [e.apiId] : []), ...(e.errors ?? []).flatMap(protocolErrors)];
}

async function failsWith(promise: Promise<unknown>, id: string): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(protocolErrors(err).includes(id), `expected ${id}, got ${protocolErrors(err).join(', ') || String(err)}`);
    return true;
  });
}

describe('@platformatic/kafka Admin', TIMEOUT, () => {
  let broker: StartedBroker;
  let admin: Admin;
  before(async () => {
    broker = await startBroker({ config: { 'auto.create.topics.enable': false } });
    admin = new Admin({
      clientId: 'admin-platformatic',
      bootstrapBrokers: [broker.bootstrap],
      retries: 0,
      timeout: 10_000,
    });
  });
  after(async () => {
    await admin.close();
    await broker.close();
  });

  const topicConfigs = async (name: string, keys?: string[]) => {
    const [result] = await admin.describeConfigs({
      resources: [{ resourceType: TOPIC, resourceName: name, configurationKeys: keys }],
      includeSynonyms: true,
    });
    return new Map(result!.configs.map((c) => [c.name, c]));
  };

  test('createTopics returns the topic ID, counts and configuration; errors per topic', async () => {
    const [created] = await admin.createTopics({
      topics: ['pk-orders'],
      partitions: 3,
      replicas: 1,
      configs: [{ name: 'retention.ms', value: '60000' }],
    });
    assert.equal(created?.name, 'pk-orders');
    assert.equal(created?.partitions, 3);
    assert.equal(created?.replicas, 1);
    assert.ok(created?.id && created.id !== ZERO_UUID);
    assert.equal(created?.configuration['retention.ms'], '60000');
    assert.equal(created?.configuration['cleanup.policy'], 'delete');

    // Manual assignment: partitions and replicas are sent as -1.
    const [manual] = await admin.createTopics({
      topics: ['pk-manual'],
      assignments: [
        { partition: 0, brokers: [1] },
        { partition: 1, brokers: [1] },
      ],
    });
    assert.equal(manual?.partitions, 2);

    await failsWith(admin.createTopics({ topics: ['pk-orders'] }), 'TOPIC_ALREADY_EXISTS');
    await failsWith(
      admin.createTopics({ topics: ['pk-rf'], partitions: 1, replicas: 2 }),
      'INVALID_REPLICATION_FACTOR',
    );
    await failsWith(
      admin.createTopics({ topics: ['pk-cfg'], configs: [{ name: 'message.timestamp.type', value: 'Whenever' }] }),
      'INVALID_CONFIG',
    );
    await failsWith(
      admin.createTopics({ topics: ['pk-ra'], assignments: [{ partition: 0, brokers: [2] }] }),
      'INVALID_REPLICA_ASSIGNMENT',
    );
    const names = await admin.listTopics();
    assert.ok(names.includes('pk-orders') && names.includes('pk-manual'));
    assert.ok(!names.includes('pk-rf') && !names.includes('pk-cfg') && !names.includes('pk-ra'));
  });

  test('createPartitions grows a topic; validateOnly does not', async () => {
    await admin.createPartitions({ topics: [{ name: 'pk-orders', count: 6 }], validateOnly: true });
    assert.equal(broker.broker.services.topics.get('pk-orders')?.partitionCount, 3);
    await admin.createPartitions({
      topics: [{ name: 'pk-orders', count: 5, assignments: [{ brokerIds: [1] }, { brokerIds: [1] }] }],
    });
    assert.equal(broker.broker.services.topics.get('pk-orders')?.partitionCount, 5);
    await failsWith(admin.createPartitions({ topics: [{ name: 'pk-orders', count: 5 }] }), 'INVALID_PARTITIONS');
  });

  test('describeConfigs: a topic with sources and synonyms, the broker, the broker logger', async () => {
    const configs = await topicConfigs('pk-orders');
    assert.deepEqual(configs.get('retention.ms'), {
      name: 'retention.ms',
      value: '60000',
      readOnly: false,
      configSource: 1,
      isSensitive: false,
      synonyms: [
        { name: 'retention.ms', value: '60000', source: 1 },
        { name: 'log.retention.hours', value: '168', source: 5 },
      ],
      configType: 5,
      documentation: null,
    });
    assert.equal(configs.get('segment.bytes')?.configSource, 5);

    const results = await admin.describeConfigs({
      resources: [
        { resourceType: BROKER, resourceName: '1', configurationKeys: ['num.partitions', 'delete.topic.enable'] },
        { resourceType: BROKER_LOGGER, resourceName: '1' },
      ],
    });
    const brokerConfigs = results.find((r) => r.resourceType === BROKER)!.configs;
    assert.deepEqual(
      brokerConfigs.map((c) => [c.name, c.value, c.readOnly, c.configSource, c.configType]),
      [
        ['delete.topic.enable', 'true', true, 5, 1],
        ['num.partitions', '1', true, 5, 3],
      ],
    );
    const logger = results.find((r) => r.resourceType === BROKER_LOGGER)!.configs;
    assert.deepEqual(
      logger.map((c) => [c.name, c.value]),
      [['root', 'OFF']],
    );
    await failsWith(
      admin.describeConfigs({ resources: [{ resourceType: TOPIC, resourceName: 'pk-nope' }] }),
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
  });

  test('alterConfigs and incrementalAlterConfigs change the logs at once', async () => {
    await admin.alterConfigs({
      resources: [
        { resourceType: TOPIC, resourceName: 'pk-orders', configs: [{ name: 'segment.ms', value: '3600000' }] },
      ],
    });
    let configs = await topicConfigs('pk-orders');
    assert.equal(configs.get('segment.ms')?.value, '3600000');
    assert.equal(configs.get('retention.ms')?.configSource, 5, 'AlterConfigs replaced the whole set of overrides');
    const log = broker.broker.services.logs.getLog('pk-orders', 4)!;
    assert.equal(log.config['segment.ms'], 3_600_000);

    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: TOPIC,
          resourceName: 'pk-orders',
          configs: [
            { name: 'cleanup.policy', configOperation: APPEND, value: 'compact' },
            { name: 'segment.ms', configOperation: DELETE },
            { name: 'message.timestamp.type', configOperation: SET, value: 'LogAppendTime' },
          ],
        },
      ],
    });
    configs = await topicConfigs('pk-orders');
    assert.equal(configs.get('cleanup.policy')?.value, 'delete,compact');
    assert.equal(configs.get('segment.ms')?.configSource, 5);
    assert.deepEqual(log.config['cleanup.policy'], ['delete', 'compact']);
    assert.equal(log.config['message.timestamp.type'], 'LogAppendTime');

    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: TOPIC,
          resourceName: 'pk-orders',
          configs: [{ name: 'cleanup.policy', configOperation: SUBTRACT, value: 'delete' }],
        },
      ],
      validateOnly: true,
    });
    assert.deepEqual(log.config['cleanup.policy'], ['delete', 'compact'], 'validateOnly changed nothing');

    await failsWith(
      admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: TOPIC,
            resourceName: 'pk-orders',
            configs: [{ name: 'max.message.bytes', configOperation: APPEND, value: '1' }],
          },
        ],
      }),
      'INVALID_CONFIG',
    );
    await failsWith(
      admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: BROKER,
            resourceName: '1',
            configs: [{ name: 'num.partitions', configOperation: SET, value: '2' }],
          },
        ],
      }),
      'INVALID_REQUEST',
    );
  });

  test('deleteRecords answers the new low watermark', async () => {
    const log = broker.broker.services.logs.getLog('pk-orders', 0)!;
    for (let i = 0; i < 6; i++) {
      await log.appendAsLeader(encodeRecordBatchSync(createRecordBatch([{ value: `v${i}` }])));
    }
    const [deleted] = await admin.deleteRecords({
      topics: [
        {
          name: 'pk-orders',
          partitions: [
            { partition: 0, offset: 4n },
            { partition: 1, offset: -1n },
          ],
        },
      ],
    });
    assert.deepEqual(
      deleted?.partitions.sort((a, b) => a.partition - b.partition),
      [
        { partition: 0, lowWatermark: 4n },
        { partition: 1, lowWatermark: 0n },
      ],
    );
    assert.equal(log.logStartOffset, 4n);
    await failsWith(
      admin.deleteRecords({ topics: [{ name: 'pk-orders', partitions: [{ partition: 0, offset: 100n }] }] }),
      'OFFSET_OUT_OF_RANGE',
    );
  });

  test('describeLogDirs lists the data directory and partition sizes', async () => {
    const [description] = await admin.describeLogDirs({ topics: [{ name: 'pk-orders', partitions: [0, 1] }] });
    assert.equal(description?.broker, 1);
    const [dir] = description!.results;
    assert.equal(dir?.logDir, broker.dataDir);
    assert.ok(dir!.totalBytes > 0n && dir!.usableBytes > 0n);
    assert.deepEqual(
      dir?.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.partitionSize > 0n, p.offsetLag])]),
      [
        [
          'pk-orders',
          [
            [0, true, 0n],
            [1, false, 0n],
          ],
        ],
      ],
    );
  });

  test('deleteTopics removes topics; an unknown one fails', async () => {
    await admin.deleteTopics({ topics: ['pk-manual'] });
    assert.ok(!(await admin.listTopics()).includes('pk-manual'));
    await failsWith(admin.deleteTopics({ topics: ['pk-manual'] }), 'UNKNOWN_TOPIC_OR_PARTITION');
  });
});
