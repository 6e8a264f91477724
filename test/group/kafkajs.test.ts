/**
 * kafkajs 2.2.4 against the group coordinator: members split the partitions, a member killed
 * without leaving loses its partitions after the session timeout, every record is processed
 * at least once, and with commit-after-processing none twice across a clean rebalance. A
 * slow handler that keeps heartbeating keeps its membership.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic, DescribeGroups, sleep, startGroupBroker, waitFor } from './helpers.ts';
import { MemberProcess, type Processed } from './member-process.ts';

const { Kafka, logLevel } = kafkajs;
const T = { timeout: 90_000 };

describe('kafkajs consumer groups', () => {
  let broker: StartedBroker;
  const children: MemberProcess[] = [];
  before(async () => {
    broker = await startGroupBroker({ config: { 'group.initial.rebalance.delay.ms': 300 } });
  });
  after(async () => {
    for (const c of children) c.kill();
    await broker.close();
  });

  const kafka = () =>
    new Kafka({
      clientId: 'group-test',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 10 },
    });

  async function produce(topic: string, from: number, count: number): Promise<void> {
    const producer = kafka().producer();
    await producer.connect();
    for (let i = from; i < from + count; i += 20) {
      await producer.send({
        topic,
        messages: Array.from({ length: Math.min(20, from + count - i) }, (_, j) => ({
          key: `k${i + j}`,
          value: `v${i + j}`,
          partition: (i + j) % 6,
        })),
      });
    }
    await producer.disconnect();
  }

  function spawnMembers(names: string[], env: Record<string, string>, processed: Processed[]): MemberProcess[] {
    const members = names.map((n) => new MemberProcess('kafkajs-member', n, env, processed));
    children.push(...members);
    return members;
  }

  test(
    'three members split six partitions; a killed member’s partitions move after the session timeout; nothing is lost',
    T,
    async () => {
      await createTopic(broker, 'kj-orders', 6);
      const processed: Processed[] = [];
      const env = { BOOTSTRAP: broker.bootstrap, GROUP: 'kj-group', TOPIC: 'kj-orders', SESSION_TIMEOUT: '2000' };
      const members = spawnMembers(['a', 'b', 'c'], env, processed);
      await Promise.all(members.map((m) => m.ready));
      await waitFor(
        'the three members to split the partitions',
        () => (members.every((m) => m.assignment.length === 2) ? true : undefined),
        20_000,
      );
      assert.deepEqual(members.flatMap((m) => m.assignment).sort(), [0, 1, 2, 3, 4, 5]);

      await produce('kj-orders', 0, 60);
      await waitFor(
        'the first 60 records',
        () => (new Set(processed.map((p) => p.value)).size >= 60 ? true : undefined),
        20_000,
      );

      const [victim, ...survivors] = members as [MemberProcess, MemberProcess, MemberProcess];
      const orphaned = victim.assignment;
      const killedAt = performance.now();
      victim.kill();
      await produce('kj-orders', 60, 60);
      await waitFor(
        'the survivors to take the orphaned partitions',
        () => (survivors.flatMap((m) => m.assignment).length === 6 ? true : undefined),
        20_000,
      );
      const movedAfter = performance.now() - killedAt;
      assert.ok(movedAfter >= 1500, `partitions moved after ${movedAfter} ms, not before the session timeout`);
      assert.deepEqual(survivors.flatMap((m) => m.assignment).sort(), [0, 1, 2, 3, 4, 5]);
      for (const p of orphaned) assert.ok(survivors.some((m) => m.assignment.includes(p)));

      await waitFor(
        'every record processed at least once',
        () => (new Set(processed.map((p) => p.value)).size === 120 ? true : undefined),
        20_000,
      );
      const values = new Set(processed.map((p) => p.value));
      for (let i = 0; i < 120; i++) assert.ok(values.has(`v${i}`), `v${i} was processed`);
      // Committing after each record, a kill can only repeat the record in flight.
      assert.ok(processed.length - 120 <= 1, `${processed.length - 120} records processed twice`);
    },
  );

  test('with commit after processing, no record is processed twice across clean rebalances', T, async () => {
    await createTopic(broker, 'kj-clean', 6);
    const processed: Processed[] = [];
    const env = { BOOTSTRAP: broker.bootstrap, GROUP: 'kj-clean-group', TOPIC: 'kj-clean', SESSION_TIMEOUT: '5000' };
    const [a, b, c] = spawnMembers(['a', 'b', 'c'], env, processed) as [MemberProcess, MemberProcess, MemberProcess];
    await Promise.all([a, b, c].map((m) => m.ready));
    await waitFor('the split', () => ([a, b, c].every((m) => m.assignment.length === 2) ? true : undefined), 20_000);
    const producing = (async () => {
      for (let i = 0; i < 300; i += 30) {
        await produce('kj-clean', i, 30);
        await sleep(150);
      }
    })();
    await sleep(400);
    await a.leave(); // a clean leave: LeaveGroup, then a rebalance
    await sleep(600);
    const [d] = spawnMembers(['d'], env, processed) as [MemberProcess]; // and a join
    await d.ready;
    await producing;
    await waitFor(
      'all 300 records',
      () => (new Set(processed.map((p) => p.value)).size === 300 ? true : undefined),
      30_000,
    );
    await sleep(500);
    const counts = new Map<string, number>();
    for (const p of processed) counts.set(p.value!, (counts.get(p.value!) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no record was processed twice');
    assert.ok(d.assignment.length > 0, 'the new member got partitions');
  });

  test('a handler slower than the session timeout keeps its membership by heartbeating', T, async () => {
    await createTopic(broker, 'kj-slow', 1);
    const consumer = kafka().consumer({
      groupId: 'kj-slow-group',
      sessionTimeout: 1000,
      heartbeatInterval: 100,
      maxWaitTimeInMs: 100,
    });
    let joins = 0;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joins++;
    });
    const handled: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'kj-slow', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, heartbeat }) => {
        // 3 s of work, three times the session timeout, heartbeating as it goes.
        for (let i = 0; i < 15; i++) {
          await sleep(200);
          await heartbeat();
        }
        handled.push(message.value!.toString());
      },
    });
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({ topic: 'kj-slow', messages: [{ value: 'slow-1' }, { value: 'slow-2' }] });
    await producer.disconnect();
    await waitFor('both slow records', () => (handled.length >= 2 ? true : undefined), 30_000);
    assert.deepEqual(handled, ['slow-1', 'slow-2']);
    assert.equal(joins, 1, 'never kicked out, never rejoined');
    const raw = await RawClient.connect(broker.port);
    const described = (
      await raw.request(DescribeGroups, 5, { groups: ['kj-slow-group'], includeAuthorizedOperations: false })
    ).body.groups[0]!;
    assert.equal(described.groupState, 'Stable');
    assert.equal(described.members.length, 1);
    raw.close();
    await consumer.disconnect();
  });
});
