/**
 * The log.cleaner.* broker keys reach the cleaner, and what it does is logged: a compacted
 * topic is cleaned in the background with log.cleaner.enable=true (the default) and left
 * alone with false.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/broker/logger.ts';
import { startBroker } from '../../src/broker/start-broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { batchOf, createTopic, produceOk, readPartition, sleep } from './data-path/helpers.ts';

const T = { timeout: 60_000 };

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

/** 30 updates of 3 keys in 1-record batches, with 200-byte segments so that most are sealed. */
async function updateKeys(enabled: boolean) {
  const { lines, logger } = capture();
  const broker = await startBroker({
    config: { 'log.cleaner.enable': String(enabled), 'log.cleaner.backoff.ms': '50' },
    log: logger,
  });
  const client = await RawClient.connect(broker.port);
  await createTopic(broker, 'table', {
    configs: { 'cleanup.policy': 'compact', 'segment.bytes': '200', 'min.cleanable.dirty.ratio': '0.01' },
  });
  for (let i = 0; i < 30; i++) {
    await produceOk(client, 'table', 0, await batchOf([{ key: `k${i % 3}`, value: `v${i}` }]));
  }
  return { broker, client, lines };
}

test(
  'log.cleaner.enable=true (the default): a compacted topic is cleaned in the background and the round logged',
  T,
  async () => {
    const { broker, client, lines } = await updateKeys(true);
    try {
      let records = await readPartition(client, 'table');
      for (let i = 0; i < 200 && records.length === 30; i++) {
        await sleep(50);
        records = await readPartition(client, 'table');
      }
      assert.ok(records.length < 30, 'older values of the keys were removed');
      // The newest value of each key survives, at its own offset.
      const latest = new Map(records.map((r) => [r.key, r]));
      assert.deepEqual([...latest.values()].map((r) => [r.key, r.value, r.offset]).sort(), [
        ['k0', 'v27', 27n],
        ['k1', 'v28', 28n],
        ['k2', 'v29', 29n],
      ]);
      const cleaned = lines.find((l) => l.msg === 'Cleaned log');
      assert.ok(cleaned, 'the cleaning round was logged');
      assert.equal(cleaned.partition, 'table-0');
    } finally {
      client.close();
      await broker.close();
    }
  },
);

test('log.cleaner.enable=false: nothing is cleaned', T, async () => {
  const { broker, client, lines } = await updateKeys(false);
  try {
    await sleep(500);
    assert.equal((await readPartition(client, 'table')).length, 30);
    assert.equal(
      lines.some((l) => l.msg === 'Cleaned log'),
      false,
    );
  } finally {
    client.close();
    await broker.close();
  }
});
