/**
 * Expiry: partitions forget producers idle for producer.id.expiration.ms (and then accept
 * them at any sequence again, as Kafka since KIP-360), and the coordinator forgets
 * transactional ids idle for transactional.id.expiration.ms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { createTopic, produceRaw } from '../broker/data-path/helpers.ts';
import { RawClient } from '../helpers/raw-client.ts';
import {
  addPartitions,
  DescribeProducers,
  DescribeTransactions,
  initProducerId,
  initTransactional,
  producerBatch,
  TXN_TEST_CONFIG,
  waitFor,
} from './helpers.ts';

const T = { timeout: 30_000 };

describe('producer and transactional id expiry', () => {
  let broker: StartedBroker;
  let client: RawClient;

  before(async () => {
    broker = await startBroker({
      config: {
        ...TXN_TEST_CONFIG,
        'producer.id.expiration.ms': 1_000,
        'producer.id.expiration.check.interval.ms': 100,
        'transactional.id.expiration.ms': 1_000,
        'transaction.remove.expired.transaction.cleanup.interval.ms': 100,
      },
    });
    client = await RawClient.connect(broker.port);
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  test(
    'a partition forgets a producer idle for producer.id.expiration.ms, but not one with an open transaction',
    T,
    async () => {
      await createTopic(broker, 'expiring');
      const idle = await initProducerId(client);
      const open = await initTransactional(client, 'tx-open-long', 60_000);
      assert.deepEqual(await addPartitions(client, 'tx-open-long', open, [{ topic: 'expiring', partition: 0 }]), [0]);
      const sent = await produceRaw(client, 'expiring', 0, producerBatch(['a', 'b'], { ...idle, baseSequence: 0 }));
      assert.equal(sent.errorCode, ErrorCode.NONE);
      const txn = await produceRaw(
        client,
        'expiring',
        0,
        producerBatch(['t'], { ...open, baseSequence: 0, transactional: true }),
      );
      assert.equal(txn.errorCode, ErrorCode.NONE);
      const producers = async () => {
        const { body } = await client.request(DescribeProducers, 0, {
          topics: [{ name: 'expiring', partitionIndexes: [0] }],
        });
        return body.topics[0]!.partitions[0]!.activeProducers.map((p) => p.producerId).sort();
      };
      assert.deepEqual(await producers(), [idle.producerId, open.producerId].sort());
      await waitFor('the idle producer to expire', async () => (await producers()).length === 1, 10_000);
      assert.deepEqual(await producers(), [open.producerId]);
      // Without state, the next batch is accepted whatever its sequence.
      const later = await produceRaw(client, 'expiring', 0, producerBatch(['c'], { ...idle, baseSequence: 9 }));
      assert.equal(later.errorCode, ErrorCode.NONE);
    },
  );

  test('the coordinator forgets a transactional id idle for transactional.id.expiration.ms', T, async () => {
    const first = await initTransactional(client, 'tx-forgotten');
    const described = async () =>
      (await client.request(DescribeTransactions, 0, { transactionalIds: ['tx-forgotten'] })).body
        .transactionStates[0]!;
    assert.equal((await described()).errorCode, ErrorCode.NONE);
    await waitFor(
      'the transactional id to expire',
      async () => (await described()).errorCode === ErrorCode.TRANSACTIONAL_ID_NOT_FOUND,
      10_000,
    );
    // It starts over with a new producer id.
    const again = await initTransactional(client, 'tx-forgotten');
    assert.notEqual(again.producerId, first.producerId);
    assert.equal(again.producerEpoch, 0);
  });
});
