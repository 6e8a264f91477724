/**
 * kcat (librdkafka 2.0) balanced consumers (`-G`) against the group coordinator: they split
 * the partitions, a killed one's partitions move after the session timeout with nothing
 * lost, cooperative-sticky rebalances incrementally, and their auto-commits are offsets
 * any client resumes from. Without kcat these tests are skipped loudly; under CI=true
 * that is a failure.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { after, before, describe } from 'node:test';
import kafkajs from 'kafkajs';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { kcatTest } from '../broker/data-path/helpers.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { createTopic, fetchCommitted, parseAssignment, sleep, startGroupBroker, waitFor } from './helpers.ts';

const { Kafka, logLevel } = kafkajs;
const T = { timeout: 90_000 };

interface Consumed {
  member: number;
  partition: number;
  offset: number;
  value: string;
}

/** A `kcat -G` balanced consumer; lines it prints are parsed into `consumed`. */
class KcatMember {
  readonly child: ChildProcessWithoutNullStreams;
  #pending = '';
  exited = false;

  constructor(bootstrap: string, group: string, topic: string, id: number, consumed: Consumed[], extra: string[] = []) {
    this.child = spawn('kcat', [
      '-b',
      bootstrap,
      '-G',
      group,
      topic,
      '-o',
      'beginning',
      '-q',
      '-u',
      '-f',
      `${id} %p %o %s\\n`,
      '-X',
      'session.timeout.ms=2000',
      '-X',
      'heartbeat.interval.ms=200',
      '-X',
      'auto.commit.interval.ms=100',
      '-X',
      'fetch.wait.max.ms=100',
      ...extra,
    ]);
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.#pending += chunk;
      const lines = this.#pending.split('\n');
      this.#pending = lines.pop()!;
      for (const line of lines) {
        const [member, partition, offset, value] = line.split(' ');
        consumed.push({ member: Number(member), partition: Number(partition), offset: Number(offset), value: value! });
      }
    });
    this.child.stderr.resume();
    this.child.on('exit', () => {
      this.exited = true;
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }
}

