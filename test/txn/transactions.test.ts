/**
 * Transactions against an in-process broker: what read_committed and read_uncommitted
 * consumers see (raw Fetch and ListOffsets, kafkajs, kcat), the last stable offset held by
 * an open transaction and released by its timeout, zombie fencing, offsets committed
 * inside transactions, coordinator state across a restart, and the admin APIs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { TransactionLogKey, TransactionLogValue } from '../../src/protocol/generated/coordinator/transaction-log.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../src/protocol/generated/messages/api-versions.ts';
import { OffsetFetchRequest, OffsetFetchResponse } from '../../src/protocol/generated/messages/offset-fetch.ts';
import { Reader } from '../../src/protocol/reader.ts';
import { decodeRecordBatches } from '../../src/protocol/records/index.ts';
import {
  createTopic,
  fetchRaw,
  kcatTest,
  ListOffsets,
  plainRecords,
  produceRaw,
  readPartition,
} from '../broker/data-path/helpers.ts';
import { RawClient } from '../helpers/raw-client.ts';
import {
  AddOffsetsToTxn,
  addPartitions,
  DescribeTransactions,
  dataValues,
  endTxn,
  FindCoordinator,
  initProducerId,
  initTransactional,
  kcatConsume,
  ListTransactions,
  producerBatch,
  TXN_TEST_CONFIG,
  TxnOffsetCommit,
  waitFor,
} from './helpers.ts';

const { Kafka, logLevel } = kafkajs;
const OffsetFetch = { request: OffsetFetchRequest, response: OffsetFetchResponse };
const T = { timeout: 60_000 };

type KafkaClient = InstanceType<typeof Kafka>;

/** Every value a fresh kafkajs consumer reads from `topic`, once it has `expected` of them and nothing more came for a while. */
async function consumeValues(
  kafka: KafkaClient,
  topic: string,
  options: { readUncommitted?: boolean; expected: number; settleMs?: number },
): Promise<string[]> {
  const consumer = kafka.consumer({
    groupId: `reader-${topic}-${Math.random().toString(36).slice(2)}`,
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value?.toString() ?? '');
      },
    });
    await waitFor(`${options.expected} records of "${topic}"`, () => seen.length >= options.expected, 20_000);
    await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 500));
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

