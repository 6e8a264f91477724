/**
 * What Burrow and other lag tools rely on: a plain consumer (kafkajs here) reading the
 * internal topic `__consumer_offsets` sees each commit, in Kafka's key and value formats.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import type { StartedBroker } from '../../src/broker/start-broker.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { commit, createTopic, startGroupBroker, waitFor } from './helpers.ts';

const { Kafka, logLevel } = kafkajs;

interface SeenCommit {
  group: string;
  topic: string;
  partition: number;
  offset: bigint | null;
  metadata: string | null;
}

/** Kafka's formats, decoded by hand: key = int16 version + (group, topic, partition); value = int16 version + fields. */
function decodeCommit(key: Buffer, value: Buffer | null): SeenCommit | null {
  const k = new Reader(key);
  const version = k.int16();
  if (version !== 0 && version !== 1) return null; // group metadata and KIP-848 records
  const commitKey = { group: k.string(), topic: k.string(), partition: k.int32() };
  if (value === null) return { ...commitKey, offset: null, metadata: null };
  const v = new Reader(value);
  const valueVersion = v.int16();
  const offset = v.int64();
  if (valueVersion >= 3) v.int32(); // leader epoch
  const metadata = v.string();
  return { ...commitKey, offset, metadata };
}

let broker: StartedBroker;
before(async () => {
  broker = await startGroupBroker();
});
after(async () => {
  await broker.close();
});

test('a kafkajs consumer of __consumer_offsets decodes each commit', { timeout: 30_000 }, async () => {
  await createTopic(broker, 'watched', 2);
  const raw = await RawClient.connect(broker.port);
  const commits = [
    { topic: 'watched', partition: 0, offset: 10n, metadata: 'first' },
    { topic: 'watched', partition: 1, offset: 20n, metadata: 'second' },
    { topic: 'watched', partition: 0, offset: 11n, metadata: 'third' },
  ];
  for (const c of commits) await commit(raw, { groupId: 'lag-watched', offsets: [c] });

  const consumer = new Kafka({
    clientId: 'lag-tool',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
  }).consumer({
    groupId: 'lag-tool',
    maxWaitTimeInMs: 100,
  });
  const seen: SeenCommit[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: '__consumer_offsets', fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const decoded = decodeCommit(message.key!, message.value);
      if (decoded?.group === 'lag-watched') seen.push(decoded);
    },
  });
  await waitFor('the three commits', () => (seen.length >= 3 ? true : undefined), 20_000);
  assert.deepEqual(
    seen.map((s) => [s.topic, s.partition, s.offset, s.metadata]),
    commits.map((c) => [c.topic, c.partition, c.offset, c.metadata]),
  );
  // A later commit shows up as it happens.
  await commit(raw, {
    groupId: 'lag-watched',
    offsets: [{ topic: 'watched', partition: 1, offset: 21n, metadata: 'live' }],
  });
  await waitFor('the live commit', () => (seen.length >= 4 ? true : undefined), 20_000);
  assert.deepEqual([seen[3]!.partition, seen[3]!.offset, seen[3]!.metadata], [1, 21n, 'live']);
  await consumer.disconnect();
  raw.close();
});
