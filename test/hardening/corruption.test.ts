import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/broker/logger.ts';
import { startBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { batchOf, createTopic, fetchRaw, produceOk, readPartition } from '../broker/data-path/helpers.ts';
import { RawClient } from '../helpers/raw-client.ts';

const TOPIC = 'fragile';
const value = (i: number) => Buffer.from(`value-${i}-${'x'.repeat(200)}`);

/** Writes 12 batches of 3 records into small segments, then stops the broker cleanly. */
async function seed(dataDir: string): Promise<void> {
  const broker = await startBroker({ dataDir });
  await createTopic(broker, TOPIC, { configs: { 'segment.bytes': '2048' } });
  const client = await RawClient.connect(broker.port);
  for (let b = 0; b < 12; b++) {
    await produceOk(
      client,
      TOPIC,
      0,
      await batchOf([0, 1, 2].map((j) => ({ key: Buffer.from(`k${b * 3 + j}`), value: value(b * 3 + j) }))),
    );
  }
  client.close();
  await broker.close();
}

function segmentFiles(dataDir: string, suffix: string): string[] {
  const dir = join(dataDir, `${TOPIC}-0`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'warn', destination }) };
}

test('a flipped byte in a closed segment is caught by its CRC: never served, reported once, the rest still readable', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-corrupt-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  await seed(dataDir);
  const [first, second] = segmentFiles(dataDir, '.log');
  assert.ok(second, 'expected several segments');
  // Flip a byte inside the second batch of the first (closed) segment.
  const bytes = readFileSync(first!);
  const firstBatchSize = 12 + bytes.readInt32BE(8);
  bytes[firstBatchSize + 100]! ^= 0x20;
  writeFileSync(first!, bytes);

  const { lines, logger } = capture();
  const broker = await startBroker({ dataDir, log: logger });
  t.after(() => broker.close());
  const client = await RawClient.connect(broker.port);
  t.after(() => client.close());

  // From offset 0: the good first batch only, never the corrupt one.
  const fromStart = await fetchRaw(client, [{ topic: TOPIC, partition: 0, fetchOffset: 0n }]);
  const part = fromStart.responses[0]!.partitions[0]!;
  assert.equal(part.errorCode, ErrorCode.NONE);
  assert.equal(part.records!.length, firstBatchSize);
  // At the corrupt batch: CORRUPT_MESSAGE, and again on retry, with one log line for both.
  for (let i = 0; i < 3; i++) {
    const atCorrupt = await fetchRaw(client, [{ topic: TOPIC, partition: 0, fetchOffset: 3n }]);
    assert.equal(atCorrupt.responses[0]!.partitions[0]!.errorCode, ErrorCode.CORRUPT_MESSAGE);
  }
  const reports = lines.filter((l) => l.includes('CRC'));
  assert.equal(reports.length, 1, lines.join('\n'));
  assert.match(reports[0]!, /fragile-0/);
  // Later segments are untouched.
  const secondBase = BigInt(second!.split('/').pop()!.slice(0, 20));
  const later = await readPartition(client, TOPIC, 0, secondBase);
  assert.ok(later.length > 0);
  assert.equal(later[0]!.value, value(Number(secondBase)).toString());
});

test('missing and corrupt indexes are rebuilt, and a torn tail is cut after an unclean stop', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-corrupt-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  await seed(dataDir);
  const indexes = segmentFiles(dataDir, '.index');
  unlinkSync(indexes[0]!);
  writeFileSync(indexes[1]!, Buffer.alloc(64, 0xff));
  const logs = segmentFiles(dataDir, '.log');
  const last = logs[logs.length - 1]!;
  const size = readFileSync(last).length;
  // Half of the last batch is lost, as after a crash mid-write; no clean-shutdown marker.
  truncateSync(last, size - 100);
  rmSync(join(dataDir, '.clean-shutdown'), { force: true });

  const broker = await startBroker({ dataDir });
  t.after(() => broker.close());
  const client = await RawClient.connect(broker.port);
  t.after(() => client.close());
  const records = await readPartition(client, TOPIC);
  // The torn last batch (3 records) is gone; everything before it reads back in order.
  assert.equal(records.length, 33);
  assert.deepEqual(
    records.map((r) => r.key),
    Array.from({ length: 33 }, (_, i) => `k${i}`),
  );
  // Reading from the middle uses the rebuilt indexes.
  const middle = await readPartition(client, TOPIC, 0, 10n);
  assert.equal(middle[0]!.key, 'k10');
  assert.equal(middle.length, 23);
  // Appends continue right after the last good record.
  const next = await produceOk(client, TOPIC, 0, await batchOf([{ value: Buffer.from('after') }]));
  assert.equal(next, 33n);
});
