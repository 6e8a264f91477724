/**
 * Crash durability of the produce path: `tributary start` runs as a child process, a
 * kafkajs producer sends with acks=all, and the broker is killed with SIGKILL at random
 * moments, 20 times. After each restart every acknowledged record must still be there,
 * exactly once and in the order it was acknowledged; a record that was not acknowledged
 * may or may not be there, but never twice.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type BrokerProcess, spawnBroker } from '../../helpers/broker-process.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { readPartition, sleep } from './helpers.ts';

const { Kafka, logLevel } = kafkajs;
const ROUNDS = 20;
const TOPIC = 'crash';

test('kill -9 at 20 random moments loses and duplicates no acknowledged record', { timeout: 150_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-crash-'));
  let broker: BrokerProcess | null = null;
  t.after(async () => {
    await broker?.kill9();
    await rm(dataDir, { recursive: true, force: true });
  });
  const start = () => spawnBroker(['--port', '0', '--data-dir', dataDir]);

  /** Values acknowledged, in acknowledgement order; and every value ever sent. */
  const acked: string[] = [];
  const sent = new Set<string>();
  let killedInFlight = 0;
  for (let round = 0; round < ROUNDS; round++) {
    broker = await start();
    const kafka = new Kafka({
      clientId: `crash-${round}`,
      brokers: [`127.0.0.1:${broker.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 2_000,
      requestTimeout: 5_000,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 0 } });
    await producer.connect();
    let stop = false;
    // Sends batches of five back to back until the broker dies under it.
    const sending = (async () => {
      for (let i = 0; !stop; i++) {
        const values = Array.from({ length: 5 }, (_, j) => `r${round}-b${i}-m${j}`);
        for (const v of values) sent.add(v);
        try {
          await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ partition: 0, value })) });
        } catch {
          killedInFlight++;
          return;
        }
        acked.push(...values);
      }
    })();
    await sleep(20 + Math.random() * 300);
    await broker.kill9();
    stop = true;
    await sending;
    await producer.disconnect().catch(() => {});
  }

  broker = await start();
  const client = await RawClient.connect(broker.port);
  const values = (await readPartition(client, TOPIC)).map((r) => r.value!);
  client.close();
  await broker.stop();

  // Nothing twice, nothing that was never sent.
  assert.equal(new Set(values).size, values.length, 'a record is stored twice');
  for (const v of values) assert.ok(sent.has(v), `unknown record ${v}`);
  // Every acknowledged record, in acknowledgement order.
  const position = new Map(values.map((v, i) => [v, i]));
  let last = -1;
  for (const v of acked) {
    const at = position.get(v);
    assert.ok(at !== undefined, `acknowledged record ${v} is lost`);
    assert.ok(at > last, `acknowledged record ${v} is out of order`);
    last = at;
  }
  assert.ok(acked.length > 0, 'nothing was acknowledged');
  t.diagnostic(
    `${ROUNDS} kills, ${acked.length} acknowledged records, ${values.length} stored, ${killedInFlight} sends cut by the kill`,
  );
});
