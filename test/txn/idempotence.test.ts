/**
 * Idempotent producers over the raw protocol: InitProducerId without a transactional id,
 * a resent batch answered with its first offsets, OUT_OF_ORDER_SEQUENCE_NUMBER for a gap,
 * INVALID_PRODUCER_EPOCH for an old epoch, the sequence wrap, DescribeProducers, and all
 * of it after `kill -9` of a broker child process and a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { CreateTopicsRequest, CreateTopicsResponse } from '../../src/protocol/generated/messages/create-topics.ts';
import { createTopic, kcatTest, produceRaw, readPartition } from '../broker/data-path/helpers.ts';
import { type BrokerProcess, spawnBroker } from '../helpers/broker-process.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { runKcat } from '../interop/wire-checks.ts';
import { DescribeProducers, initProducerId, producerBatch, TXN_TEST_CONFIG } from './helpers.ts';

const T = { timeout: 60_000 };
const INT32_MAX = 0x7fffffff;
const CreateTopics = { request: CreateTopicsRequest, response: CreateTopicsResponse };

const values = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

describe('idempotent producers (raw protocol)', () => {
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

  test('InitProducerId without a transactional id hands out a new producer id at epoch 0 every time', T, async () => {
    const ids = new Set<bigint>();
    for (const version of [0, 1, 2, 3, 4, 5]) {
      const r = await initProducerId(client, { version });
      assert.equal(r.errorCode, ErrorCode.NONE);
      assert.equal(r.producerEpoch, 0);
      ids.add(r.producerId);
    }
    assert.equal(ids.size, 6);
    // v3+: naming only one of producer id and epoch is a malformed request, as in Kafka.
    const bad = await initProducerId(client, { version: 3, producerId: 5n });
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('a resent batch gets its first offsets back and is not written again', T, async () => {
    await createTopic(broker, 'idem-dup');
    const { producerId } = await initProducerId(client);
    const p = { producerId, producerEpoch: 0 };
    const first = await produceRaw(client, 'idem-dup', 0, producerBatch(values('a', 3), { ...p, baseSequence: 0 }));
    const second = await produceRaw(client, 'idem-dup', 0, producerBatch(values('b', 2), { ...p, baseSequence: 3 }));
    assert.deepEqual([first.errorCode, first.baseOffset, second.errorCode, second.baseOffset], [0, 0n, 0, 3n]);
    for (const version of [3, 7, 9, 11]) {
      const again = await produceRaw(client, 'idem-dup', 0, producerBatch(values('a', 3), { ...p, baseSequence: 0 }), {
        version,
      });
      assert.equal(again.errorCode, ErrorCode.NONE, `v${version}`);
      assert.equal(again.baseOffset, 0n, `v${version}`);
    }
    const again = await produceRaw(client, 'idem-dup', 0, producerBatch(values('b', 2), { ...p, baseSequence: 3 }));
    assert.equal(again.baseOffset, 3n);
    assert.deepEqual(
      (await readPartition(client, 'idem-dup')).map((r) => r.value),
      [...values('a', 3), ...values('b', 2)],
    );
  });

  test(
    'a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an old epoch INVALID_PRODUCER_EPOCH; a new epoch starts at 0',
    T,
    async () => {
      await createTopic(broker, 'idem-order');
      const { producerId } = await initProducerId(client);
      const at = (producerEpoch: number, baseSequence: number, tag: string) =>
        produceRaw(client, 'idem-order', 0, producerBatch(values(tag, 2), { producerId, producerEpoch, baseSequence }));
      assert.equal((await at(1, 0, 'a')).errorCode, ErrorCode.NONE);
      const gap = await at(1, 3, 'gap');
      assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.match(gap.errorMessage ?? '', /sequence 3 .* does not follow its last sequence 1/);
      assert.equal((await at(0, 2, 'zombie')).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
      assert.equal((await at(2, 5, 'new-epoch')).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.equal((await at(2, 0, 'b')).errorCode, ErrorCode.NONE);
      assert.equal((await at(2, 2, 'c')).errorCode, ErrorCode.NONE);
      assert.deepEqual(
        (await readPartition(client, 'idem-order')).map((r) => r.value),
        [...values('a', 2), ...values('b', 2), ...values('c', 2)],
      );
    },
  );

  test('sequences wrap from 2^31-1 to 0', T, async () => {
    await createTopic(broker, 'idem-wrap');
    const { producerId } = await initProducerId(client);
    const send = (baseSequence: number, n: number, tag: string) =>
      produceRaw(client, 'idem-wrap', 0, producerBatch(values(tag, n), { producerId, producerEpoch: 0, baseSequence }));
    // A producer the partition has no state for may start at any sequence (Kafka since KIP-360).
    assert.equal((await send(INT32_MAX - 2, 2, 'a')).baseOffset, 0n); // INT32_MAX-2 .. INT32_MAX-1
    assert.equal((await send(INT32_MAX, 3, 'b')).baseOffset, 2n); // INT32_MAX, 0, 1
    assert.equal((await send(INT32_MAX, 3, 'b')).baseOffset, 2n, 'the wrapping batch is recognised when resent');
    assert.equal((await send(3, 1, 'gap')).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal((await send(2, 1, 'c')).baseOffset, 5n);
  });

  kcatTest('kcat (librdkafka) produces with enable.idempotence=true', T, async () => {
    await createTopic(broker, 'idem-kcat');
    const input = `${values('k', 500).join('\n')}\n`;
    const args = ['-P', '-b', broker.bootstrap, '-t', 'idem-kcat', '-p', '0', '-X', 'enable.idempotence=true'];
    const result = await runKcat([...args, '-X', 'linger.ms=5'], input, 30_000);
    assert.ok(!result.timedOut && result.code === 0, `kcat -P failed (${result.code}): ${result.stderr}`);
    assert.deepEqual(
      (await readPartition(client, 'idem-kcat')).map((r) => r.value),
      values('k', 500),
    );
    const { body } = await client.request(DescribeProducers, 0, {
      topics: [{ name: 'idem-kcat', partitionIndexes: [0] }],
    });
    const [producer] = body.topics[0]!.partitions[0]!.activeProducers;
    assert.equal(producer!.lastSequence, 499);
    assert.ok(producer!.producerId >= 0n);
  });

  test('DescribeProducers lists the producers a partition keeps state for', T, async () => {
    await createTopic(broker, 'idem-describe', { partitions: 2 });
    const { producerId } = await initProducerId(client);
    await produceRaw(
      client,
      'idem-describe',
      1,
      producerBatch(values('a', 4), { producerId, producerEpoch: 0, baseSequence: 0 }),
    );
    const { body } = await client.request(DescribeProducers, 0, {
      topics: [
        { name: 'idem-describe', partitionIndexes: [0, 1, 2] },
        { name: 'no-such-topic', partitionIndexes: [0] },
      ],
    });
    const [topic, missing] = body.topics;
    assert.deepEqual(topic!.partitions[0]!.activeProducers, []);
    assert.deepEqual(
      topic!.partitions[1]!.activeProducers.map((p) => [
        p.producerId,
        p.producerEpoch,
        p.lastSequence,
        p.currentTxnStartOffset,
      ]),
      [[producerId, 0, 3, -1n]],
    );
    assert.ok(topic!.partitions[1]!.activeProducers[0]!.lastTimestamp > 0n);
    assert.equal(topic!.partitions[2]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(missing!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

describe('idempotent producers across kill -9', () => {
  let dataDir: string;
  let child: BrokerProcess | null = null;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tributary-idem-crash-'));
  });
  after(async () => {
    await child?.kill9();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('de-duplication, sequence checks and producer ids survive kill -9 and restart', {
    timeout: 120_000,
  }, async () => {
    const config = join(dataDir, 'broker.properties');
    await writeFile(config, 'offsets.topic.num.partitions=3\ntransaction.state.log.num.partitions=3\n');
    const brokerDir = join(dataDir, 'data');
    const start = () => spawnBroker(['--port', '0', '--data-dir', brokerDir, '--config', config]);
    child = await start();
    let client = await RawClient.connect(child.port);
    const created = await client.request(CreateTopics, 4, {
      topics: [
        {
          name: 'crashy',
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          // Small segments: the state comes back from a roll's snapshot plus the log after it.
          configs: [{ name: 'segment.bytes', value: '1024' }],
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    assert.equal(created.body.topics[0]!.errorCode, ErrorCode.NONE);
    const { producerId } = await initProducerId(client);
    const p = { producerId, producerEpoch: 0 };
    const batch = (i: number) => producerBatch(values(`b${i}`, 5), { ...p, baseSequence: i * 5 });
    const offsets: bigint[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await produceRaw(client, 'crashy', 0, batch(i));
      assert.equal(r.errorCode, ErrorCode.NONE);
      offsets.push(r.baseOffset);
    }

    for (let round = 0; round < 2; round++) {
      client.close();
      await child.kill9();
      child = await start();
      client = await RawClient.connect(child.port);
      const n = offsets.length;
      // The last batches, resent as a producer does after a lost response: their first offsets, nothing written.
      for (const i of [n - 1, n - 3, n - 5]) {
        const again = await produceRaw(client, 'crashy', 0, batch(i));
        assert.equal(again.errorCode, ErrorCode.NONE, `round ${round}, batch ${i}`);
        assert.equal(again.baseOffset, offsets[i], `round ${round}, batch ${i}`);
      }
      const gap = await produceRaw(client, 'crashy', 0, batch(n + 1));
      assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `round ${round}`);
      // The producer goes on where it stopped; this round writes without a roll, so the next
      // restart has only the log tail after the last snapshot to go by.
      const next = await produceRaw(client, 'crashy', 0, batch(n));
      assert.equal(next.errorCode, ErrorCode.NONE);
      assert.equal(next.baseOffset, BigInt(n * 5));
      offsets.push(next.baseOffset);
      // Producer ids are reserved durably: a restarted broker never hands one out again.
      const fresh = await initProducerId(client);
      assert.ok(fresh.producerId > producerId, `round ${round}: ${fresh.producerId} after ${producerId}`);
    }
    const stored = await readPartition(client, 'crashy');
    assert.equal(stored.length, offsets.length * 5);
    assert.deepEqual(
      stored.map((r) => r.value),
      offsets.flatMap((_, i) => values(`b${i}`, 5)),
    );
    const files = await readdir(join(brokerDir, 'crashy-0'));
    assert.ok(
      files.some((f) => f.endsWith('.snapshot')),
      `no snapshot among ${files.join(', ')}`,
    );
    client.close();
    assert.equal(await child.stop(), 0);
    child = null;
  });
});
