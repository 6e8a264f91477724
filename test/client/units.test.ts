import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeFetchedRecords } from '../../src/client/consumer/fetcher.ts';
import { KafkaError } from '../../src/client/errors.ts';
import { parseBootstrap } from '../../src/client/options.ts';
import { RecordAccumulator } from '../../src/client/producer/accumulator.ts';
import type { PendingRecord } from '../../src/client/producer/batch.ts';
import { BufferPool } from '../../src/client/producer/buffer-pool.ts';
import { deserializers, serializers } from '../../src/client/serializers.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { CompressionCodec, setMaxTimestamp, TimestampType } from '../../src/protocol/records/batch-header.ts';
import { ControlRecordType, createControlBatch } from '../../src/protocol/records/control-record.ts';
import { createRecordBatch, encodeRecordBatch } from '../../src/protocol/records/record-batch.ts';

describe('serializers', () => {
  test('string, json and bytes round-trip, and null stays null', () => {
    assert.deepEqual(serializers.string('héllo', 't'), Buffer.from('héllo'));
    assert.equal(deserializers.string(Buffer.from('héllo'), 't'), 'héllo');
    assert.equal(serializers.string(null, 't'), null);
    const value = { a: 1, b: [true, null, 'x'] };
    assert.deepEqual(deserializers.json(serializers.json(value, 't')!, 't'), value);
    assert.equal(serializers.json(null, 't'), null);
    const bytes = new Uint8Array([1, 2, 3]);
    assert.deepEqual(serializers.bytes(bytes, 't'), Buffer.from([1, 2, 3]));
    assert.deepEqual(serializers.bytes('ab', 't'), Buffer.from('ab'));
    assert.equal(serializers.bytes(null, 't'), null);
  });
});

describe('errors', () => {
  test('KafkaError.fromCode carries the stable name, the code and the retriable flag of Kafka’s table', () => {
    const e = KafkaError.fromCode(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'Cannot produce to "t-0"');
    assert.equal(e.code, 'NOT_LEADER_OR_FOLLOWER');
    assert.equal(e.errorCode, 6);
    assert.equal(e.retriable, true);
    assert.equal(e.message, 'Cannot produce to "t-0": Not leader or follower (NOT_LEADER_OR_FOLLOWER)');
    const f = KafkaError.fromCode(ErrorCode.TOPIC_ALREADY_EXISTS, 'Cannot create topic "t"', 'Topic "t" exists');
    assert.equal(f.retriable, false);
    assert.equal(f.message, 'Cannot create topic "t": Topic "t" exists (TOPIC_ALREADY_EXISTS)');
    assert.ok(f instanceof Error);
  });
});

