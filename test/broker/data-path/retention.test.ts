/**
 * Segment roll and retention seen from clients: old segments go, the log start offset
 * moves, a fetch below it is OFFSET_OUT_OF_RANGE, and consumers recover by their reset
 * policy (kcat -o beginning, or auto.offset.reset=earliest after an out-of-range offset).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type StartedBroker, startBroker } from '../../../src/broker/start-broker.ts';
import { ErrorCode } from '../../../src/protocol/generated/error-codes.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { runKcat } from '../../interop/wire-checks.ts';
import { batchOf, createTopic, fetchRaw, kcatTest, ListOffsets, produceOk, readPartition, sleep } from './helpers.ts';

const T = { timeout: 60_000 };

describe('segment roll and retention', () => {
  let broker: StartedBroker;
  let client: RawClient;
  before(async () => {
    broker = await startBroker({ config: { 'log.retention.check.interval.ms': 100 } });
    client = await RawClient.connect(broker.port);
  });
  after(async () => {
    client.close();
    await broker.close();
  });

  const earliest = async (topic: string): Promise<bigint> => {
    const { body } = await client.request(ListOffsets, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        { name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 }] },
      ],
      timeoutMs: 1000,
    });
    return body.topics[0]!.partitions[0]!.offset;
  };

  const waitForLogStart = async (topic: string, atLeast: bigint): Promise<bigint> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const start = await earliest(topic);
      if (start >= atLeast) return start;
      if (Date.now() > deadline) assert.fail(`log start offset of ${topic} stayed at ${start}`);
      await sleep(50);
    }
  };

  /** 20 batches of one ~200-byte record; the first 14 an hour old, the rest new. */
  const fill = async (topic: string): Promise<void> => {
    const now = BigInt(Date.now());
    for (let i = 0; i < 20; i++) {
      const timestamp = i < 14 ? now - 3_600_000n : now;
      await produceOk(
        client,
        topic,
        0,
        await batchOf([{ key: `k${i}`, value: `v${i}-${'x'.repeat(200)}`, timestamp }]),
      );
    }
  };

  test('small segment.bytes rolls segments; retention.ms deletes the old ones and moves the log start', T, async () => {
    const topic = 'retained-by-time';
    await createTopic(broker, topic, { configs: { 'segment.bytes': '1024', 'retention.ms': '600000' } });
    await fill(topic);
    const log = broker.broker.services.logs.getLog(topic, 0)!;
    // A pass over the whole filled log, so that the timer's passes (some ran during the
    // fill) have nothing left to delete while the records are read back.
    await log.deleteOldSegments();
    const dir = join(broker.dataDir, `${topic}-0`);
    const logFiles = async () => (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
    const start = await waitForLogStart(topic, 1n);
    // Only whole segments go, and only those entirely older than retention.ms.
    assert.ok(start > 0n && start <= 14n, `log start ${start}`);
    assert.equal(log.logStartOffset, start);
    const afterFiles = await logFiles();
    assert.ok(!afterFiles.includes('00000000000000000000.log'), 'the first segment file was deleted');
    assert.equal(afterFiles[0], `${String(start).padStart(20, '0')}.log`);
    // The records kept (14 to 19, about 1.5 KiB) still span more than one 1 KiB segment.
    assert.ok(log.numberOfSegments >= 2, `${log.numberOfSegments} segments`);
    assert.deepEqual(log.segmentBaseOffsets[0], start);

    const below = await fetchRaw(client, [{ topic, fetchOffset: 0n }]);
    assert.equal(below.responses[0]!.partitions[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    const rest = await readPartition(client, topic, 0, start);
    assert.equal(rest[0]!.offset, start);
    assert.equal(rest[rest.length - 1]!.offset, 19n);
    // New records keep the segments that hold them.
    assert.ok(rest.some((r) => r.key === 'k14'));
  });

  test('retention.bytes deletes the oldest segments beyond the size', T, async () => {
    const topic = 'retained-by-size';
    await createTopic(broker, topic, { configs: { 'segment.bytes': '1024', 'retention.bytes': '2048' } });
    const now = BigInt(Date.now());
    for (let i = 0; i < 20; i++) {
      await produceOk(client, topic, 0, await batchOf([{ value: `${i}-${'y'.repeat(200)}`, timestamp: now }]));
    }
    await waitForLogStart(topic, 10n);
    assert.ok(broker.broker.services.logs.getLog(topic, 0)!.size <= 2048 + 1024);
  });

  kcatTest('kcat -o beginning reads from the new log start; -o 0 resets by auto.offset.reset', T, async () => {
    const topic = 'retained-kcat';
    await createTopic(broker, topic, { configs: { 'segment.bytes': '1024', 'retention.ms': '600000' } });
    await fill(topic);
    const start = await waitForLogStart(topic, 1n);
    const consume = async (...args: string[]) => {
      const result = await runKcat(
        ['-C', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-e', '-q', '-f', '%o\n', ...args],
        '',
      );
      assert.ok(!result.timedOut && result.code === 0, `kcat failed (${result.code}): ${result.stderr}`);
      return result.stdout.split('\n').filter(Boolean).map(Number);
    };
    // Retention may still be deleting expired segments while kcat reads, so the log start can
    // move on from `start`, but never past offset 14, the first record that has not expired.
    const fromLogStart = (offsets: number[]): void => {
      const first = offsets[0]!;
      assert.ok(first >= Number(start) && first <= 14, `read from ${first}, log start was ${start}`);
      assert.deepEqual(
        offsets,
        Array.from({ length: 20 - first }, (_, i) => first + i),
      );
    };
    fromLogStart(await consume('-o', 'beginning'));
    // Offset 0 is gone: the broker says OFFSET_OUT_OF_RANGE and librdkafka resets to the earliest.
    fromLogStart(await consume('-o', '0', '-X', 'auto.offset.reset=earliest'));
  });
});
