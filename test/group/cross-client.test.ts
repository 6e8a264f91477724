/**
 * Offsets committed by one client library are where another resumes: kafkajs (OffsetCommit
 * v5 and older), @platformatic/kafka (v8–v9, classic and KIP-848) and kcat (librdkafka),
 * in the same group one after the other. A KIP-848 group emptied by its members goes back
 * to being a classic group for the next client, its offsets intact.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { kcatTest } from '../broker/data-path/helpers.ts';
import { createTopic, sleep, startGroupBroker, waitFor } from './helpers.ts';

const { Kafka, logLevel } = kafkajs;
const T = { timeout: 60_000 };

describe('offsets across client libraries', () => {
  let broker: StartedBroker;
  before(async () => {
    broker = await startGroupBroker({ config: { 'group.initial.rebalance.delay.ms': 100 } });
  });
  after(async () => {
    await broker.close();
  });

  const kafka = () => new Kafka({ clientId: 'cross', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });

  async function produce(topic: string, from: number, count: number): Promise<void> {
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: count }, (_, j) => ({ value: `v${from + j}`, partition: (from + j) % 3 })),
    });
    await producer.disconnect();
  }

  /** kafkajs consumes until it has `count` records, commits them, and leaves. */
  async function consumeWithKafkajs(group: string, topic: string, count: number): Promise<string[]> {
    const consumer = kafka().consumer({ groupId: group, maxWaitTimeInMs: 100 });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString());
      },
    });
    await waitFor(`${count} records with kafkajs`, () => (seen.length >= count ? true : undefined), 30_000);
    await sleep(300);
    await consumer.disconnect(); // commits what was processed, then leaves
    return seen;
  }

  /** @platformatic/kafka consumes from the committed offsets until it has `count` records, committing each. */
  async function consumeWithPlatformatic(
    group: string,
    topic: string,
    count: number,
    protocol: 'classic' | 'consumer',
  ) {
    const consumer = new Consumer({
      clientId: `cross-${protocol}`,
      groupId: group,
      bootstrapBrokers: [broker.bootstrap],
      deserializers: stringDeserializers,
      maxWaitTime: 100,
      ...(protocol === 'consumer'
        ? { groupProtocol: 'consumer' as const, rebalanceTimeout: 60_000 }
        : { groupProtocol: 'classic' as const, sessionTimeout: 6000, heartbeatInterval: 300 }),
    });
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    const seen: string[] = [];
    for await (const message of stream) {
      seen.push(message.value);
      await message.commit();
      if (seen.length >= count) break;
    }
    await stream.close();
    await consumer.close();
    return seen;
  }

  const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => `v${from + i}`).sort();

  test('kafkajs → @platformatic/kafka (classic) → @platformatic/kafka (KIP-848) → kafkajs', T, async () => {
    await createTopic(broker, 'cross-a', 3);
    const group = 'cross-a-group';
    await produce('cross-a', 0, 30);
    assert.deepEqual((await consumeWithKafkajs(group, 'cross-a', 30)).sort(), range(0, 30));
    await produce('cross-a', 30, 9);
    assert.deepEqual((await consumeWithPlatformatic(group, 'cross-a', 9, 'classic')).sort(), range(30, 9));
    await produce('cross-a', 39, 6);
    // The empty classic group becomes a KIP-848 group, and back again for kafkajs.
    assert.deepEqual((await consumeWithPlatformatic(group, 'cross-a', 6, 'consumer')).sort(), range(39, 6));
    await produce('cross-a', 45, 3);
    assert.deepEqual((await consumeWithKafkajs(group, 'cross-a', 3)).sort(), range(45, 3));
  });

  kcatTest('@platformatic/kafka → kcat', T, async () => {
    await createTopic(broker, 'cross-b', 3);
    const group = 'cross-b-group';
    await produce('cross-b', 0, 12);
    assert.deepEqual((await consumeWithPlatformatic(group, 'cross-b', 12, 'classic')).sort(), range(0, 12));
    await produce('cross-b', 12, 6);
    const kcat = spawn('kcat', [
      '-b',
      broker.bootstrap,
      '-G',
      group,
      'cross-b',
      '-q',
      '-u',
      '-f',
      '%s\\n',
      '-X',
      'fetch.wait.max.ms=100',
    ]);
    let out = '';
    kcat.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    kcat.stderr.resume();
    try {
      await waitFor(
        'kcat to read the new records',
        () => (out.split('\n').filter(Boolean).length >= 6 ? true : undefined),
        30_000,
      );
      await sleep(500);
      assert.deepEqual(out.split('\n').filter(Boolean).sort(), range(12, 6));
    } finally {
      kcat.kill('SIGKILL');
    }
  });
});
