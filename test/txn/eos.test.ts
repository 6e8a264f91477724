/**
 * Exactly-once consume-transform-produce with kafkajs against a broker child process: a
 * transactional processor reads `eos-in`, writes `eos-out` and commits its input offsets in
 * the same transaction (sendOffsets). Midway its producer is replaced while a transaction
 * is open (the old one, a zombie, then fails to commit), and later the broker is killed
 * with SIGKILL while a transaction is open and restarted on the same port. A read_committed
 * consumer of `eos-out` must then see every input record transformed exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type BrokerProcess, spawnBroker } from '../helpers/broker-process.ts';
import { freePort, waitFor, within } from './helpers.ts';

const { Kafka, logLevel } = kafkajs;
type KafkaClient = InstanceType<typeof Kafka>;
type Producer = ReturnType<KafkaClient['producer']>;
type Consumer = ReturnType<KafkaClient['consumer']>;

const INPUT = 'eos-in';
const OUTPUT = 'eos-out';
const GROUP = 'eos-app';
const TRANSACTIONAL_ID = 'eos-app-processor';
const PARTITIONS = 3;
const RECORDS = 600;

function kafkaFor(port: number, clientId: string): KafkaClient {
  return new Kafka({
    clientId,
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 1_000 },
  });
}

/**
 * One instance of the application: a consumer of the input group and a transactional
 * producer. `beforeCommit` lets the test stop it inside a transaction.
 */
class Processor {
  readonly producer: Producer;
  readonly consumer: Consumer;
  /** Input records whose transaction committed. */
  committed = 0;
  beforeCommit: (() => Promise<void>) | null = null;
  errors: unknown[] = [];

  constructor(kafka: KafkaClient) {
    this.producer = kafka.producer({ transactionalId: TRANSACTIONAL_ID, maxInFlightRequests: 1, idempotent: true });
    this.consumer = kafka.consumer({
      groupId: GROUP,
      maxBytesPerPartition: 512,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
  }

  /** Connects the producer and takes over the transactional id (fencing any earlier instance). */
  async initProducer(): Promise<void> {
    await this.producer.connect();
    const txn = await this.producer.transaction();
    await txn.abort();
  }

  async run(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: INPUT, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        const txn = await this.producer.transaction();
        try {
          await txn.send({
            topic: OUTPUT,
            messages: batch.messages.map((m) => ({ key: m.key, value: `out-${m.value?.toString()}` })),
          });
          const next = BigInt(batch.messages[batch.messages.length - 1]!.offset) + 1n;
          await txn.sendOffsets({
            consumerGroupId: GROUP,
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next.toString() }] }],
          });
          await this.beforeCommit?.();
          await txn.commit();
          this.committed += batch.messages.length;
        } catch (err) {
          this.errors.push(err);
          await txn.abort().catch(() => {});
          throw err;
        }
      },
    });
  }

  /** Stops it, whatever state its clients are in. */
  async stop(): Promise<void> {
    await within(this.consumer.disconnect(), 15_000, 'consumer disconnect').catch(() => {});
    await within(this.producer.disconnect(), 15_000, 'producer disconnect').catch(() => {});
  }
}

/** A gate the processor stops at inside a transaction, once it has committed `after` input records. */
function gateAfter(processor: Processor, after: number): { reached: Promise<void>; release: () => void } {
  let reached!: () => void;
  let release!: () => void;
  const reachedPromise = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let used = false;
  processor.beforeCommit = async () => {
    if (used || processor.committed < after) return;
    used = true;
    reached();
    await released;
  };
  return { reached: reachedPromise, release };
}