describe('bootstrap', () => {
  test('host:port lists, IPv6 and default ports', () => {
    assert.deepEqual(parseBootstrap('a:1, b:2'), [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    assert.deepEqual(parseBootstrap(['[::1]:9093', 'kafka']), [
      { host: '::1', port: 9093 },
      { host: 'kafka', port: 9092 },
    ]);
    assert.deepEqual(parseBootstrap('PLAINTEXT://127.0.0.1:9092'), [{ host: '127.0.0.1', port: 9092 }]);
    assert.throws(() => parseBootstrap(''), /No bootstrap brokers/);
    assert.throws(() => parseBootstrap('a:99999'), /Invalid broker address/);
  });
});

function pending(size: number): PendingRecord {
  return { key: null, value: Buffer.alloc(size), headers: [], timestamp: 0n, size, resolve() {}, reject() {} };
}

describe('record accumulator', () => {
  test('fills batches up to batch.size, then opens a new one', () => {
    const acc = new RecordAccumulator({ batchSize: 200, lingerMs: 1000 });
    const a = acc.append('t', 0, pending(50), 0);
    assert.equal(a.newBatch, true);
    const b = acc.append('t', 0, pending(50), 0);
    assert.equal(b.newBatch, false);
    assert.equal(b.batch, a.batch);
    const c = acc.append('t', 0, pending(100), 0);
    assert.equal(c.newBatch, true);
    assert.equal(a.batch.recordCount, 2);
    // A record larger than batch.size gets a batch of its own.
    const big = acc.append('t', 1, pending(500), 0);
    assert.equal(big.full, true);
    assert.equal(big.batch.recordCount, 1);
  });

  test('a batch is ready when full, when its linger passed, or when flushing', () => {
    const acc = new RecordAccumulator({ batchSize: 1000, lingerMs: 50 });
    acc.append('t', 0, pending(10), 1000);
    let check = acc.ready(1010, false, () => true);
    assert.equal(check.ready.length, 0);
    assert.equal(check.nextDelayMs, 40);
    check = acc.ready(1050, false, () => true);
    assert.equal(check.ready.length, 1);
    acc.beginFlush();
    acc.append('t', 1, pending(10), 1050);
    assert.equal(acc.ready(1050, false, () => true).ready.length, 2);
    acc.endFlush();
    // Vetoed partitions (leader unknown, in flight) stay queued.
    assert.equal(acc.ready(2000, false, (_t, p) => p === 1).ready.length, 1);
  });

  test('retried batches go back before newer ones, in sequence order', () => {
    const acc = new RecordAccumulator({ batchSize: 100, lingerMs: 0 });
    const first = acc.append('t', 0, pending(80), 0).batch;
    const second = acc.append('t', 0, pending(80), 0).batch;
    const third = acc.append('t', 0, pending(80), 0).batch;
    for (const b of [first, second]) acc.remove(b);
    first.baseSequence = 0;
    second.baseSequence = 1;
    first.attempts = 1;
    second.attempts = 1;
    acc.reenqueue(second);
    acc.reenqueue(first);
    assert.deepEqual([...acc.batches()], [first, second, third]);
    assert.equal(acc.queuedRecords, 3);
  });
});

describe('buffer pool', () => {
  test('send waits for space and gets it in order as acknowledgements release bytes', async () => {
    const pool = new BufferPool(100);
    assert.equal(pool.tryReserve(60), true);
    const order: string[] = [];
    const a = pool.reserve(50, 5_000).then(() => order.push('a'));
    const b = pool.reserve(10, 5_000).then(() => order.push('b'));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(order, []);
    assert.equal(pool.tryReserve(1), false, 'nobody jumps the queue');
    pool.release(60);
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a', 'b']);
    assert.equal(pool.used, 60);
  });

  test('a wait longer than max.block.ms fails with a timeout error', async () => {
    const pool = new BufferPool(10);
    pool.tryReserve(10);
    await assert.rejects(pool.reserve(5, 20), (e: KafkaError) => e.code === 'TIMEOUT' && e.retriable);
  });
});

async function transactional(producerId: bigint, baseOffset: bigint, values: string[]) {
  return encodeRecordBatch(
    createRecordBatch(
      values.map((v) => ({ value: v })),
      { baseOffset, producerId, producerEpoch: 0, baseSequence: 0, isTransactional: true, timestamp: 1000n },
    ),
  );
}

async function marker(producerId: bigint, baseOffset: bigint, type: 0 | 1) {
  return encodeRecordBatch(createControlBatch({ producerId, producerEpoch: 0, baseOffset, type, coordinatorEpoch: 0 }));
}

describe('fetched records', () => {
  test('read_committed skips aborted transactions and every control batch; read_uncommitted keeps the data', async () => {
    // offsets 0-1 txn of producer 7 (aborted, marker at 2), 3-4 producer 8 (committed, marker at 5), 6 plain
    const data = Buffer.concat([
      await transactional(7n, 0n, ['a0', 'a1']),
      await marker(7n, 2n, ControlRecordType.ABORT),
      await transactional(8n, 3n, ['c0', 'c1']),
      await marker(8n, 5n, ControlRecordType.COMMIT),
      await encodeRecordBatch(createRecordBatch([{ value: 'p' }], { baseOffset: 6n, timestamp: 5n })),
    ]);
    const aborted = [{ producerId: 7n, firstOffset: 0n }];
    const committed = await decodeFetchedRecords(data, 0n, true, aborted, 't-0');
    assert.deepEqual(
      committed.records.map((r) => [r.offset, r.value?.toString()]),
      [
        [3n, 'c0'],
        [4n, 'c1'],
        [6n, 'p'],
      ],
    );
    assert.equal(committed.nextOffset, 7n);
    const all = await decodeFetchedRecords(data, 0n, false, null, 't-0');
    assert.deepEqual(
      all.records.map((r) => r.value?.toString()),
      ['a0', 'a1', 'c0', 'c1', 'p'],
    );
  });

  test('records before the fetch offset are dropped from the batch that holds it', async () => {
    const data = await encodeRecordBatch(
      createRecordBatch([{ value: 'x' }, { value: 'y' }, { value: 'z' }], { baseOffset: 10n, timestamp: 1n }),
    );
    const got = await decodeFetchedRecords(data, 11n, false, null, 't-0');
    assert.deepEqual(
      got.records.map((r) => r.offset),
      [11n, 12n],
    );
    assert.equal(got.nextOffset, 13n);
  });

  test('a partial batch at the end is left for the next fetch; LogAppendTime stamps every record', async () => {
    const batch = await encodeRecordBatch(
      createRecordBatch(
        [
          { value: 'x', timestamp: 1n },
          { value: 'y', timestamp: 2n },
        ],
        {
          compression: CompressionCodec.Gzip,
        },
      ),
    );
    setMaxTimestamp(batch, 0, TimestampType.LogAppendTime, 99n);
    const data = Buffer.concat([batch, batch.subarray(0, 20)]);
    const got = await decodeFetchedRecords(data, 0n, false, null, 't-0');
    assert.deepEqual(
      got.records.map((r) => [r.offset, r.timestamp, r.timestampType]),
      [
        [0n, 99n, 'log-append-time'],
        [1n, 99n, 'log-append-time'],
      ],
    );
    assert.equal(got.nextOffset, 2n);
  });

  test('a corrupt batch fails with CORRUPT_MESSAGE', async () => {
    const batch = await encodeRecordBatch(createRecordBatch([{ value: 'x' }], { timestamp: 1n }));
    batch[batch.length - 1]! ^= 0xff;
    await assert.rejects(
      decodeFetchedRecords(batch, 0n, false, null, 't-0'),
      (e: KafkaError) => e.code === 'CORRUPT_MESSAGE',
    );
  });
});
