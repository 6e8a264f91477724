import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.ts';
import { Consumer, type ConsumerOptions } from '../../src/client/consumer/consumer.ts';
import type { TopicPartition } from '../../src/client/metadata.ts';
import { Producer } from '../../src/client/producer/producer.ts';
import { deserializers } from '../../src/client/serializers.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { startTestBroker, uniqueName, waitFor } from './helpers.ts';

const broker = await startTestBroker({
  config: {
    'group.initial.rebalance.delay.ms': 0,
    'group.consumer.session.timeout.ms': 6_000,
    'group.consumer.heartbeat.interval.ms': 500,
  },
});
const admin = new Admin({ bootstrap: broker.bootstrap });
after(async () => {
  await admin.close();
  await broker.close();
});

const CLASSIC = [
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.FindCoordinator,
  ApiKey.JoinGroup,
  ApiKey.SyncGroup,
  ApiKey.Heartbeat,
  ApiKey.OffsetCommit,
];
const KIP848 = [
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.FindCoordinator,
  ApiKey.ConsumerGroupHeartbeat,
  ApiKey.OffsetCommit,
];

type Protocol = 'classic' | 'consumer';

function member(groupId: string, protocol: Protocol, extra: Partial<ConsumerOptions<string, string>> = {}) {
  const events = { assigned: 0, revoked: 0, lost: 0, revokedPartitions: 0 };
  const consumer = new Consumer<string, string>({
    bootstrap: broker.bootstrap,
    groupId,
    groupProtocol: protocol,
    autoOffsetReset: 'earliest',
    autoCommitIntervalMs: 100,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    keyDeserializer: deserializers.string,
    valueDeserializer: deserializers.string,
    onPartitionsAssigned: () => events.assigned++,
    onPartitionsRevoked: (tps) => {
      events.revoked++;
      events.revokedPartitions += tps.length;
    },
    onPartitionsLost: () => events.lost++,
    ...extra,
  });
  return { consumer, events };
}

async function produce(topic: string, from: number, to: number): Promise<void> {
  const producer = new Producer({ bootstrap: broker.bootstrap });
  try {
    await producer.sendBatch(
      Array.from({ length: to - from }, (_, i) => ({ topic, key: `k${from + i}`, value: `v${from + i}` })),
    );
  } finally {
    await producer.close();
  }
}

/** Consumes in the background into `seen` until stopped. */
function drain(consumer: Consumer<string, string>, seen: string[]): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) for (const r of await consumer.poll({ timeoutMs: 200 })) seen.push(r.value!);
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

const sorted = (tps: TopicPartition[]) => tps.map((tp) => tp.partition).sort((a, b) => a - b);

