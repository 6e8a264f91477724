import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KafkaError } from '../../src/client/errors.ts';
import { Producer } from '../../src/client/producer/producer.ts';
import { ApiKey } from '../../src/protocol/generated/api-keys.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { readBatchHeader } from '../../src/protocol/records/batch-header.ts';
import { FakeBroker, type FakeRequest, produceReply } from './fake-broker.ts';

interface ProducedBatch {
  topic: string;
  partition: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  isTransactional: boolean;
}

function batchesOf(request: FakeRequest): ProducedBatch[] {
  const out: ProducedBatch[] = [];
  for (const t of request.body.topicData) {
    for (const p of t.partitionData) {
      const h = readBatchHeader(p.records, 0);
      out.push({
        topic: t.name,
        partition: p.index,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        baseSequence: h.baseSequence,
        recordCount: h.recordCount,
        isTransactional: h.isTransactional,
      });
    }
  }
  return out;
}

/**
 * A broker that serves Metadata, InitProducerId and Produce, answering each partition
 * of a Produce with the next scripted error code (NONE once the script is used up).
 */
async function producerBroker(script: number[] = [], topics: Record<string, number> = { t: 2 }) {
  const fake = await FakeBroker.start();
  let producerEpoch = 0;
  const offsets = new Map<string, bigint>();
  fake.on(ApiKey.Metadata, { min: 0, max: 12 }, (_r, b) => b.metadata(topics));
  fake.on(ApiKey.InitProducerId, { min: 0, max: 5 }, (r) => {
    if (r.body.producerId >= 0n) producerEpoch = r.body.producerEpoch + 1;
    return { throttleTimeMs: 0, errorCode: 0, producerId: 1000n, producerEpoch };
  });
  fake.on(ApiKey.Produce, { min: 3, max: 11 }, (r) => ({
    throttleTimeMs: 0,
    nodeEndpoints: [],
    responses: r.body.topicData.map(
      (t: { name: string; partitionData: Array<{ index: number; records: Buffer }> }) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => {
          const errorCode = script.shift() ?? ErrorCode.NONE;
          const key = `${t.name}-${p.index}`;
          const baseOffset = offsets.get(key) ?? 0n;
          if (errorCode === ErrorCode.NONE)
            offsets.set(key, baseOffset + BigInt(readBatchHeader(p.records, 0).recordCount));
          return {
            index: p.index,
            errorCode,
            baseOffset: errorCode === ErrorCode.NONE ? baseOffset : -1n,
            logAppendTimeMs: -1n,
            logStartOffset: 0n,
            recordErrors: [],
            errorMessage: null,
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
          };
        }),
      }),
    ),
  }));
  return fake;
}

const produced = (fake: FakeBroker) => fake.requests.filter((r) => r.apiKey === ApiKey.Produce).flatMap(batchesOf);