test('consume-transform-produce is exactly once across a fenced producer and a broker kill -9', {
  timeout: 180_000,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-eos-'));
  const port = await freePort();
  const config = join(dir, 'broker.properties');
  await writeFile(
    config,
    [
      'offsets.topic.num.partitions=3',
      'transaction.state.log.num.partitions=3',
      'group.initial.rebalance.delay.ms=0',
    ].join('\n'),
  );
  const start = () => spawnBroker(['--port', String(port), '--data-dir', join(dir, 'data'), '--config', config]);
  let broker: BrokerProcess | null = await start();
  const processors: Processor[] = [];
  t.after(async () => {
    for (const p of processors) await p.stop();
    await broker?.kill9();
    await rm(dir, { recursive: true, force: true });
  });

  // The input: many small batches, so the processor works in many small transactions.
  const setup = kafkaFor(port, 'eos-setup');
  const admin = setup.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: INPUT, numPartitions: PARTITIONS },
      { topic: OUTPUT, numPartitions: PARTITIONS },
    ],
  });
  const input = setup.producer({ idempotent: true, maxInFlightRequests: 1 });
  await input.connect();
  const expected: string[] = [];
  for (let i = 0; i < RECORDS; i += 10) {
    const messages = Array.from({ length: 10 }, (_, j) => ({ key: `k${(i + j) % 17}`, value: `in-${i + j}` }));
    for (const m of messages) expected.push(`out-${m.value}`);
    await input.send({ topic: INPUT, acks: -1, messages });
  }
  await input.disconnect();
  await admin.disconnect();

  // 1. The first instance works until a third is done, then stops inside a transaction.
  const first = new Processor(kafkaFor(port, 'eos-1'));
  processors.push(first);
  const firstGate = gateAfter(first, RECORDS / 3);
  await first.initProducer();
  await first.run();
  await within(firstGate.reached, 60_000, 'the first instance reaching a third');

  // 2. Its replacement takes over the transactional id: that aborts the open transaction and
  //    fences the old producer, whose commit then fails.
  const second = new Processor(kafkaFor(port, 'eos-2'));
  processors.push(second);
  await second.initProducer();
  firstGate.release();
  await waitFor('the zombie commit to fail', () => first.errors.length > 0, 15_000);
  assert.match(
    String((first.errors[0] as { type?: string }).type ?? first.errors[0]),
    /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/,
  );
  await first.stop();

  // 3. The replacement goes on, and the broker dies under it in the middle of a transaction.
  const secondGate = gateAfter(second, RECORDS / 3);
  await second.run();
  await within(secondGate.reached, 60_000, 'the second instance reaching two thirds');
  await broker.kill9();
  secondGate.release();
  await second.stop();

  // 4. The broker comes back on the same port; a third instance finishes the input.
  broker = await start();
  const third = new Processor(kafkaFor(port, 'eos-3'));
  processors.push(third);
  await third.initProducer();
  await third.run();
  const check = kafkaFor(port, 'eos-check').admin();
  await check.connect();
  const ends = await check.fetchTopicOffsets(INPUT);
  await waitFor(
    'the group to commit the end of the input',
    async () => {
      const [offsets] = await check.fetchOffsets({ groupId: GROUP, topics: [INPUT] });
      return ends.every((e) => offsets!.partitions.find((p) => p.partition === e.partition)?.offset === e.offset);
    },
    90_000,
    200,
  );
  await check.disconnect();
  await third.stop();

  // Downstream, read_committed: every input record transformed, exactly once.
  const reader = kafkaFor(port, 'eos-reader');
  const readAll = async (readUncommitted: boolean, atLeast: number): Promise<string[]> => {
    const consumer = reader.consumer({
      groupId: `eos-reader-${readUncommitted}`,
      readUncommitted,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: OUTPUT, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString());
      },
    });
    await waitFor(`${atLeast} output records`, () => seen.length >= atLeast, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await consumer.disconnect();
    return seen;
  };
  const output = await readAll(false, RECORDS);
  assert.equal(output.length, RECORDS, 'each input record once in the committed output');
  assert.deepEqual([...output].sort(), [...expected].sort());
  // The aborted transactions (the zombie's, the one the crash cut short) are in the log, uncommitted.
  const everything = await readAll(true, RECORDS + 1);
  assert.ok(everything.length > RECORDS, `only ${everything.length} records, the aborted ones are missing`);
});