describe('kcat balanced consumers', () => {
  let broker: StartedBroker;
  let raw: RawClient;
  const members: KcatMember[] = [];
  before(async () => {
    broker = await startGroupBroker({ config: { 'group.initial.rebalance.delay.ms': 300 } });
    raw = await RawClient.connect(broker.port);
  });
  after(async () => {
    for (const m of members) await m.kill();
    raw.close();
    await broker.close();
  });

  const start = (group: string, topic: string, ids: number[], consumed: Consumed[], extra: string[] = []) => {
    const started = ids.map((id) => new KcatMember(broker.bootstrap, group, topic, id, consumed, extra));
    members.push(...started);
    return started;
  };

  /** Partitions per member, from DescribeGroups as the broker sees them. */
  const assignments = (group: string): number[][] => {
    const [g] = broker.broker.services.groups.describeGroups([group]);
    if (g!.groupState !== 'Stable') return [];
    return g!.members.map((m) => (parseAssignment(m.memberAssignment)[topicOf(group)] ?? []).sort((a, b) => a - b));
  };
  const topics = new Map<string, string>();
  const topicOf = (group: string) => topics.get(group)!;

  async function produce(topic: string, from: number, count: number): Promise<void> {
    const producer = new Kafka({
      clientId: 'kcat-test',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: count }, (_, j) => ({ value: `v${from + j}`, partition: (from + j) % 6 })),
    });
    await producer.disconnect();
  }

  kcatTest(
    'three kcat members split six partitions; a killed one’s partitions move after the session timeout',
    T,
    async () => {
      const group = 'kcat-group';
      topics.set(group, 'kcat-orders');
      await createTopic(broker, 'kcat-orders', 6);
      const consumed: Consumed[] = [];
      const [victim] = start(group, 'kcat-orders', [0, 1, 2], consumed);
      const split = await waitFor(
        'three members with two partitions each',
        () => {
          const a = assignments(group);
          return a.length === 3 && a.every((p) => p.length === 2) ? a : undefined;
        },
        30_000,
      );
      assert.deepEqual(split.flat().sort(), [0, 1, 2, 3, 4, 5]);
      await produce('kcat-orders', 0, 60);
      await waitFor('60 records', () => (new Set(consumed.map((c) => c.value)).size === 60 ? true : undefined), 30_000);
      const killedAt = performance.now();
      await victim!.kill();
      await produce('kcat-orders', 60, 60);
      const after = await waitFor(
        'two members with three partitions each',
        () => {
          const a = assignments(group);
          return a.length === 2 && a.every((p) => p.length === 3) ? a : undefined;
        },
        30_000,
      );
      assert.ok(performance.now() - killedAt >= 1500, 'not before the session timeout');
      assert.deepEqual(after.flat().sort(), [0, 1, 2, 3, 4, 5]);
      await waitFor(
        'all 120 records',
        () => (new Set(consumed.map((c) => c.value)).size === 120 ? true : undefined),
        30_000,
      );
    },
  );

  kcatTest('cooperative-sticky: a new member takes partitions without the others giving up theirs', T, async () => {
    const group = 'kcat-coop';
    topics.set(group, 'kcat-coop');
    await createTopic(broker, 'kcat-coop', 6);
    const consumed: Consumed[] = [];
    const coop = ['-X', 'partition.assignment.strategy=cooperative-sticky'];
    start(group, 'kcat-coop', [0, 1], consumed, coop);
    const before = await waitFor(
      'two members with three partitions each',
      () => {
        const a = assignments(group);
        return a.length === 2 && a.every((p) => p.length === 3) ? a : undefined;
      },
      30_000,
    );
    const [g0] = broker.broker.services.groups.describeGroups([group]);
    assert.equal(g0!.protocolData, 'cooperative-sticky');
    start(group, 'kcat-coop', [2], consumed, coop);
    const after = await waitFor(
      'three members with two partitions each',
      () => {
        const a = assignments(group);
        return a.length === 3 && a.every((p) => p.length === 2) ? a : undefined;
      },
      30_000,
    );
    // Sticky: each original member kept two of its three partitions.
    for (const kept of before) {
      assert.ok(
        after.some((a) => a.filter((p) => kept.includes(p)).length === 2),
        `kept two of ${kept}`,
      );
    }
    await produce('kcat-coop', 0, 60);
    await waitFor('60 records', () => (new Set(consumed.map((c) => c.value)).size === 60 ? true : undefined), 30_000);
  });

  kcatTest('kcat’s commits are offsets other clients resume from', T, async () => {
    const group = 'kcat-commits';
    topics.set(group, 'kcat-commits');
    await createTopic(broker, 'kcat-commits', 6);
    await produce('kcat-commits', 0, 60);
    const consumed: Consumed[] = [];
    const [m] = start(group, 'kcat-commits', [0], consumed);
    await waitFor('60 records', () => (consumed.length === 60 ? true : undefined), 30_000);
    await sleep(500);
    await m!.kill('SIGTERM'); // a clean close: the last offsets are committed, the member leaves
    const committed = await fetchCommitted(raw, group, [
      { name: 'kcat-commits', partitionIndexes: [0, 1, 2, 3, 4, 5] },
    ]);
    assert.deepEqual([...committed.offsets.values()], [10n, 10n, 10n, 10n, 10n, 10n]);
    await produce('kcat-commits', 60, 12);
    // kafkajs in the same group resumes after what kcat consumed.
    const consumer = new Kafka({
      clientId: 'resume',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
    }).consumer({
      groupId: group,
      maxWaitTimeInMs: 100,
    });
    const resumed: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'kcat-commits', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        resumed.push(message.value!.toString());
      },
    });
    await waitFor('the 12 new records', () => (resumed.length >= 12 ? true : undefined), 30_000);
    await sleep(300);
    assert.deepEqual(resumed.sort(), Array.from({ length: 12 }, (_, i) => `v${60 + i}`).sort());
    await consumer.disconnect();
  });
});
