import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.ts';
import { Consumer } from '../../src/client/consumer/consumer.ts';
import type { KafkaError } from '../../src/client/errors.ts';
import { Producer } from '../../src/client/producer/producer.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { startTestBroker, type TestBroker, uniqueName } from './helpers.ts';

const broker: TestBroker = await startTestBroker();

describe('admin', { timeout: 300_000 }, () => {
  let admin: Admin;
  before(() => {
    admin = new Admin({ bootstrap: broker.bootstrap });
  });
  after(async () => {
    await admin.close();
    await broker.close();
  });

  test(
    'creates, lists, describes and deletes topics',
    broker.needs(ApiKey.CreateTopics, ApiKey.DeleteTopics),
    async () => {
      const name = uniqueName('admin-topic');
      const [created] = await admin.createTopics([{ name, partitions: 3, configs: { 'cleanup.policy': 'compact' } }]);
      assert.equal(created!.name, name);
      assert.equal(created!.partitions, 3);
      assert.ok(created!.topicId);
      assert.ok((await admin.listTopics()).includes(name));
      const [described] = await admin.describeTopics([name]);
      assert.equal(described!.partitions.length, 3);
      assert.equal(described!.topicId, created!.topicId);
      assert.deepEqual(
        described!.partitions.map((p) => p.partition),
        [0, 1, 2],
      );
      for (const p of described!.partitions) assert.ok(p.leader >= 0);
      await assert.rejects(
        admin.createTopic(name),
        (e: KafkaError) => e.code === 'TOPIC_ALREADY_EXISTS' && e.message.includes(`"${name}"`),
      );
      await admin.deleteTopics([name]);
      assert.ok(!(await admin.listTopics()).includes(name));
      await assert.rejects(admin.describeTopics([name]), (e: KafkaError) => e.code === 'UNKNOWN_TOPIC_OR_PARTITION');
    },
  );

  test('adds partitions', broker.needs(ApiKey.CreatePartitions), async () => {
    const name = uniqueName('admin-grow');
    await admin.createTopic(name, { partitions: 1 });
    await admin.createPartitions([{ topic: name, count: 4 }]);
    const [described] = await admin.describeTopics([name]);
    assert.equal(described!.partitions.length, 4);
    await assert.rejects(
      admin.createPartitions([{ topic: name, count: 2 }]),
      (e: KafkaError) => e.code === 'INVALID_PARTITIONS',
    );
  });

  test(
    'describes and alters topic configs, incrementally and wholesale',
    broker.needs(ApiKey.DescribeConfigs, ApiKey.IncrementalAlterConfigs),
    async () => {
      const name = uniqueName('admin-config');
      await admin.createTopic(name, { partitions: 1 });
      const [before] = await admin.describeConfigs([{ type: 'topic', name, keys: ['retention.ms'] }]);
      assert.equal(before!.configs[0]!.name, 'retention.ms');
      assert.equal(before!.configs[0]!.isDefault, true);
      await admin.incrementalAlterConfigs([
        { type: 'topic', name, configs: [{ name: 'retention.ms', value: '12345' }] },
      ]);
      const [after1] = await admin.describeConfigs([{ type: 'topic', name, keys: ['retention.ms'] }]);
      assert.deepEqual(
        {
          value: after1!.configs[0]!.value,
          source: after1!.configs[0]!.source,
          isDefault: after1!.configs[0]!.isDefault,
        },
        { value: '12345', source: 'dynamic-topic', isDefault: false },
      );
      await admin.incrementalAlterConfigs([{ type: 'topic', name, configs: [{ name: 'retention.ms', op: 'delete' }] }]);
      const [after2] = await admin.describeConfigs([{ type: 'topic', name, keys: ['retention.ms'] }]);
      assert.equal(after2!.configs[0]!.isDefault, true);
      if (broker.serves(ApiKey.AlterConfigs)) {
        await admin.alterConfigs([{ type: 'topic', name, configs: { 'segment.ms': '600000' } }]);
        const [after3] = await admin.describeConfigs([{ type: 'topic', name, keys: ['segment.ms'] }]);
        assert.equal(after3!.configs[0]!.value, '600000');
      }
      await assert.rejects(
        admin.incrementalAlterConfigs([{ type: 'topic', name, configs: [{ name: 'retention.ms', value: 'soon' }] }]),
        (e: KafkaError) => e.code === 'INVALID_CONFIG',
      );
      const brokerConfigs = await admin.describeConfigs([{ type: 'broker', name: '1' }]);
      assert.ok(brokerConfigs[0]!.configs.length > 0);
    },
  );

  test('describes the cluster and its log dirs', broker.needs(ApiKey.DescribeLogDirs), async () => {
    const cluster = await admin.describeCluster();
    assert.ok(cluster.clusterId);
    assert.deepEqual(
      cluster.brokers.map((b) => [b.host, b.port]),
      [[broker.host, broker.port]],
    );
    const name = uniqueName('admin-logdirs');
    await admin.createTopic(name, { partitions: 2 });
    const dirs = await admin.describeLogDirs();
    assert.equal(dirs.length, 1);
    assert.equal(dirs[0]!.error, null);
    assert.ok(dirs[0]!.totalBytes > 0n);
    const topic = dirs[0]!.topics.find((x) => x.name === name);
    assert.deepEqual(topic?.partitions.map((p) => p.partition).sort(), [0, 1]);
  });

  test(
    'lists offsets and deletes records',
    broker.needs(ApiKey.Produce, ApiKey.ListOffsets, ApiKey.DeleteRecords),
    async () => {
      const name = uniqueName('admin-records');
      await admin.createTopic(name, { partitions: 1 });
      const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
      try {
        for (let i = 0; i < 10; i++) await producer.send({ topic: name, value: `v${i}`, timestamp: 1_000 + i });
      } finally {
        await producer.close();
      }
      const [earliest, latest, at5] = await admin.listOffsets([
        { topic: name, partition: 0, spec: 'earliest' },
        { topic: name, partition: 0, spec: 'latest' },
        { topic: name, partition: 0, spec: { timestamp: 1_005 } },
      ]);
      assert.equal(earliest!.offset, 0n);
      assert.equal(latest!.offset, 10n);
      assert.equal(at5!.offset, 5n);
      const [deleted] = await admin.deleteRecords([{ topic: name, partition: 0, offset: 4n }]);
      assert.equal(deleted!.lowWatermark, 4n);
      const [after] = await admin.listOffsets([{ topic: name, partition: 0, spec: 'earliest' }]);
      assert.equal(after!.offset, 4n);
    },
  );

  test(
    'lists, describes, resets and deletes groups and their offsets',
    broker.needs(ApiKey.Produce, ApiKey.Fetch, ApiKey.JoinGroup, ApiKey.ListGroups, ApiKey.DescribeGroups),
    async () => {
      const topic = uniqueName('admin-groups');
      const group = uniqueName('admin-group');
      await admin.createTopic(topic, { partitions: 2 });
      const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
      for (let i = 0; i < 20; i++) await producer.send({ topic, key: `k${i}`, value: `v${i}`, timestamp: 10_000 + i });
      await producer.close();
      const consumer = new Consumer({
        bootstrap: broker.bootstrap,
        groupId: group,
        groupProtocol: 'classic',
        autoOffsetReset: 'earliest',
        autoCommit: false,
      });
      consumer.subscribe([topic]);
      let seen = 0;
      for await (const _ of consumer) if (++seen === 20) break;
      await consumer.commit();
      const groups = await admin.listGroups();
      assert.ok(groups.some((g) => g.groupId === group));
      const [described] = await admin.describeGroups([group]);
      assert.equal(described!.members.length, 1);
      assert.equal(described!.state, 'Stable');
      assert.deepEqual(described!.members[0]!.assignment.map((tp) => tp.partition).sort(), [0, 1]);
      await consumer.close();
      const offsets = await admin.listGroupOffsets(group);
      assert.equal(
        offsets.reduce((n, o) => n + Number(o.offset), 0),
        20,
      );
      const dry = await admin.resetGroupOffsets(group, topic, { to: 'earliest' }, { dryRun: true });
      assert.deepEqual(
        dry.map((o) => o.offset),
        [0n, 0n],
      );
      assert.equal(
        (await admin.listGroupOffsets(group)).reduce((n, o) => n + Number(o.offset), 0),
        20,
      );
      await admin.resetGroupOffsets(group, topic, { to: 3n });
      assert.deepEqual(
        (await admin.listGroupOffsets(group)).map((o) => o.offset),
        [3n, 3n],
      );
      const byTime = await admin.resetGroupOffsets(group, topic, { to: { timestamp: 10_000 } });
      assert.deepEqual(
        byTime.map((o) => o.offset),
        [0n, 0n],
      );
      if (broker.serves(ApiKey.OffsetDelete)) {
        await admin.deleteGroupOffsets(group, [{ topic, partition: 0 }]);
        assert.deepEqual(
          (await admin.listGroupOffsets(group)).map((o) => o.partition),
          [1],
        );
      }
      if (broker.serves(ApiKey.DeleteGroups)) {
        await admin.deleteGroups([group]);
        assert.ok(!(await admin.listGroups()).some((g) => g.groupId === group));
      }
    },
  );
});
