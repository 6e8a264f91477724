import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Admin } from '../../src/client/admin.ts';
import { Consumer, type ConsumerRecord } from '../../src/client/consumer/consumer.ts';
import type { KafkaError } from '../../src/client/errors.ts';
import { partitionForKey } from '../../src/client/partitioner.ts';
import { type CompressionType, Producer } from '../../src/client/producer/producer.ts';
import { deserializers, serializers } from '../../src/client/serializers.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { startTestBroker, uniqueName } from './helpers.ts';

const broker = await startTestBroker({ config: { 'group.initial.rebalance.delay.ms': 0 } });
const admin = new Admin({ bootstrap: broker.bootstrap });
after(async () => {
  await admin.close();
  await broker.close();
});

const DATA = [ApiKey.Produce, ApiKey.Fetch, ApiKey.ListOffsets];

function stringConsumer(options: Partial<ConstructorParameters<typeof Consumer<string, string>>[0]> = {}) {
  return new Consumer<string, string>({
    bootstrap: broker.bootstrap,
    keyDeserializer: deserializers.string,
    valueDeserializer: deserializers.string,
    autoOffsetReset: 'earliest',
    ...options,
  });
}

/** Reads `count` records of the given partitions from the beginning, without a group. */
async function readAll(
  topic: string,
  partitions: number[],
  count: number,
): Promise<Array<ConsumerRecord<string, string>>> {
  const consumer = stringConsumer();
  consumer.assign(partitions.map((partition) => ({ topic, partition })));
  const out: Array<ConsumerRecord<string, string>> = [];
  const deadline = Date.now() + 15_000;
  try {
    while (out.length < count && Date.now() < deadline) out.push(...(await consumer.poll({ timeoutMs: 500 })));
  } finally {
    await consumer.close();
  }
  return out;
}