describe('idempotent producer against a scripted broker', { timeout: 300_000 }, () => {
  test('sequence numbers start at 0 and advance per partition by the records of each batch', async () => {
    const fake = await producerBroker();
    const producer = new Producer({ bootstrap: fake.bootstrap, lingerMs: 0 });
    try {
      await producer.send({ topic: 't', partition: 0, value: 'a' });
      await producer.sendBatch([
        { topic: 't', partition: 0, value: 'b' },
        { topic: 't', partition: 0, value: 'c' },
      ]);
      await producer.send({ topic: 't', partition: 1, value: 'd' });
      await producer.send({ topic: 't', partition: 0, value: 'e' });
      const batches = produced(fake);
      assert.ok(batches.every((b) => b.producerId === 1000n && b.producerEpoch === 0 && !b.isTransactional));
      const p0 = batches.filter((b) => b.partition === 0);
      let expected = 0;
      for (const b of p0) {
        assert.equal(b.baseSequence, expected);
        expected += b.recordCount;
      }
      assert.equal(expected, 4);
      assert.deepEqual(
        batches.filter((b) => b.partition === 1).map((b) => b.baseSequence),
        [0],
      );
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('NOT_LEADER_OR_FOLLOWER: metadata is refreshed and the batch resent with the same sequence', async () => {
    const fake = await producerBroker([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    const producer = new Producer({ bootstrap: fake.bootstrap, lingerMs: 0, retryBackoffMs: 10 });
    try {
      await producer.connect();
      const metadataBefore = fake.count(ApiKey.Metadata);
      const m = await producer.send({ topic: 't', partition: 0, value: 'x' });
      assert.equal(m.offset, 0n);
      const batches = produced(fake);
      assert.equal(batches.length, 3);
      assert.ok(batches.every((b) => b.baseSequence === 0 && b.producerEpoch === 0));
      assert.ok(fake.count(ApiKey.Metadata) > metadataBefore, 'metadata was refreshed');
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('OUT_OF_ORDER_SEQUENCE_NUMBER for the next expected batch fails it and bumps the epoch (KIP-360)', async () => {
    const fake = await producerBroker([ErrorCode.NONE, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER]);
    const producer = new Producer({ bootstrap: fake.bootstrap, lingerMs: 0 });
    try {
      await producer.send({ topic: 't', partition: 0, value: 'a' });
      await assert.rejects(
        producer.send({ topic: 't', partition: 0, value: 'b' }),
        (e: KafkaError) => e.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' && !e.retriable,
      );
      await producer.send({ topic: 't', partition: 0, value: 'c' });
      const init = fake.requests.filter((r) => r.apiKey === ApiKey.InitProducerId);
      assert.equal(init.length, 2);
      assert.deepEqual([init[1]!.body.producerId, init[1]!.body.producerEpoch], [1000n, 0]);
      const last = produced(fake).at(-1)!;
      assert.deepEqual([last.producerEpoch, last.baseSequence], [1, 0]);
      assert.equal(producer.idempotence.producerEpoch, 1);
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('DUPLICATE_SEQUENCE_NUMBER counts as delivered (the broker already has the batch)', async () => {
    const fake = await producerBroker([ErrorCode.DUPLICATE_SEQUENCE_NUMBER]);
    const producer = new Producer({ bootstrap: fake.bootstrap, lingerMs: 0 });
    try {
      const m = await producer.send({ topic: 't', partition: 0, value: 'a' });
      assert.equal(m.offset, -1n);
      await producer.send({ topic: 't', partition: 0, value: 'b' });
      assert.deepEqual(
        produced(fake).map((b) => b.baseSequence),
        [0, 1],
      );
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('UNKNOWN_PRODUCER_ID: a new epoch, and the batch goes again from sequence 0', async () => {
    const fake = await producerBroker([ErrorCode.UNKNOWN_PRODUCER_ID]);
    const producer = new Producer({ bootstrap: fake.bootstrap, lingerMs: 0, retryBackoffMs: 10 });
    try {
      const m = await producer.send({ topic: 't', partition: 0, value: 'a' });
      assert.equal(m.offset, 0n);
      assert.deepEqual(
        produced(fake).map((b) => [b.producerEpoch, b.baseSequence]),
        [
          [0, 0],
          [1, 0],
        ],
      );
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('MESSAGE_TOO_LARGE splits the batch in halves with contiguous sequences until it fits', async () => {
    const fake = await producerBroker();
    const produce = fake.handlers.get(ApiKey.Produce)!;
    fake.handlers.set(ApiKey.Produce, (r, b) => {
      const tooLarge = batchesOf(r).some((x) => x.recordCount > 2);
      if (!tooLarge) return produce(r, b);
      return produceReply(r, ErrorCode.MESSAGE_TOO_LARGE);
    });
    const producer = new Producer({ bootstrap: fake.bootstrap, lingerMs: 20 });
    try {
      const metadata = await producer.sendBatch(
        Array.from({ length: 7 }, (_, i) => ({ topic: 't', partition: 0, value: `v${i}` })),
      );
      assert.deepEqual(
        metadata.map((m) => m.offset),
        [0n, 1n, 2n, 3n, 4n, 5n, 6n],
      );
      const accepted = produced(fake).filter((b) => b.recordCount <= 2);
      assert.deepEqual(
        accepted.map((b) => [b.baseSequence, b.recordCount]),
        [
          [0, 2],
          [2, 2],
          [4, 2],
          [6, 1],
        ],
      );
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('a non-retriable error fails the records of the batch with that error', async () => {
    const fake = await producerBroker([ErrorCode.TOPIC_AUTHORIZATION_FAILED]);
    const producer = new Producer({ bootstrap: fake.bootstrap, lingerMs: 0 });
    try {
      await assert.rejects(
        producer.send({ topic: 't', partition: 1, value: 'a' }),
        (e: KafkaError) =>
          e.code === 'TOPIC_AUTHORIZATION_FAILED' &&
          e.errorCode === 29 &&
          e.message.startsWith('Cannot produce to "t-1"'),
      );
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('without InitProducerId the producer sends without producer id, and says why', async () => {
    const fake = await producerBroker();
    fake.versions.delete(ApiKey.InitProducerId);
    fake.handlers.delete(ApiKey.InitProducerId);
    const warnings: string[] = [];
    const producer = new Producer({
      bootstrap: fake.bootstrap,
      lingerMs: 0,
      logger: { warn: (m) => warnings.push(m) },
    });
    try {
      await producer.send({ topic: 't', partition: 0, value: 'a' });
      const [batch] = produced(fake);
      assert.deepEqual([batch!.producerId, batch!.baseSequence], [-1n, -1]);
      assert.equal(producer.idempotence.enabled, false);
      assert.match(warnings.join('\n'), /does not serve InitProducerId/);
    } finally {
      await producer.close();
      await fake.close();
    }
  });
});

/** Adds the coordinator and transaction APIs to a producer broker, recording their order. */
function transactionalBroker(fake: FakeBroker, endTxnError: number = ErrorCode.NONE) {
  const ok = { throttleTimeMs: 0, errorCode: 0 };
  fake.on(ApiKey.FindCoordinator, { min: 0, max: 6 }, (r, b) => ({
    ...ok,
    errorMessage: null,
    nodeId: b.nodeId,
    host: b.host,
    port: b.port,
    coordinators: r.body.coordinatorKeys.map((key: string) => ({
      key,
      nodeId: b.nodeId,
      host: b.host,
      port: b.port,
      errorCode: 0,
      errorMessage: null,
    })),
  }));
  fake.on(ApiKey.AddPartitionsToTxn, { min: 0, max: 5 }, (r) => ({
    ...ok,
    resultsByTransaction: [],
    resultsByTopicV3AndBelow: r.body.v3AndBelowTopics.map((t: { name: string; partitions: number[] }) => ({
      name: t.name,
      resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: 0 })),
    })),
  }));
  fake.on(ApiKey.AddOffsetsToTxn, { min: 0, max: 4 }, () => ok);
  fake.on(ApiKey.TxnOffsetCommit, { min: 0, max: 4 }, (r) => ({
    throttleTimeMs: 0,
    topics: r.body.topics.map((t: { name: string; partitions: Array<{ partitionIndex: number }> }) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 0 })),
    })),
  }));
  fake.on(ApiKey.EndTxn, { min: 0, max: 5 }, () => ({
    ...ok,
    errorCode: endTxnError,
    producerId: -1n,
    producerEpoch: -1,
  }));
}

describe('transactional producer against a scripted broker', { timeout: 300_000 }, () => {
  test('init, begin, send, send offsets, commit: the requests Kafka’s protocol asks for, in order', async () => {
    const fake = await producerBroker();
    transactionalBroker(fake);
    const producer = new Producer({ bootstrap: fake.bootstrap, transactionalId: 'tx-1', lingerMs: 0 });
    try {
      await assert.rejects(
        producer.send({ topic: 't', value: 'x' }),
        (e: KafkaError) => e.code === 'INVALID_TXN_STATE',
      );
      await producer.initTransactions();
      const init = fake.requests.find((r) => r.apiKey === ApiKey.InitProducerId)!;
      assert.equal(init.body.transactionalId, 'tx-1');
      const find = fake.requests.find((r) => r.apiKey === ApiKey.FindCoordinator)!;
      assert.equal(find.body.keyType, 1);
      producer.beginTransaction();
      assert.equal(producer.transactionState, 'in-transaction');
      await producer.sendBatch([
        { topic: 't', partition: 0, value: 'a' },
        { topic: 't', partition: 1, value: 'b' },
      ]);
      await producer.sendOffsetsToTransaction([{ topic: 'in', partition: 3, offset: 42n }], {
        groupId: 'g',
        generationId: 5,
        memberId: 'm-1',
        groupInstanceId: null,
      });
      await producer.commitTransaction();
      assert.equal(producer.transactionState, 'ready');
      const order = fake.requests
        .map((r) => r.apiKey)
        .filter((k) =>
          [
            ApiKey.AddPartitionsToTxn,
            ApiKey.Produce,
            ApiKey.AddOffsetsToTxn,
            ApiKey.TxnOffsetCommit,
            ApiKey.EndTxn,
          ].includes(k as 24),
        );
      assert.equal(order[0], ApiKey.AddPartitionsToTxn, 'partitions are added before anything is produced to them');
      assert.deepEqual(order.slice(-3), [ApiKey.AddOffsetsToTxn, ApiKey.TxnOffsetCommit, ApiKey.EndTxn]);
      const added = fake.requests
        .filter((r) => r.apiKey === ApiKey.AddPartitionsToTxn)
        .flatMap((r) => r.body.v3AndBelowTopics);
      assert.deepEqual(added.flatMap((t: { partitions: number[] }) => t.partitions).sort(), [0, 1]);
      const produce = fake.requests.find((r) => r.apiKey === ApiKey.Produce)!;
      assert.equal(produce.body.transactionalId, 'tx-1');
      assert.ok(produced(fake).every((b) => b.isTransactional && b.producerId === 1000n));
      const commit = fake.requests.find((r) => r.apiKey === ApiKey.TxnOffsetCommit)!;
      assert.deepEqual(
        [
          commit.body.groupId,
          commit.body.generationId,
          commit.body.memberId,
          commit.body.topics[0].partitions[0].committedOffset,
        ],
        ['g', 5, 'm-1', 42n],
      );
      const end = fake.requests.find((r) => r.apiKey === ApiKey.EndTxn)!;
      assert.equal(end.body.committed, true);
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('abort drops unsent records and ends the transaction with committed=false', async () => {
    const fake = await producerBroker();
    transactionalBroker(fake);
    const producer = new Producer({ bootstrap: fake.bootstrap, transactionalId: 'tx-2', lingerMs: 60_000 });
    try {
      await producer.initTransactions();
      producer.beginTransaction();
      const sent = (await producer.enqueue({ topic: 't', partition: 0, value: 'sent' })).delivery;
      await producer.flush();
      assert.equal((await sent).offset, 0n);
      const { delivery } = await producer.enqueue({ topic: 't', partition: 0, value: 'never' });
      const pending = producer.abortTransaction();
      await assert.rejects(delivery, (e: KafkaError) => e.code === 'TRANSACTION_ABORTED');
      await pending;
      const end = fake.requests.filter((r) => r.apiKey === ApiKey.EndTxn);
      assert.equal(end.length, 1);
      assert.equal(end[0]!.body.committed, false);
      producer.beginTransaction();
      await producer.commitTransaction();
    } finally {
      await producer.close();
      await fake.close();
    }
  });

  test('a fenced producer (PRODUCER_FENCED) cannot go on', async () => {
    const fake = await producerBroker();
    transactionalBroker(fake, ErrorCode.PRODUCER_FENCED);
    const producer = new Producer({ bootstrap: fake.bootstrap, transactionalId: 'tx-3', lingerMs: 0 });
    try {
      await producer.initTransactions();
      producer.beginTransaction();
      await producer.send({ topic: 't', partition: 0, value: 'a' });
      await assert.rejects(producer.commitTransaction(), (e: KafkaError) => e.code === 'PRODUCER_FENCED');
      assert.equal(producer.transactionState, 'fatal-error');
      assert.throws(
        () => producer.beginTransaction(),
        (e: KafkaError) => e.code === 'INVALID_TXN_STATE',
      );
    } finally {
      await producer.close();
      await fake.close();
    }
  });
});
