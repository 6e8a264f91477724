/**
 * The group admin APIs as client libraries use them: kafkajs and @platformatic/kafka admins
 * list, describe and delete groups, and read, set, reset and delete committed offsets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { createTopic, sleep, startGroupBroker, waitFor } from './helpers.ts';

const { Kafka, logLevel, AssignerProtocol } = kafkajs;
const T = { timeout: 60_000 };

describe('group admin from client libraries', () => {
  let broker: StartedBroker;
  before(async () => {
    broker = await startGroupBroker({ config: { 'group.initial.rebalance.delay.ms': 100 } });
    await createTopic(broker, 'admin-orders', 3);
  });
  after(async () => {
    await broker.close();
  });

  const kafka = () =>
    new Kafka({
      clientId: 'group-admin',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 3 },
    });

  test('kafkajs admin: list, describe, fetch, set and reset offsets, delete', T, async () => {
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({
      topic: 'admin-orders',
      messages: Array.from({ length: 9 }, (_, i) => ({ value: `v${i}`, partition: i % 3 })),
    });
    await producer.disconnect();
    const consumer = kafka().consumer({ groupId: 'admin-kafkajs', maxWaitTimeInMs: 100 });
    let seen = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: 'admin-orders', fromBeginning: true });
    await consumer.run({
      eachMessage: async () => {
        seen++;
      },
    });
    await waitFor('nine records', () => (seen >= 9 ? true : undefined));
    await sleep(300);
    const admin = kafka().admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      assert.ok(groups.some((g) => g.groupId === 'admin-kafkajs' && g.protocolType === 'consumer'));
      const described = (await admin.describeGroups(['admin-kafkajs'])).groups[0]!;
      assert.equal(described.state, 'Stable');
      assert.equal(described.protocol, 'RoundRobinAssigner');
      const assignment = AssignerProtocol.MemberAssignment.decode(described.members[0]!.memberAssignment);
      assert.deepEqual(assignment?.assignment, { 'admin-orders': [0, 1, 2] });
      await assert.rejects(admin.deleteGroups(['admin-kafkajs']), 'a group with members is not deleted');

      await consumer.disconnect();
      const committed = await admin.fetchOffsets({ groupId: 'admin-kafkajs', topics: ['admin-orders'] });
      assert.deepEqual(committed[0]!.partitions.map((p) => [p.partition, p.offset]).sort(), [
        [0, '3'],
        [1, '3'],
        [2, '3'],
      ]);
      // (kafkajs sets and resets offsets through a consumer that waits out one 5 s fetch.)
      await admin.setOffsets({
        groupId: 'admin-kafkajs',
        topic: 'admin-orders',
        partitions: [{ partition: 1, offset: '1' }],
      });
      await admin.resetOffsets({ groupId: 'admin-kafkajs', topic: 'admin-orders', earliest: true });
      // kafkajs commits −2 ("earliest") and leaves its resolution to the consumer, as with Kafka.
      const reset = await admin.fetchOffsets({ groupId: 'admin-kafkajs', topics: ['admin-orders'] });
      assert.deepEqual(
        reset[0]!.partitions.map((p) => p.offset),
        ['-2', '-2', '-2'],
      );
      await admin.deleteGroups(['admin-kafkajs']);
      assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === 'admin-kafkajs'));
    } finally {
      await admin.disconnect();
    }
  });

  test(
    '@platformatic/kafka admin: find coordinator, groups by type, offsets listed, altered and deleted',
    T,
    async () => {
      const admin = new Admin({ clientId: 'pk-admin', bootstrapBrokers: [broker.bootstrap] });
      try {
        const coordinator = await admin.findCoordinator({ keyType: 0, keys: ['pk-admin-group'] });
        assert.deepEqual(
          coordinator.map((c) => [c.key, c.port]),
          [['pk-admin-group', broker.port]],
        );
        await admin.alterConsumerGroupOffsets({
          groupId: 'pk-admin-group',
          topics: [
            {
              name: 'admin-orders',
              partitionOffsets: [
                { partition: 0, offset: 7n },
                { partition: 2, offset: 9n },
              ],
            },
          ],
        });
        const listed = await admin.listConsumerGroupOffsets({ groups: ['pk-admin-group'] });
        assert.deepEqual(
          listed[0]!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset]),
          [
            [0, 7n],
            [2, 9n],
          ],
        );
        await admin.deleteConsumerGroupOffsets({
          groupId: 'pk-admin-group',
          topics: [{ name: 'admin-orders', partitionIndexes: [0] }],
        });
        const after = await admin.listConsumerGroupOffsets({
          groups: [{ groupId: 'pk-admin-group', topics: [{ name: 'admin-orders', partitionIndexes: [0, 2] }] }],
        });
        assert.deepEqual(
          after[0]!.topics[0]!.partitions.map((p) => p.committedOffset),
          [-1n, 9n],
        );
        const classic = await admin.listGroups({ types: ['classic'] });
        assert.ok([...classic.values()].some((g) => g.id === 'pk-admin-group'));
        const consumerType = await admin.listGroups({ types: ['consumer'] });
        assert.ok(![...consumerType.values()].some((g) => g.id === 'pk-admin-group'));
        const described = await admin.describeGroups({ groups: ['pk-admin-group'] });
        assert.equal(described.get('pk-admin-group')!.state, 'EMPTY');
        await admin.deleteGroups({ groups: ['pk-admin-group'] });
        assert.ok(![...(await admin.listGroups()).values()].some((g) => g.id === 'pk-admin-group'));
      } finally {
        await admin.close();
      }
    },
  );
});