for (const protocol of ['consumer', 'classic'] as Protocol[]) {
  const needs = { ...broker.needs(...(protocol === 'classic' ? CLASSIC : KIP848)), timeout: 90_000 };

  describe(`${protocol} group protocol`, () => {
    test('two members split the partitions and every record is read once', needs, async () => {
      const topic = uniqueName(`split-${protocol}`);
      const groupId = uniqueName('split-group');
      await admin.createTopic(topic, { partitions: 4 });
      await produce(topic, 0, 200);
      const a = member(groupId, protocol);
      const b = member(groupId, protocol);
      const seenA: string[] = [];
      const seenB: string[] = [];
      a.consumer.subscribe([topic]);
      b.consumer.subscribe([topic]);
      const da = drain(a.consumer, seenA);
      const db = drain(b.consumer, seenB);
      try {
        await waitFor(() => seenA.length + seenB.length >= 200, 20_000, '200 records');
        await waitFor(
          () => a.consumer.assignment().length === 2 && b.consumer.assignment().length === 2,
          20_000,
          'a balanced assignment',
        );
        const all = [...seenA, ...seenB];
        assert.equal(new Set(all).size, 200);
        assert.equal(a.consumer.groupProtocol, protocol);
        const owned = [...sorted(a.consumer.assignment()), ...sorted(b.consumer.assignment())].sort();
        assert.deepEqual(owned, [0, 1, 2, 3]);
      } finally {
        await da.stop();
        await db.stop();
        await a.consumer.close();
        await b.consumer.close();
      }
    });

    test('a member killed with SIGKILL loses no record: the group moves its partitions', needs, async () => {
      const topic = uniqueName(`kill-${protocol}`);
      const groupId = uniqueName('kill-group');
      await admin.createTopic(topic, { partitions: 4 });
      await produce(topic, 0, 200);
      const fromChild: string[] = [];
      let childAssignment: number[] = [];
      const child: ChildProcess = fork(new URL('./fixtures/client-member.ts', import.meta.url).pathname, [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          BOOTSTRAP: broker.bootstrap,
          GROUP: groupId,
          TOPIC: topic,
          PROTOCOL: protocol,
          DELAY: '10',
        },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      child.on('message', (m: { type: string; value?: string; partitions?: number[] }) => {
        if (m.type === 'record') fromChild.push(m.value!);
        if (m.type === 'assignment') childAssignment = m.partitions!;
      });
      const survivor = member(groupId, protocol);
      const seen: string[] = [];
      try {
        await waitFor(() => fromChild.length > 0, 20_000, 'the child to consume');
        survivor.consumer.subscribe([topic]);
        const d = drain(survivor.consumer, seen);
        await waitFor(
          () => childAssignment.length > 0 && survivor.consumer.assignment().length > 0 && fromChild.length > 20,
          20_000,
          'both members to own partitions',
        );
        child.kill('SIGKILL');
        await produce(topic, 200, 400);
        // The survivor gets the dead member's partitions after its session times out.
        await waitFor(() => new Set([...fromChild, ...seen]).size === 400, 30_000, 'all 400 records');
        await d.stop();
        assert.equal(survivor.consumer.assignment().length, 4);
        for (let i = 0; i < 400; i++)
          assert.ok(fromChild.includes(`v${i}`) || seen.includes(`v${i}`), `v${i} was lost`);
      } finally {
        child.kill('SIGKILL');
        await survivor.consumer.close();
      }
    });

    test('partitions added to a subscribed topic get assigned', needs, async () => {
      const topic = uniqueName(`grow-${protocol}`);
      await admin.createTopic(topic, { partitions: 2 });
      const m = member(uniqueName('grow-group'), protocol, { metadataMaxAgeMs: 300 });
      m.consumer.subscribe([topic]);
      const seen: string[] = [];
      const d = drain(m.consumer, seen);
      try {
        await waitFor(() => m.consumer.assignment().length === 2, 20_000, 'two partitions');
        await admin.createPartitions([{ topic, count: 4 }]);
        await waitFor(() => m.consumer.assignment().length === 4, 30_000, 'four partitions');
      } finally {
        await d.stop();
        await m.consumer.close();
      }
    });

    test('unsubscribe leaves the group; subscribe joins it again', needs, async () => {
      const topic = uniqueName(`unsubscribe-${protocol}`);
      const groupId = uniqueName('unsubscribe-group');
      await admin.createTopic(topic, { partitions: 2 });
      const a = member(groupId, protocol);
      const b = member(groupId, protocol);
      const seen: string[] = [];
      a.consumer.subscribe([topic]);
      b.consumer.subscribe([topic]);
      const da = drain(a.consumer, seen);
      const db = drain(b.consumer, seen);
      try {
        await waitFor(
          () => a.consumer.assignment().length === 1 && b.consumer.assignment().length === 1,
          20_000,
          'one partition each',
        );
        await a.consumer.unsubscribe();
        assert.deepEqual(a.consumer.assignment(), []);
        await waitFor(() => b.consumer.assignment().length === 2, 20_000, 'the other member to take both');
        a.consumer.subscribe([topic]);
        await waitFor(
          () => a.consumer.assignment().length === 1 && b.consumer.assignment().length === 1,
          20_000,
          'one partition each again',
        );
      } finally {
        await da.stop();
        await db.stop();
        await a.consumer.close();
        await b.consumer.close();
      }
    });

    test('a handler slower than the session timeout causes no rebalance', needs, async () => {
      const topic = uniqueName(`slow-${protocol}`);
      const groupId = uniqueName('slow-group');
      await admin.createTopic(topic, { partitions: 2 });
      await produce(topic, 0, 10);
      const slow = member(groupId, protocol);
      const other = member(groupId, protocol);
      slow.consumer.subscribe([topic]);
      const seenOther: string[] = [];
      let d: { stop(): Promise<void> } | null = null;
      try {
        // The slow member takes a record and "processes" it from here to the end of the test.
        const iterator = slow.consumer[Symbol.asyncIterator]();
        const first = await Promise.race([
          iterator.next(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no first record')), 20_000)),
        ]);
        assert.equal(first.done, false);
        // A rebalance still completes while the handler is busy: membership does not wait for it.
        other.consumer.subscribe([topic]);
        d = drain(other.consumer, seenOther);
        await waitFor(
          () => slow.consumer.assignment().length === 1 && other.consumer.assignment().length === 1,
          20_000,
          'one partition each',
        );
        const before = {
          slow: { ...slow.events },
          other: { ...other.events },
          generation: slow.consumer.groupMetadata(),
        };
        // Longer than the 6 s session timeout, while heartbeats go on in the background.
        await new Promise((resolve) => setTimeout(resolve, 7_500));
        assert.deepEqual(slow.events, before.slow);
        assert.deepEqual(other.events, before.other);
        assert.deepEqual(slow.consumer.groupMetadata(), before.generation);
        assert.equal(slow.consumer.assignment().length, 1);
        await iterator.return?.(undefined);
      } finally {
        await d?.stop();
        await slow.consumer.close();
        await other.consumer.close();
      }
    });
  });
}

describe('classic assignors', () => {
  for (const assignor of ['range', 'roundrobin', 'cooperative-sticky'] as const) {
    test(`${assignor}: a second member takes half of the partitions`, {
      ...broker.needs(...CLASSIC),
      timeout: 60_000,
    }, async () => {
      const topic = uniqueName(`assignor-${assignor}`);
      const groupId = uniqueName('assignor-group');
      await admin.createTopic(topic, { partitions: 4 });
      const a = member(groupId, 'classic', { assignors: [assignor] });
      const b = member(groupId, 'classic', { assignors: [assignor] });
      const seen: string[] = [];
      a.consumer.subscribe([topic]);
      const da = drain(a.consumer, seen);
      try {
        await waitFor(() => a.consumer.assignment().length === 4, 15_000, 'the first member to own all');
        b.consumer.subscribe([topic]);
        const db = drain(b.consumer, seen);
        await waitFor(
          () => a.consumer.assignment().length === 2 && b.consumer.assignment().length === 2,
          20_000,
          'two partitions each',
        );
        await db.stop();
        assert.equal(a.events.lost, 0);
        // Eager assignors take every partition back before a rebalance; cooperative-sticky
        // (KIP-429) revokes only the two that move.
        assert.equal(a.events.revokedPartitions, assignor === 'cooperative-sticky' ? 2 : 4);
        const described = await admin.describeGroups([groupId]);
        assert.equal(described[0]!.assignor, assignor);
      } finally {
        await da.stop();
        await a.consumer.close();
        await b.consumer.close();
      }
    });
  }
});
