import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.ts';
import { Consumer, type ConsumerRecord } from '../../src/client/consumer/consumer.ts';
import { type CompressionType, Producer } from '../../src/client/producer/producer.ts';
import { deserializers } from '../../src/client/serializers.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { startTestBroker, uniqueName } from './helpers.ts';
import { kcatConsumeJson, kcatTest, runKcat } from './kcat.ts';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: kafkajs ships no types we can import here
const { Kafka, CompressionTypes, logLevel } = require('kafkajs') as any;

const broker = await startTestBroker({ config: { 'group.initial.rebalance.delay.ms': 0 } });
const admin = new Admin({ bootstrap: broker.bootstrap });
after(async () => {
  await admin.close();
  await broker.close();
});

const DATA = broker.needs(ApiKey.Produce, ApiKey.Fetch, ApiKey.ListOffsets);
const CODECS: CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** What every reader must agree on, as text. */
interface Seen {
  key: string | null;
  value: string | null;
  headers: Array<[string, string]>;
  timestamp: string;
}

function sample(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 4 === 3 ? null : `key-${i}`,
    value: `value-${i}-${'abc'.repeat(i)}`,
    headers: { 'trace-id': `t${i}`, source: 'tributary' },
    timestamp: 1_700_000_000_000 + i * 1000,
  }));
}

const expected = (rows: ReturnType<typeof sample>): Seen[] =>
  rows.map((r) => ({
    key: r.key,
    value: r.value,
    headers: Object.entries(r.headers),
    timestamp: String(r.timestamp),
  }));

async function ourRead(topic: string, count: number): Promise<Seen[]> {
  const consumer = new Consumer<string, string>({
    bootstrap: broker.bootstrap,
    keyDeserializer: deserializers.string,
    valueDeserializer: deserializers.string,
  });
  consumer.assign([{ topic, partition: 0 }]);
  consumer.seekToBeginning();
  const out: Array<ConsumerRecord<string, string>> = [];
  try {
    const deadline = Date.now() + 15_000;
    while (out.length < count && Date.now() < deadline) out.push(...(await consumer.poll({ timeoutMs: 300 })));
  } finally {
    await consumer.close();
  }
  return out.map((r) => ({
    key: r.key,
    value: r.value,
    headers: r.headers.map((h) => [h.key, h.value?.toString() ?? ''] as [string, string]),
    timestamp: String(r.timestamp),
  }));
}

async function kafkajsRead(topic: string, count: number): Promise<Seen[]> {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('kafkajs-reader') });
  const out: Seen[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      // biome-ignore lint/suspicious/noExplicitAny: kafkajs message
      eachMessage: async ({ message }: any) => {
        out.push({
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          headers: Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
          timestamp: message.timestamp,
        });
        if (out.length >= count) done();
      },
    });
    await Promise.race([finished, new Promise((r) => setTimeout(r, 20_000))]);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function fromKcat(records: Awaited<ReturnType<typeof kcatConsumeJson>>): Seen[] {
  return records.map((r) => {
    const headers: Array<[string, string]> = [];
    for (let i = 0; i + 1 < (r.headers?.length ?? 0); i += 2) headers.push([r.headers![i]!, r.headers![i + 1]!]);
    return { key: r.key, value: r.payload, headers, timestamp: String(r.ts) };
  });
}

describe('interop: what our producer writes, kcat and kafkajs read identically', { timeout: 300_000 }, () => {
  for (const compression of CODECS) {
    kcatTest(
      `kcat reads our ${compression} records: keys, values, headers, timestamps`,
      { ...DATA, timeout: 60_000 },
      async () => {
        const topic = uniqueName(`ours-to-kcat-${compression}`);
        await admin.createTopic(topic, { partitions: 1 });
        const rows = sample(30);
        const producer = new Producer({ bootstrap: broker.bootstrap, compression });
        try {
          await producer.sendBatch(rows.map((r) => ({ topic, partition: 0, ...r })));
        } finally {
          await producer.close();
        }
        assert.deepEqual(fromKcat(await kcatConsumeJson(broker.bootstrap, topic)), expected(rows));
        // The format line of the brief, for a person to read: `%k %s %h %T`.
        const formatted = await runKcat(['-C', '-b', broker.bootstrap, '-t', topic, '-e', '-q', '-f', '%k %s %h %T\n']);
        assert.equal(
          formatted.stdout.split('\n')[0],
          `key-0 value-0- trace-id=t0,source=tributary ${rows[0]!.timestamp}`,
        );
      },
    );
  }

  for (const compression of ['none', 'gzip'] as CompressionType[]) {
    test(`kafkajs reads our ${compression} records the same way`, { ...DATA, timeout: 60_000 }, async () => {
      const topic = uniqueName(`ours-to-kafkajs-${compression}`);
      await admin.createTopic(topic, { partitions: 1 });
      const rows = sample(20);
      const producer = new Producer({ bootstrap: broker.bootstrap, compression });
      try {
        await producer.sendBatch(rows.map((r) => ({ topic, partition: 0, ...r })));
      } finally {
        await producer.close();
      }
      assert.deepEqual(await kafkajsRead(topic, rows.length), expected(rows));
    });
  }
});

describe('interop: what kcat and kafkajs write, our consumer reads identically', { timeout: 300_000 }, () => {
  for (const compression of CODECS) {
    kcatTest(
      `our consumer reads kcat’s ${compression} records as kcat does`,
      { ...DATA, timeout: 60_000 },
      async () => {
        const topic = uniqueName(`kcat-to-ours-${compression}`);
        await admin.createTopic(topic, { partitions: 1 });
        const lines = Array.from({ length: 30 }, (_, i) => `k${i}:v${i}-${'z'.repeat(i * 3)}`).join('\n');
        const produced = await runKcat(
          [
            '-P',
            '-b',
            broker.bootstrap,
            '-t',
            topic,
            '-p',
            '0',
            '-K:',
            '-z',
            compression,
            '-H',
            'origin=kcat',
            '-H',
            `codec=${compression}`,
          ],
          `${lines}\n`,
        );
        assert.equal(produced.code, 0, produced.stderr);
        const viaKcat = fromKcat(await kcatConsumeJson(broker.bootstrap, topic));
        assert.equal(viaKcat.length, 30);
        assert.deepEqual(await ourRead(topic, 30), viaKcat);
        assert.deepEqual(viaKcat[1]!.headers, [
          ['origin', 'kcat'],
          ['codec', compression],
        ]);
      },
    );
  }

  for (const compression of ['none', 'gzip'] as const) {
    test(`our consumer reads kafkajs’s ${compression} records`, { ...DATA, timeout: 60_000 }, async () => {
      const topic = uniqueName(`kafkajs-to-ours-${compression}`);
      await admin.createTopic(topic, { partitions: 1 });
      const rows = sample(25);
      const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      try {
        await producer.send({
          topic,
          compression: compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          messages: rows.map((r) => ({ partition: 0, ...r, timestamp: String(r.timestamp) })),
        });
      } finally {
        await producer.disconnect();
      }
      assert.deepEqual(await ourRead(topic, rows.length), expected(rows));
    });
  }
});