describe('producer and consumer against our broker', { timeout: 300_000 }, () => {
  for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as CompressionType[]) {
    test(
      `keys, values, headers and timestamps survive the round trip (${compression})`,
      broker.needs(...DATA),
      async () => {
        const topic = uniqueName(`rt-${compression}`);
        await admin.createTopic(topic, { partitions: 1 });
        const producer = new Producer<string, string>({
          bootstrap: broker.bootstrap,
          compression,
          keySerializer: serializers.string as (v: string) => Buffer,
          valueSerializer: serializers.string as (v: string) => Buffer,
        });
        const sent = Array.from({ length: 50 }, (_, i) => ({
          topic,
          key: i % 5 === 0 ? null : `key-${i}`,
          value: i % 7 === 0 ? null : `value-${i}-${'x'.repeat(i * 10)}`,
          headers: [
            { key: 'h', value: `v${i}` },
            { key: 'h', value: 'repeated' },
            { key: 'empty', value: null },
          ],
          timestamp: 1_700_000_000_000 + i,
        }));
        try {
          const metadata = await producer.sendBatch(sent);
          assert.deepEqual(
            metadata.map((m) => m.offset),
            sent.map((_, i) => BigInt(i)),
          );
        } finally {
          await producer.close();
        }
        const got = await readAll(topic, [0], sent.length);
        assert.equal(got.length, sent.length);
        got.forEach((r, i) => {
          assert.equal(r.offset, BigInt(i));
          assert.equal(r.key, sent[i]!.key);
          assert.equal(r.value, sent[i]!.value);
          assert.equal(r.timestamp, BigInt(sent[i]!.timestamp));
          assert.equal(r.timestampType, 'create-time');
          assert.deepEqual(
            r.headers.map((h) => [h.key, h.value?.toString() ?? null]),
            [
              ['h', `v${i}`],
              ['h', 'repeated'],
              ['empty', null],
            ],
          );
        });
      },
    );
  }

  test('keyed records go to the partition the Java client would pick', broker.needs(...DATA), async () => {
    const topic = uniqueName('keyed');
    await admin.createTopic(topic, { partitions: 7 });
    const producer = new Producer({ bootstrap: broker.bootstrap });
    const keys = Array.from({ length: 100 }, (_, i) => `customer-${i}`);
    try {
      const metadata = await producer.sendBatch(keys.map((key) => ({ topic, key, value: key })));
      metadata.forEach((m, i) => {
        assert.equal(m.partition, partitionForKey(Buffer.from(keys[i]!), 7));
      });
    } finally {
      await producer.close();
    }
    const got = await readAll(topic, [0, 1, 2, 3, 4, 5, 6], keys.length);
    for (const r of got) assert.equal(r.partition, partitionForKey(Buffer.from(r.key!), 7));
  });

  test(
    'records without keys stick to a partition per batch rather than spreading one by one',
    broker.needs(...DATA),
    async () => {
      const topic = uniqueName('sticky');
      await admin.createTopic(topic, { partitions: 4 });
      const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 50 });
      try {
        const metadata = await producer.sendBatch(Array.from({ length: 20 }, (_, i) => ({ topic, value: `v${i}` })));
        assert.equal(new Set(metadata.map((m) => m.partition)).size, 1);
      } finally {
        await producer.close();
      }
    },
  );

  for (const acks of [0, 1, -1] as const) {
    test(`acks=${acks} delivers`, broker.needs(...DATA), async () => {
      const topic = uniqueName(`acks${acks}`);
      await admin.createTopic(topic, { partitions: 1 });
      const producer = new Producer({ bootstrap: broker.bootstrap, acks, idempotent: acks === -1 ? undefined : false });
      try {
        const m = await producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}` })));
        if (acks === 0) assert.ok(m.every((x) => x.offset === -1n));
        else assert.deepEqual(m.at(-1)!.offset, 9n);
      } finally {
        await producer.close();
      }
      assert.equal((await readAll(topic, [0], 10)).length, 10);
    });
  }

  test('a full buffer makes enqueue wait; everything arrives in order', broker.needs(...DATA), async () => {
    const topic = uniqueName('backpressure');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ bootstrap: broker.bootstrap, bufferMemory: 4096, batchSize: 1024, lingerMs: 5 });
    const value = 'x'.repeat(200);
    let maxWaiting = 0;
    let acknowledged = 0;
    try {
      for (let i = 0; i < 300; i++) {
        const { delivery } = await producer.enqueue({ topic, key: `${i}`, value });
        delivery.then(() => acknowledged++);
        // Never more than buffer.memory's worth of records unacknowledged.
        maxWaiting = Math.max(maxWaiting, i + 1 - acknowledged);
      }
      await producer.flush();
    } finally {
      await producer.close();
    }
    assert.equal(acknowledged, 300);
    assert.ok(maxWaiting <= Math.ceil(4096 / 200) + 1, `up to ${maxWaiting} records were buffered`);
    const got = await readAll(topic, [0], 300);
    assert.deepEqual(
      got.map((r) => r.key),
      Array.from({ length: 300 }, (_, i) => `${i}`),
    );
  });

  test('flush sends lingering records at once', broker.needs(...DATA), async () => {
    const topic = uniqueName('flush');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 60_000 });
    try {
      const { delivery } = await producer.enqueue({ topic, value: 'late' });
      const started = Date.now();
      await producer.flush();
      assert.ok(Date.now() - started < 5_000);
      assert.equal((await delivery).offset, 0n);
    } finally {
      await producer.close();
    }
  });

  test('a record larger than maxRequestSize fails at once with MESSAGE_TOO_LARGE', broker.needs(...DATA), async () => {
    const producer = new Producer({ bootstrap: broker.bootstrap, maxRequestSize: 1000 });
    try {
      await assert.rejects(
        producer.send({ topic: uniqueName('big'), value: 'x'.repeat(2000) }),
        (e: KafkaError) => e.code === 'MESSAGE_TOO_LARGE',
      );
    } finally {
      await producer.close();
    }
  });

  test('seek to an offset, a timestamp, the beginning and the end', broker.needs(...DATA), async () => {
    const topic = uniqueName('seek');
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ bootstrap: broker.bootstrap });
    await producer.sendBatch(
      Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}`, timestamp: 5_000 + i * 10 })),
    );
    const consumer = stringConsumer();
    const tp = { topic, partition: 0 };
    try {
      consumer.assign([tp]);
      const first = async () => (await consumer.poll({ timeoutMs: 5_000, maxRecords: 1 }))[0];
      assert.equal((await first())?.value, 'v0');
      consumer.seek(tp, 7n);
      assert.equal((await first())?.value, 'v7');
      consumer.seekToTimestamp(5_035, [tp]);
      assert.equal((await first())?.value, 'v4');
      consumer.seekToBeginning([tp]);
      assert.equal((await first())?.value, 'v0');
      consumer.seekToEnd([tp]);
      assert.equal((await consumer.poll({ timeoutMs: 300 })).length, 0);
      await producer.send({ topic, value: 'v10' });
      assert.equal((await first())?.value, 'v10');
      assert.equal(consumer.position(tp), 11n);
    } finally {
      await producer.close();
      await consumer.close();
    }
  });

  test(
    'a position deleted under the consumer (OFFSET_OUT_OF_RANGE) resets by autoOffsetReset',
    broker.needs(...DATA, ApiKey.DeleteRecords),
    async () => {
      const topic = uniqueName('out-of-range');
      await admin.createTopic(topic, { partitions: 1 });
      const producer = new Producer({ bootstrap: broker.bootstrap });
      await producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}` })));
      await producer.close();
      await admin.deleteRecords([{ topic, partition: 0, offset: 6n }]);
      const consumer = stringConsumer({ autoOffsetReset: 'earliest' });
      try {
        consumer.assign([{ topic, partition: 0 }]);
        consumer.seek({ topic, partition: 0 }, 2n);
        const [first] = await consumer.poll({ timeoutMs: 5_000, maxRecords: 1 });
        assert.equal(first?.offset, 6n);
        assert.equal(first?.value, 'v6');
      } finally {
        await consumer.close();
      }
    },
  );

  test('paused partitions return nothing until resumed', broker.needs(...DATA), async () => {
    const topic = uniqueName('pause');
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ bootstrap: broker.bootstrap });
    await producer.sendBatch([0, 1].map((partition) => ({ topic, partition, value: `p${partition}` })));
    await producer.close();
    const consumer = stringConsumer();
    try {
      consumer.assign([0, 1].map((partition) => ({ topic, partition })));
      consumer.pause([{ topic, partition: 1 }]);
      const seen: string[] = [];
      const deadline = Date.now() + 1_500;
      while (Date.now() < deadline) for (const r of await consumer.poll({ timeoutMs: 200 })) seen.push(r.value!);
      assert.deepEqual(seen, ['p0']);
      assert.deepEqual(consumer.paused(), [{ topic, partition: 1 }]);
      consumer.resume([{ topic, partition: 1 }]);
      for (let i = 0; i < 20 && seen.length < 2; i++)
        for (const r of await consumer.poll({ timeoutMs: 250 })) seen.push(r.value!);
      assert.deepEqual(seen, ['p0', 'p1']);
    } finally {
      await consumer.close();
    }
  });

  test(
    'the batch API and manual commits with a group',
    broker.needs(...DATA, ApiKey.OffsetCommit, ApiKey.OffsetFetch),
    async () => {
      const topic = uniqueName('batches');
      const groupId = uniqueName('batches-group');
      await admin.createTopic(topic, { partitions: 1 });
      const producer = new Producer({ bootstrap: broker.bootstrap });
      await producer.sendBatch(Array.from({ length: 25 }, (_, i) => ({ topic, value: `v${i}` })));
      await producer.close();
      const tp = { topic, partition: 0 };
      const consumer = stringConsumer({ groupId, autoCommit: false });
      try {
        consumer.assign([tp]);
        let total = 0;
        for await (const batch of consumer.batches({ maxRecords: 10 })) {
          assert.ok(batch.length <= 10);
          total += batch.length;
          if (total >= 15) {
            await consumer.commit(batch.at(-1)!);
            break;
          }
        }
        assert.deepEqual(await consumer.committed([tp]), [{ ...tp, offset: BigInt(total) }]);
      } finally {
        await consumer.close();
      }
      // A new consumer of the group starts at the committed offset.
      const next = stringConsumer({ groupId, autoCommit: false });
      try {
        next.assign([tp]);
        const [r] = await next.poll({ timeoutMs: 5_000, maxRecords: 1 });
        assert.ok(r);
        assert.ok(r.offset >= 15n);
      } finally {
        await next.close();
      }
    },
  );

  test(
    'with auto-commit on, a record committed by hand is not taken back by the commit on close',
    broker.needs(...DATA, ApiKey.OffsetCommit, ApiKey.OffsetFetch),
    async () => {
      const topic = uniqueName('manual-and-auto');
      const groupId = uniqueName('manual-and-auto-group');
      await admin.createTopic(topic, { partitions: 1 });
      const producer = new Producer({ bootstrap: broker.bootstrap });
      await producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}` })));
      await producer.close();
      const tp = { topic, partition: 0 };
      const consumer = stringConsumer({ groupId });
      try {
        consumer.assign([tp]);
        for await (const record of consumer) {
          // Processed, so committed at once: the loop does not ask for the next record.
          await consumer.commit(record);
          if (record.offset === 4n) break;
        }
      } finally {
        await consumer.close();
      }
      const check = stringConsumer({ groupId, autoCommit: false });
      try {
        assert.deepEqual(await check.committed([tp]), [{ ...tp, offset: 5n }]);
      } finally {
        await check.close();
      }
    },
  );

  test('idempotence is on when the broker serves InitProducerId, and falls back with a warning when not', async () => {
    const topic = uniqueName('idempotence');
    await admin.createTopic(topic, { partitions: 1 });
    const warnings: string[] = [];
    const producer = new Producer({ bootstrap: broker.bootstrap, logger: { warn: (m) => warnings.push(m) } });
    try {
      await producer.connect();
      if (broker.serves(ApiKey.InitProducerId)) {
        assert.equal(producer.idempotence.enabled, true);
        assert.ok(producer.idempotence.producerId >= 0n);
        assert.deepEqual(warnings, []);
      } else {
        assert.equal(producer.idempotence.enabled, false);
        assert.equal(producer.idempotence.reason, 'the broker does not serve InitProducerId');
        assert.equal(warnings.length, 1);
        assert.match(warnings[0]!, /Idempotence is off/);
        const explicit = new Producer({ bootstrap: broker.bootstrap, idempotent: true });
        await assert.rejects(explicit.connect(), (e: KafkaError) => e.code === 'UNSUPPORTED_VERSION');
        await explicit.close();
      }
      if (broker.serves(ApiKey.Produce)) assert.equal((await producer.send({ topic, value: 'x' })).offset, 0n);
    } finally {
      await producer.close();
    }
  });

  test(
    'transactions: read_committed sees committed records only, read_uncommitted sees all',
    broker.needs(...DATA, ApiKey.InitProducerId, ApiKey.AddPartitionsToTxn, ApiKey.EndTxn, ApiKey.FindCoordinator),
    async () => {
      const topic = uniqueName('txn');
      await admin.createTopic(topic, { partitions: 1 });
      const producer = new Producer({ bootstrap: broker.bootstrap, transactionalId: uniqueName('txn-id') });
      try {
        await producer.initTransactions();
        producer.beginTransaction();
        await producer.sendBatch([0, 1].map((i) => ({ topic, value: `committed-${i}` })));
        await producer.commitTransaction();
        producer.beginTransaction();
        await producer.sendBatch([0, 1].map((i) => ({ topic, value: `aborted-${i}` })));
        await producer.abortTransaction();
        producer.beginTransaction();
        await producer.send({ topic, value: 'committed-2' });
        await producer.commitTransaction();
      } finally {
        await producer.close();
      }
      const committed = stringConsumer({ isolationLevel: 'read_committed' });
      committed.assign([{ topic, partition: 0 }]);
      const values: string[] = [];
      for (let i = 0; i < 20 && values.length < 3; i++) {
        for (const r of await committed.poll({ timeoutMs: 250 })) values.push(r.value!);
      }
      await committed.close();
      assert.deepEqual(values, ['committed-0', 'committed-1', 'committed-2']);
      const all = await readAll(topic, [0], 5);
      assert.deepEqual(
        all.map((r) => r.value),
        ['committed-0', 'committed-1', 'aborted-0', 'aborted-1', 'committed-2'],
      );
    },
  );
  test(
    'read_committed waits for an open transaction; consume-transform-produce commits offsets with the records',
    broker.needs(
      ...DATA,
      ApiKey.InitProducerId,
      ApiKey.AddPartitionsToTxn,
      ApiKey.AddOffsetsToTxn,
      ApiKey.TxnOffsetCommit,
      ApiKey.EndTxn,
      ApiKey.JoinGroup,
    ),
    async () => {
      const input = uniqueName('eos-in');
      const output = uniqueName('eos-out');
      const groupId = uniqueName('eos-group');
      await admin.createTopics([
        { name: input, partitions: 1 },
        { name: output, partitions: 1 },
      ]);
      const plain = new Producer({ bootstrap: broker.bootstrap });
      await plain.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic: input, value: `${i}` })));
      await plain.close();

      const reader = stringConsumer({ isolationLevel: 'read_committed' });
      reader.assign([{ topic: output, partition: 0 }]);
      const consumer = stringConsumer({
        groupId,
        groupProtocol: 'classic',
        autoCommit: false,
        isolationLevel: 'read_committed',
      });
      consumer.subscribe([input]);
      const producer = new Producer({ bootstrap: broker.bootstrap, transactionalId: uniqueName('eos-txn') });
      try {
        await producer.initTransactions();
        const records = [];
        while (records.length < 10) records.push(...(await consumer.poll({ timeoutMs: 500 })));
        producer.beginTransaction();
        for (const r of records) await producer.send({ topic: output, value: `${Number(r.value) * 2}` });
        await producer.flush();
        // Flushed but not committed: a read_committed reader sees nothing yet.
        assert.deepEqual(await reader.poll({ timeoutMs: 500 }), []);
        await producer.sendOffsetsToTransaction(
          [{ topic: input, partition: 0, offset: records.at(-1)!.offset + 1n }],
          consumer.groupMetadata(),
        );
        await producer.commitTransaction();
        const doubled: string[] = [];
        for (let i = 0; i < 20 && doubled.length < 10; i++) {
          for (const r of await reader.poll({ timeoutMs: 250 })) doubled.push(r.value!);
        }
        assert.deepEqual(
          doubled,
          Array.from({ length: 10 }, (_, i) => `${i * 2}`),
        );
        assert.deepEqual(await consumer.committed([{ topic: input, partition: 0 }]), [
          { topic: input, partition: 0, offset: 10n },
        ]);
      } finally {
        await producer.close();
        await consumer.close();
        await reader.close();
      }
    },
  );
});

describe('closing when the broker is gone', { timeout: 60_000 }, () => {
  test('producer and consumer close within their time limits', broker.needs(...DATA), async () => {
    const gone = await startTestBroker();
    const topic = uniqueName('gone');
    const producer = new Producer({ bootstrap: gone.bootstrap, lingerMs: 0 });
    await producer.send({ topic, value: 'x' });
    const consumer = new Consumer({
      bootstrap: gone.bootstrap,
      groupId: uniqueName('gone-group'),
      groupProtocol: 'classic',
    });
    consumer.assign([{ topic, partition: 0 }]);
    await consumer.poll({ timeoutMs: 500 });
    await gone.close();
    const { delivery } = await producer.enqueue({ topic, value: 'lost' });
    const started = Date.now();
    await producer.close({ timeoutMs: 1_000 });
    await assert.rejects(delivery, (e: KafkaError) => e.code === 'CLIENT_CLOSED');
    await consumer.close({ timeoutMs: 1_000 });
    assert.ok(Date.now() - started < 10_000, `closing took ${Date.now() - started} ms`);
  });
});