describe('transactions', () => {
  let broker: StartedBroker;
  let client: RawClient;
  let kafka: KafkaClient;

  before(async () => {
    broker = await startBroker({
      config: { ...TXN_TEST_CONFIG, 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 100 },
    });
    client = await RawClient.connect(broker.port);
    kafka = new Kafka({ clientId: 'txn-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  test(
    'ApiVersions advertises the client versions of the transaction APIs, not the broker-to-broker ones',
    T,
    async () => {
      const { body } = await client.request({ request: ApiVersionsRequest, response: ApiVersionsResponse }, 3, {
        clientSoftwareName: 'raw',
        clientSoftwareVersion: '1',
      });
      const range = (apiKey: number) => {
        const k = body.apiKeys.find((a) => a.apiKey === apiKey);
        return k === undefined ? null : [k.minVersion, k.maxVersion];
      };
      assert.deepEqual(range(ApiKey.InitProducerId), [0, 5]);
      assert.deepEqual(range(ApiKey.AddPartitionsToTxn), [0, 3]);
      assert.deepEqual(range(ApiKey.AddOffsetsToTxn), [0, 4]);
      assert.deepEqual(range(ApiKey.TxnOffsetCommit), [0, 4]);
      assert.deepEqual(range(ApiKey.EndTxn), [0, 4]);
      assert.deepEqual(range(ApiKey.DescribeTransactions), [0, 0]);
      assert.deepEqual(range(ApiKey.ListTransactions), [0, 1]);
      assert.deepEqual(range(ApiKey.DescribeProducers), [0, 0]);
      assert.equal(range(ApiKey.WriteTxnMarkers), null);
    },
  );

  test('FindCoordinator names this broker for a transactional id and creates __transaction_state', T, async () => {
    const { body } = await client.request(FindCoordinator, 1, { key: 'tx-find', keyType: 1, coordinatorKeys: [] });
    assert.equal(body.errorCode, ErrorCode.NONE);
    assert.equal(body.port, broker.port);
    const topic = broker.broker.services.topics.get('__transaction_state')!;
    assert.equal(topic.partitionCount, 3);
    assert.equal(topic.isInternal, true);
    assert.deepEqual(topic.configs['cleanup.policy'], 'compact');
  });

  test(
    'read_committed sees committed transactions only, up to the last stable offset; read_uncommitted sees everything',
    T,
    async () => {
      const topic = 'txn-visibility';
      await createTopic(broker, topic);
      const producer = kafka.producer({ transactionalId: 'tx-visibility', maxInFlightRequests: 1, idempotent: true });
      await producer.connect();
      const inTxn = async (values: string[], commit: boolean) => {
        const txn = await producer.transaction();
        await txn.send({ topic, messages: values.map((value) => ({ value })) });
        await (commit ? txn.commit() : txn.abort());
      };
      await inTxn(['c1', 'c2'], true); // 0-1, marker 2
      await inTxn(['a1', 'a2'], false); // 3-4, marker 5
      await inTxn(['c3'], true); // 6, marker 7
      const open = await producer.transaction();
      await open.send({ topic, messages: [{ value: 'o1' }] }); // 8, still open
      const { producerId } = broker.broker.services.transactions.transaction('tx-visibility')!;

      const committed = (await fetchRaw(client, [{ topic }], { isolationLevel: 1 })).responses[0]!.partitions[0]!;
      assert.equal(committed.highWatermark, 9n);
      assert.equal(committed.lastStableOffset, 8n);
      assert.deepEqual(committed.abortedTransactions, [{ producerId, firstOffset: 3n }]);
      const records = await plainRecords(committed.records);
      assert.ok(
        records.every((r) => r.offset < 8n),
        'nothing of the open transaction',
      );
      const uncommitted = (await fetchRaw(client, [{ topic }], { isolationLevel: 0 })).responses[0]!.partitions[0]!;
      assert.equal(uncommitted.abortedTransactions, null);
      assert.equal(uncommitted.lastStableOffset, 8n);
      assert.deepEqual(await dataValues(uncommitted.records), ['c1', 'c2', 'a1', 'a2', 'c3', 'o1']);
      // A read_committed fetch at the last stable offset gets nothing; from after the abort, no aborted list.
      const atLso = (await fetchRaw(client, [{ topic, fetchOffset: 8n }], { isolationLevel: 1 })).responses[0]!;
      assert.equal(atLso.partitions[0]!.records?.length ?? 0, 0);
      const later = (await fetchRaw(client, [{ topic, fetchOffset: 6n }], { isolationLevel: 1 })).responses[0]!;
      assert.deepEqual(later.partitions[0]!.abortedTransactions, []);

      const latest = async (isolationLevel: number) => {
        const { body } = await client.request(ListOffsets, 5, {
          replicaId: -1,
          isolationLevel,
          topics: [
            {
              name: topic,
              partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }],
            },
          ],
          timeoutMs: 0,
        });
        return body.topics[0]!.partitions[0]!.offset;
      };
      assert.equal(await latest(1), 8n);
      assert.equal(await latest(0), 9n);

      assert.deepEqual(await consumeValues(kafka, topic, { expected: 3 }), ['c1', 'c2', 'c3']);
      assert.deepEqual(await consumeValues(kafka, topic, { expected: 6, readUncommitted: true }), [
        'c1',
        'c2',
        'a1',
        'a2',
        'c3',
        'o1',
      ]);

      // A read_committed long poll waiting at the last stable offset is answered by the commit.
      const waiting = fetchRaw(client, [{ topic, fetchOffset: 8n }], { isolationLevel: 1, maxWaitMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      await Promise.all([open.commit(), waiting]);
      const woken = (await waiting).responses[0]!.partitions[0]!;
      assert.ok(Date.now() - started < 5_000);
      assert.deepEqual(await dataValues(woken.records), ['o1']);
      assert.equal(await latest(1), 10n);
      await producer.disconnect();
    },
  );

  kcatTest(
    'kcat with isolation.level=read_committed skips aborted transactions; read_uncommitted shows them',
    T,
    async () => {
      const topic = 'txn-kcat';
      await createTopic(broker, topic, { partitions: 2 });
      const producer = kafka.producer({ transactionalId: 'tx-kcat', maxInFlightRequests: 1, idempotent: true });
      await producer.connect();
      for (const [values, commit] of [
        [['k1', 'k2'], true],
        [['x1', 'x2', 'x3'], false],
        [['k3'], true],
        [['x4'], false],
      ] as const) {
        const txn = await producer.transaction();
        await txn.send({ topic, messages: values.map((value, i) => ({ value, partition: i % 2 })) });
        await (commit ? txn.commit() : txn.abort());
      }
      await producer.disconnect();
      const committed = await kcatConsume(broker.bootstrap, topic, 'read_committed');
      assert.deepEqual(committed.map((r) => r.payload).sort(), ['k1', 'k2', 'k3']);
      const all = await kcatConsume(broker.bootstrap, topic, 'read_uncommitted');
      assert.deepEqual(all.map((r) => r.payload).sort(), ['k1', 'k2', 'k3', 'x1', 'x2', 'x3', 'x4']);
    },
  );

  test(
    '@platformatic/kafka (flexible versions): transactions commit and abort; its read_committed consumer skips the aborted',
    T,
    async () => {
      const topic = 'txn-platformatic';
      await createTopic(broker, topic);
      const producer = new Producer({
        clientId: 'txn-platformatic',
        bootstrapBrokers: [broker.bootstrap],
        serializers: stringSerializers,
        idempotent: true,
        transactionalId: 'tx-platformatic',
      });
      for (const [value, commit] of [
        ['p1', true],
        ['px', false],
        ['p2', true],
      ] as const) {
        const txn = await producer.beginTransaction();
        await txn.send({ messages: [{ topic, key: 'k', value, partition: 0 }] });
        await (commit ? txn.commit() : txn.abort());
      }
      await producer.close();
      assert.equal(broker.broker.services.transactions.transaction('tx-platformatic')?.state, 4);
      const read = async (isolationLevel: 0 | 1) => {
        const consumer = new Consumer({
          clientId: 'txn-platformatic',
          groupId: `platformatic-${isolationLevel}`,
          bootstrapBrokers: [broker.bootstrap],
          deserializers: stringDeserializers,
          isolationLevel,
          maxWaitTime: 100,
        });
        const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
        const seen: string[] = [];
        const expected = isolationLevel === 1 ? 2 : 3;
        for await (const message of stream) {
          seen.push(message.value as string);
          if (seen.length === expected) break;
        }
        await stream.close();
        await consumer.close();
        return seen;
      };
      assert.deepEqual(await read(1), ['p1', 'p2']);
      assert.deepEqual(await read(0), ['p1', 'px', 'p2']);
    },
  );

  test(
    'a hung transaction is aborted after transaction.timeout.ms and stops holding back the last stable offset',
    T,
    async () => {
      const topic = 'txn-hung';
      await createTopic(broker, topic);
      const hung = kafka.producer({
        transactionalId: 'tx-hung',
        transactionTimeout: 1000,
        maxInFlightRequests: 1,
        idempotent: true,
      });
      const other = kafka.producer({ transactionalId: 'tx-other', maxInFlightRequests: 1, idempotent: true });
      await hung.connect();
      await other.connect();
      const stuck = await hung.transaction();
      await stuck.send({ topic, messages: [{ value: 'never' }] });
      const txn = await other.transaction();
      await txn.send({ topic, messages: [{ value: 'after' }] });
      await txn.commit();
      let data = (await fetchRaw(client, [{ topic }], { isolationLevel: 1 })).responses[0]!.partitions[0]!;
      assert.equal(data.lastStableOffset, 0n);
      assert.equal(data.records?.length ?? 0, 0);
      const before = broker.broker.services.transactions.transaction('tx-hung')!;

      await waitFor('the timeout abort', () => broker.broker.services.transactions.transaction('tx-hung')?.state === 5);
      data = (await fetchRaw(client, [{ topic }], { isolationLevel: 1 })).responses[0]!.partitions[0]!;
      assert.equal(data.lastStableOffset, data.highWatermark);
      assert.deepEqual(data.abortedTransactions, [{ producerId: before.producerId, firstOffset: 0n }]);
      assert.deepEqual(await consumeValues(kafka, topic, { expected: 1 }), ['after']);
      // The abort fenced the hung producer: its epoch is old now.
      const after = broker.broker.services.transactions.transaction('tx-hung')!;
      assert.equal(after.producerEpoch, before.producerEpoch + 1);
      await assert.rejects(stuck.commit(), (err: Error & { type?: string }) => {
        assert.equal(err.type, 'INVALID_PRODUCER_EPOCH');
        return true;
      });
      await hung.disconnect();
      await other.disconnect();
    },
  );

  test('a transaction timeout above transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT', T, async () => {
    const tooLong = await initProducerId(client, { transactionalId: 'tx-timeout', timeoutMs: 900_001 });
    assert.equal(tooLong.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const zero = await initProducerId(client, { transactionalId: 'tx-timeout', timeoutMs: 0 });
    assert.equal(zero.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const ok = await initProducerId(client, { transactionalId: 'tx-timeout', timeoutMs: 900_000 });
    assert.equal(ok.errorCode, ErrorCode.NONE);
    const empty = await initProducerId(client, { transactionalId: '', timeoutMs: 1000 });
    assert.equal(empty.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('a zombie producer with an old epoch is fenced', T, async () => {
    const topic = 'txn-zombie';
    await createTopic(broker, topic);
    const zombie = kafka.producer({ transactionalId: 'tx-zombie', maxInFlightRequests: 1, idempotent: true });
    const successor = kafka.producer({ transactionalId: 'tx-zombie', maxInFlightRequests: 1, idempotent: true });
    await zombie.connect();
    await successor.connect();
    const old = await zombie.transaction();
    await old.send({ topic, messages: [{ value: 'zombie-1' }] });
    const stale = { ...broker.broker.services.transactions.transaction('tx-zombie')! };

    // The successor's InitProducerId aborts the zombie's open transaction and bumps the epoch past it.
    const txn = await successor.transaction();
    await txn.send({ topic, messages: [{ value: 'successor-1' }] });
    await txn.sendOffsets({
      consumerGroupId: 'zombie-group',
      topics: [{ topic, partitions: [{ partition: 0, offset: '1' }] }],
    });
    await txn.commit();
    const current = broker.broker.services.transactions.transaction('tx-zombie')!;
    assert.equal(current.producerId, stale.producerId);
    assert.equal(current.producerEpoch, stale.producerEpoch + 2);

    const fenced = (err: Error & { type?: string }) => {
      assert.equal(err.type, 'INVALID_PRODUCER_EPOCH');
      return true;
    };
    await assert.rejects(old.send({ topic, messages: [{ value: 'zombie-2' }] }), fenced);
    await assert.rejects(old.commit(), fenced);

    // Over the raw protocol, for each API: PRODUCER_FENCED from the versions that know it, INVALID_PRODUCER_EPOCH before.
    const zombieIds = { producerId: stale.producerId, producerEpoch: stale.producerEpoch };
    const init = async (version: number) =>
      (await initProducerId(client, { version, transactionalId: 'tx-zombie', ...zombieIds })).errorCode;
    assert.equal(await init(4), ErrorCode.PRODUCER_FENCED);
    assert.equal(await init(3), ErrorCode.INVALID_PRODUCER_EPOCH);
    const add = await addPartitions(client, 'tx-zombie', zombieIds, [{ topic, partition: 0 }], 3);
    assert.deepEqual(add, [ErrorCode.PRODUCER_FENCED]);
    assert.deepEqual(await addPartitions(client, 'tx-zombie', zombieIds, [{ topic, partition: 0 }], 1), [
      ErrorCode.INVALID_PRODUCER_EPOCH,
    ]);
    const offsets = await client.request(AddOffsetsToTxn, 1, {
      transactionalId: 'tx-zombie',
      ...zombieIds,
      groupId: 'zombie-group',
    });
    assert.equal(offsets.body.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(await endTxn(client, 'tx-zombie', zombieIds, true, 2), ErrorCode.PRODUCER_FENCED);
    assert.equal(await endTxn(client, 'tx-zombie', zombieIds, true, 1), ErrorCode.INVALID_PRODUCER_EPOCH);
    const produced = await produceRaw(
      client,
      topic,
      0,
      producerBatch(['zombie-3'], { ...zombieIds, baseSequence: 1, transactional: true }),
    );
    assert.equal(produced.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    const commit = await client.request(TxnOffsetCommit, 0, {
      transactionalId: 'tx-zombie',
      groupId: 'zombie-group',
      ...zombieIds,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [
        {
          name: topic,
          partitions: [{ partitionIndex: 0, committedOffset: 99n, committedLeaderEpoch: -1, committedMetadata: null }],
        },
      ],
    });
    assert.equal(commit.body.topics[0]!.partitions[0]!.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);

    assert.deepEqual(await consumeValues(kafka, topic, { expected: 1 }), ['successor-1']);
    const admin = kafka.admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: 'zombie-group', topics: [topic] });
    assert.equal(committed!.partitions[0]!.offset, '1');
    await admin.disconnect();
    await zombie.disconnect().catch(() => {});
    await successor.disconnect();
  });

  test('offsets sent in a transaction become committed with it, and never when it aborts', T, async () => {
    const topic = 'txn-offsets';
    await createTopic(broker, topic, { partitions: 2 });
    const admin = kafka.admin();
    await admin.connect();
    const committedOffsets = async () =>
      (await admin.fetchOffsets({ groupId: 'offsets-group', topics: [topic] }))[0]!.partitions
        .sort((a, b) => a.partition - b.partition)
        .map((p) => p.offset);
    const producer = kafka.producer({ transactionalId: 'tx-offsets', maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const send = async (offset: string, commit: boolean) => {
      const txn = await producer.transaction();
      await txn.send({ topic, messages: [{ value: offset, partition: 0 }] });
      await txn.sendOffsets({
        consumerGroupId: 'offsets-group',
        topics: [{ topic, partitions: [{ partition: 1, offset }] }],
      });
      // Pending until the transaction ends: the group still has what it had.
      const before = await committedOffsets();
      await (commit ? txn.commit() : txn.abort());
      return before;
    };
    assert.deepEqual(await send('5', true), ['-1', '-1']);
    assert.deepEqual(await committedOffsets(), ['-1', '5']);
    assert.deepEqual(await send('9', false), ['-1', '5']);
    assert.deepEqual(await committedOffsets(), ['-1', '5']);
    await producer.disconnect();
    await admin.disconnect();
  });

  test('DescribeTransactions and ListTransactions report each transactional id', T, async () => {
    const topic = 'txn-describe';
    await createTopic(broker, topic, { partitions: 3 });
    const p = await initTransactional(client, 'tx-describe', 45_000);
    assert.deepEqual(
      await addPartitions(client, 'tx-describe', p, [
        { topic, partition: 2 },
        { topic, partition: 0 },
      ]),
      [0, 0],
    );
    // A partition that does not exist fails the whole request.
    assert.deepEqual(
      await addPartitions(client, 'tx-describe', p, [
        { topic, partition: 1 },
        { topic, partition: 7 },
      ]),
      [ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    );
    const { body } = await client.request(DescribeTransactions, 0, { transactionalIds: ['tx-describe', 'tx-unknown'] });
    const [described, unknown] = body.transactionStates;
    assert.equal(described!.errorCode, ErrorCode.NONE);
    assert.equal(described!.transactionState, 'Ongoing');
    assert.equal(described!.producerId, p.producerId);
    assert.equal(described!.producerEpoch, p.producerEpoch);
    assert.equal(described!.transactionTimeoutMs, 45_000);
    assert.ok(described!.transactionStartTimeMs > 0n);
    assert.deepEqual(described!.topics, [{ topic, partitions: [0, 2] }]);
    assert.equal(unknown!.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);

    const list = async (stateFilters: string[], producerIdFilters: bigint[] = [], durationFilter = -1n) =>
      (await client.request(ListTransactions, 1, { stateFilters, producerIdFilters, durationFilter })).body;
    const ongoing = await list(['Ongoing', 'Bogus']);
    assert.deepEqual(ongoing.unknownStateFilters, ['Bogus']);
    assert.ok(ongoing.transactionStates.some((t) => t.transactionalId === 'tx-describe'));
    assert.ok(ongoing.transactionStates.every((t) => t.transactionState === 'Ongoing'));
    const byProducer = await list([], [p.producerId]);
    assert.deepEqual(byProducer.transactionStates, [
      { transactionalId: 'tx-describe', producerId: p.producerId, transactionState: 'Ongoing' },
    ]);
    assert.deepEqual((await list([], [p.producerId], 3_600_000n)).transactionStates, []);
    // An empty transaction commits without markers; EndTxn again is answered as done; Empty cannot end.
    assert.equal(await endTxn(client, 'tx-describe', p, false), ErrorCode.NONE);
    assert.equal(await endTxn(client, 'tx-describe', p, false), ErrorCode.NONE);
    assert.equal(await endTxn(client, 'tx-describe', p, true), ErrorCode.INVALID_TXN_STATE);
    const done = (await client.request(DescribeTransactions, 0, { transactionalIds: ['tx-describe'] })).body;
    assert.equal(done.transactionStates[0]!.transactionState, 'CompleteAbort');
    assert.deepEqual(done.transactionStates[0]!.topics, []);
    const fresh = await initTransactional(client, 'tx-describe-empty');
    assert.equal(await endTxn(client, 'tx-describe-empty', fresh, true), ErrorCode.INVALID_TXN_STATE);
    assert.equal(await endTxn(client, 'tx-nobody', fresh, true), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });
});

describe('transaction coordinator across a restart', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tributary-txn-restart-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test(
    "an open transaction, its partitions and its pending offsets come back, in Kafka's record format",
    T,
    async () => {
      let broker = await startBroker({ dataDir, config: TXN_TEST_CONFIG });
      let client = await RawClient.connect(broker.port);
      await createTopic(broker, 'durable', { partitions: 2 });
      const p = await initTransactional(client, 'tx-durable');
      assert.deepEqual(await addPartitions(client, 'tx-durable', p, [{ topic: 'durable', partition: 1 }]), [0]);
      const added = await client.request(AddOffsetsToTxn, 3, {
        transactionalId: 'tx-durable',
        ...p,
        groupId: 'durable-group',
      });
      assert.equal(added.body.errorCode, ErrorCode.NONE);
      const produced = await produceRaw(
        client,
        'durable',
        1,
        producerBatch(['d1', 'd2'], { ...p, baseSequence: 0, transactional: true }),
      );
      assert.equal(produced.errorCode, ErrorCode.NONE);
      const commit = await client.request(TxnOffsetCommit, 3, {
        transactionalId: 'tx-durable',
        groupId: 'durable-group',
        ...p,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [
          {
            name: 'durable',
            partitions: [{ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: 'm' }],
          },
        ],
      });
      assert.equal(commit.body.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
      client.close();
      await broker.close();

      broker = await startBroker({ dataDir, config: TXN_TEST_CONFIG });
      client = await RawClient.connect(broker.port);
      const described = (await client.request(DescribeTransactions, 0, { transactionalIds: ['tx-durable'] })).body
        .transactionStates[0]!;
      assert.equal(described.transactionState, 'Ongoing');
      assert.deepEqual(described.topics.map((t) => [t.topic, t.partitions]).sort(), [
        ['__consumer_offsets', [broker.broker.services.groups.partitionFor('durable-group')]],
        ['durable', [1]],
      ]);
      let data = (await fetchRaw(client, [{ topic: 'durable', partition: 1 }], { isolationLevel: 1 })).responses[0]!;
      assert.equal(data.partitions[0]!.lastStableOffset, 0n);
      assert.equal(broker.broker.services.groups.fetchOffsets('durable-group', null).topics.length, 0);
      assert.equal(await endTxn(client, 'tx-durable', p, true), ErrorCode.NONE);
      data = (await fetchRaw(client, [{ topic: 'durable', partition: 1 }], { isolationLevel: 1 })).responses[0]!;
      assert.deepEqual(await dataValues(data.partitions[0]!.records), ['d1', 'd2']);
      const offsets = broker.broker.services.groups.fetchOffsets('durable-group', [
        { name: 'durable', partitionIndexes: [0] },
      ]);
      assert.equal(offsets.topics[0]!.partitions[0]!.committedOffset, 42n);
      assert.equal(offsets.topics[0]!.partitions[0]!.metadata, 'm');

      // __transaction_state holds Kafka's TransactionLogKey/Value records: version, then the struct.
      const partition = broker.broker.services.transactions.stateLog.partitionFor('tx-durable');
      const records = await readPartition(client, '__transaction_state', partition);
      assert.ok(records.length >= 4);
      const raw = (await fetchRaw(client, [{ topic: '__transaction_state', partition }])).responses[0]!.partitions[0]!;
      const last = (await decodeRecordBatches(raw.records!)).flatMap((b) => b.records).pop()!;
      const keyReader = new Reader(last.key!);
      assert.equal(keyReader.int16(), 0);
      assert.equal(TransactionLogKey.read(keyReader, 0).transactionalId, 'tx-durable');
      const valueReader = new Reader(last.value!);
      assert.equal(valueReader.int16(), 0);
      const value = TransactionLogValue.read(valueReader, 0);
      assert.equal(value.producerId, p.producerId);
      assert.equal(value.transactionStatus, 4); // CompleteCommit
      assert.equal(value.transactionTimeoutMs, 60_000);

      // The producer id block is durable: a new transactional id after the restart gets a new id.
      const next = await initTransactional(client, 'tx-durable-next');
      assert.ok(next.producerId > p.producerId);
      const again = await initProducerId(client, { transactionalId: 'tx-durable' });
      assert.equal(again.producerId, p.producerId);
      assert.equal(again.producerEpoch, p.producerEpoch + 1);
      client.close();
      await broker.close();
    },
  );
});

describe('transactional offsets and OffsetFetch requireStable', () => {
  let broker: StartedBroker;
  let client: RawClient;

  before(async () => {
    broker = await startBroker({ config: TXN_TEST_CONFIG });
    client = await RawClient.connect(broker.port);
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  test(
    'a partition with an offset pending in a transaction is UNSTABLE_OFFSET_COMMIT to requireStable fetches',
    T,
    async () => {
      await createTopic(broker, 'stable');
      const p = await initTransactional(client, 'tx-stable');
      const added = await client.request(AddOffsetsToTxn, 3, {
        transactionalId: 'tx-stable',
        ...p,
        groupId: 'stable-group',
      });
      assert.equal(added.body.errorCode, ErrorCode.NONE);
      const commit = await client.request(TxnOffsetCommit, 3, {
        transactionalId: 'tx-stable',
        groupId: 'stable-group',
        ...p,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [
          {
            name: 'stable',
            partitions: [{ partitionIndex: 0, committedOffset: 7n, committedLeaderEpoch: -1, committedMetadata: null }],
          },
        ],
      });
      assert.equal(commit.body.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
      const fetch = async (requireStable: boolean) => {
        const { body } = await client.request(OffsetFetch, 7, {
          groupId: 'stable-group',
          topics: [{ name: 'stable', partitionIndexes: [0] }],
          groups: [],
          requireStable,
        });
        const partition = body.topics[0]!.partitions[0]!;
        return [partition.errorCode, partition.committedOffset];
      };
      assert.deepEqual(await fetch(true), [ErrorCode.UNSTABLE_OFFSET_COMMIT, -1n]);
      assert.deepEqual(await fetch(false), [ErrorCode.NONE, -1n]);
      assert.equal(await endTxn(client, 'tx-stable', p, true), ErrorCode.NONE);
      assert.deepEqual(await fetch(true), [ErrorCode.NONE, 7n]);
    },
  );
});
