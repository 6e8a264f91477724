/**
 * @platformatic/kafka against the group coordinator, with the classic protocol and with
 * KIP-848 (ConsumerGroupHeartbeat): members split the partitions, a killed member's
 * partitions move after the session timeout, every record is processed at least once, and
 * with commit after processing none twice across a clean leave and join.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { createTopic, sleep, startGroupBroker, waitFor } from './helpers.ts';
import { MemberProcess, type Processed } from './member-process.ts';

const T = { timeout: 90_000 };
/** How long a handover is given to settle before more records are produced (see the clean leave and join test). */
const HANDOVER_SETTLE_MS = 1500;

for (const protocol of ['classic', 'consumer'] as const) {
  describe(`@platformatic/kafka, ${protocol} protocol`, () => {
    let broker: StartedBroker;
    const children: MemberProcess[] = [];
    before(async () => {
      broker = await startGroupBroker({
        config: { 'group.initial.rebalance.delay.ms': 300, 'group.consumer.session.timeout.ms': 2000 },
      });
    });
    after(async () => {
      for (const c of children) c.kill();
      await broker.close();
    });

    async function produce(topic: string, from: number, count: number): Promise<void> {
      const producer = new Producer({
        clientId: 'pk-producer',
        bootstrapBrokers: [broker.bootstrap],
        serializers: stringSerializers,
      });
      await producer.send({
        messages: Array.from({ length: count }, (_, j) => ({
          topic,
          key: `k${from + j}`,
          value: `v${from + j}`,
          partition: (from + j) % 6,
        })),
      });
      await producer.close();
    }

    function spawn(names: string[], env: Record<string, string>, processed: Processed[]): MemberProcess[] {
      const members = names.map(
        (n) => new MemberProcess('platformatic-member', n, { ...env, GROUP_PROTOCOL: protocol }, processed),
      );
      children.push(...members);
      return members;
    }

    test(
      'three members split six partitions; a killed member’s partitions move after the session timeout; nothing is lost',
      T,
      async () => {
        const topic = `pk-${protocol}-kill`;
        await createTopic(broker, topic, 6);
        const processed: Processed[] = [];
        const env = { BOOTSTRAP: broker.bootstrap, GROUP: `${topic}-group`, TOPIC: topic, SESSION_TIMEOUT: '2000' };
        const members = spawn(['a', 'b', 'c'], env, processed);
        await Promise.all(members.map((m) => m.ready));
        await waitFor(
          'the three members to split the partitions',
          () => (members.every((m) => m.assignment.length === 2) ? true : undefined),
          30_000,
        );
        assert.deepEqual(members.flatMap((m) => m.assignment).sort(), [0, 1, 2, 3, 4, 5]);

        await produce(topic, 0, 60);
        await waitFor(
          'the first 60 records',
          () => (new Set(processed.map((p) => p.value)).size >= 60 ? true : undefined),
          30_000,
        );
        const [victim, ...survivors] = members as [MemberProcess, MemberProcess, MemberProcess];
        const killedAt = performance.now();
        victim.kill();
        await produce(topic, 60, 60);
        await waitFor(
          'the survivors to take every partition',
          () => (survivors.flatMap((m) => m.assignment).length === 6 ? true : undefined),
          30_000,
        );
        const movedAfter = performance.now() - killedAt;
        assert.ok(movedAfter >= 1500, `partitions moved after ${movedAfter} ms, not before the session timeout`);
        assert.deepEqual(survivors.flatMap((m) => m.assignment).sort(), [0, 1, 2, 3, 4, 5]);
        await waitFor(
          'every record processed at least once',
          () => (new Set(processed.map((p) => p.value)).size === 120 ? true : undefined),
          30_000,
        );
      },
    );

    test('with commit after processing, no record is processed twice across a clean leave and join', T, async () => {
      const topic = `pk-${protocol}-clean`;
      await createTopic(broker, topic, 6);
      const processed: Processed[] = [];
      const env = { BOOTSTRAP: broker.bootstrap, GROUP: `${topic}-group`, TOPIC: topic, SESSION_TIMEOUT: '5000' };
      const [a, b, c] = spawn(['a', 'b', 'c'], env, processed) as [MemberProcess, MemberProcess, MemberProcess];
      await Promise.all([a, b, c].map((m) => m.ready));
      await waitFor('the split', () => ([a, b, c].every((m) => m.assignment.length === 2) ? true : undefined), 30_000);
      await produce(topic, 0, 120);
      await waitFor(
        'the first records',
        () => (new Set(processed.map((p) => p.value)).size === 120 ? true : undefined),
        30_000,
      );
      await a.leave();
      await waitFor(
        'b and c to take over',
        () => (b.assignment.length + c.assignment.length === 6 ? true : undefined),
        30_000,
      );
      // The client hands a partition over without dropping what a fetch already in flight
      // returns for it, so records are produced once each handover is done (a long poll
      // lasts 100 ms). What is checked is the coordinator's part: committed offsets handed
      // over exactly, so the next owner starts where the last one stopped. The wait is
      // generous because on a loaded machine a member's last fetch can return late.
      await sleep(HANDOVER_SETTLE_MS);
      await produce(topic, 120, 120);
      const [d] = spawn(['d'], env, processed) as [MemberProcess];
      await d.ready;
      await waitFor(
        'the new member to get partitions',
        () => ([b, c, d].flatMap((m) => m.assignment).length === 6 && d.assignment.length > 0 ? true : undefined),
        30_000,
      );
      await sleep(HANDOVER_SETTLE_MS);
      await produce(topic, 240, 60);
      await waitFor(
        'all 300 records',
        () => (new Set(processed.map((p) => p.value)).size === 300 ? true : undefined),
        30_000,
      );
      await sleep(500);
      const counts = new Map<string, number>();
      for (const p of processed) counts.set(p.value!, (counts.get(p.value!) ?? 0) + 1);
      assert.deepEqual(
        [...counts].filter(([, n]) => n > 1),
        [],
        'no record was processed twice',
      );
    });
  });
}
