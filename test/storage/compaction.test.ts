import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CompressionCodec } from '../../src/protocol/records/batch-header.ts';
import { ControlRecordType, createControlBatch } from '../../src/protocol/records/control-record.ts';
import { encodeRecordBatch } from '../../src/protocol/records/record-batch.ts';
import { parseCheckpoint } from '../../src/storage/cleaner/checkpoint.ts';
import type { Log } from '../../src/storage/log.ts';
import { LogManager, type LogManagerOptions } from '../../src/storage/log-manager.ts';
import {
  ALL_CODECS,
  assertSameTable,
  keyedBatch,
  readLog,
  tableOf,
  type Workload,
  writeWorkload,
} from './compaction-helpers.ts';
import { ManualClock, tempDir } from './helpers.ts';

let dataDir: string;
let cleanup: () => Promise<void>;
let clock: ManualClock;
const managers: LogManager[] = [];

beforeEach(async () => {
  ({ path: dataDir, cleanup } = await tempDir('tributary-compaction-'));
  clock = new ManualClock();
});

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close().catch(() => {})));
  await cleanup();
});

/** Topic config of the compacted topics below: small segments, page-cache appends (speed), no deletion delay. */
const COMPACTED = {
  'cleanup.policy': 'compact',
  'segment.bytes': '32768',
  'flush.messages': '1000000',
  'file.delete.delay.ms': '0',
  'delete.retention.ms': '60000',
};

async function openManager(
  topics: Record<string, Record<string, string>>,
  opts: Partial<LogManagerOptions> = {},
): Promise<LogManager> {
  const manager = await LogManager.open({
    dataDir,
    retentionCheckIntervalMs: 0,
    clock: clock.read,
    topicConfigs: new Map(Object.entries(topics)),
    ...opts,
    cleaner: { enabled: false, ...opts.cleaner },
  });
  managers.push(manager);
  return manager;
}

async function closeManager(manager: LogManager): Promise<void> {
  await manager.close();
  managers.splice(managers.indexOf(manager), 1);
}

/** Every record read back has the key and value written at its offset. */
function assertOffsetsKept(records: Awaited<ReturnType<typeof readLog>>['records'], workload: Workload): void {
  for (const r of records) {
    const written = workload.written.get(r.offset);
    assert.ok(written, `offset ${r.offset} was written`);
    assert.equal(r.key, written.key, `key at offset ${r.offset}`);
    assert.equal(r.value, written.value, `value at offset ${r.offset}`);
  }
}

/** Keys that occur more than once in records below `end`. */
function duplicatesBelow(records: Awaited<ReturnType<typeof readLog>>['records'], end: bigint): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const r of records) {
    if (r.offset >= end || r.key === null) continue;
    if (seen.has(r.key)) dups.push(r.key);
    seen.add(r.key);
  }
  return dups;
}

describe('compaction of 100k updates over 1k keys', () => {
  for (const [name, codecs] of [
    ['uncompressed batches', [CompressionCodec.None]],
    ['batches in every codec', ALL_CODECS],
  ] as const) {
    it(`ends with the latest value per live key at the same offsets (${name})`, async () => {
      const manager = await openManager({ table: COMPACTED });
      const log = await manager.getOrCreateLog('table', 0);
      const writeStarted = performance.now();
      const workload = await writeWorkload(log, {
        updates: 100_000,
        keys: 1000,
        batchSize: 100,
        codecs,
        timestamp: clock.read,
      });
      const writeMs = performance.now() - writeStarted;
      await log.roll(); // everything written becomes cleanable
      const segmentsBefore = log.numberOfSegments;
      const bytesBefore = log.size;
      assert.ok(segmentsBefore > 20, `${segmentsBefore} segments`);
      const originalBatches = new Set((await readLog(log)).batches.map((b) => `${b.baseOffset}+${b.lastOffsetDelta}`));

      const stats = await manager.cleaner.runOnce();
      assert.ok(stats, 'the log was due (never cleaned: dirty ratio 1)');
      assert.equal(stats.mapFull, false);
      assert.equal(stats.endOffset, 100_000n);
      assert.equal(stats.recordsRead, 100_000);
      process.stdout.write(
        `# ${name}: wrote 100k records in ${writeMs.toFixed(0)} ms; cleaned ${stats.segmentsBefore} segments ` +
          `(${bytesBefore} bytes) into ${stats.segmentsAfter} (${log.size} bytes) in ${stats.durationMs.toFixed(0)} ms, ` +
          `${stats.steps} steps\n`,
      );

      // Before delete.retention.ms: latest value per key, deleted keys as their tombstone.
      let { batches, records } = await readLog(log);
      assertSameTable(tableOf(records), workload.table, 'table after cleaning');
      assertOffsetsKept(records, workload);
      assert.deepEqual(duplicatesBelow(records, log.logEndOffset), [], 'one record per key');
      assert.equal(records.length, 1000, 'one record per key, live or deleted');
      const tombstones = records.filter((r) => r.value === null).map((r) => r.key);
      assert.deepEqual(new Set(tombstones), workload.deleted, 'deleted keys are present as tombstones');
      for (const b of batches) {
        assert.ok(originalBatches.has(`${b.baseOffset}+${b.lastOffsetDelta}`), 'batches keep their offset ranges');
        const codec = b.attributes & 0x07;
        assert.ok((codecs as readonly number[]).includes(codec), 'batches keep a codec of the input');
      }
      assert.ok(
        batches.some((b) => (b.attributes & 0x40) !== 0),
        'batches with tombstones carry a delete horizon',
      );

      // After delete.retention.ms: the tombstones are gone, the table is the same.
      assert.equal(await manager.cleaner.runOnce(), null, 'nothing to do before the horizon');
      clock.advance(60_001);
      const expiry = await manager.cleaner.runOnce();
      assert.ok(expiry, 'the passed delete horizon makes the log due');
      assert.equal(expiry.tombstonesRemoved, workload.deleted.size);
      ({ batches, records } = await readLog(log));
      assertSameTable(tableOf(records), workload.table, 'table after the tombstones expired');
      assertOffsetsKept(records, workload);
      assert.equal(records.length, workload.table.size, 'only live keys are left');
      assert.ok(records.every((r) => r.value !== null));
      assert.ok(log.numberOfSegments < segmentsBefore / 4, `${log.numberOfSegments} segments left`);
      assert.equal(log.logStartOffset, 0n, 'a consumer still starts at offset 0');

      // After a restart: same table, and the checkpoint means no work is redone.
      await closeManager(manager);
      const reopened = await openManager({ table: COMPACTED });
      const again = reopened.getLog('table', 0)!;
      assertSameTable(tableOf((await readLog(again)).records), workload.table, 'table after a restart');
      assert.equal(reopened.cleaner.cleanedOffset(again), 100_000n);
      assert.equal(await reopened.cleaner.runOnce(), null);
      const files = await readdir(again.dir);
      assert.deepEqual(
        files.filter((f) => /\.(cleaned|swap|deleted|tmp)$/.test(f)),
        [],
        'no leftovers',
      );
    });
  }
});

describe('what compaction must not touch', () => {
  it('leaves the active segment and segments newer than min.compaction.lag.ms alone', async () => {
    const config = { ...COMPACTED, 'min.compaction.lag.ms': '3600000', 'segment.bytes': '4096' };
    const manager = await openManager({ lag: config });
    const log = await manager.getOrCreateLog('lag', 0);
    const write = async (round: number, batches: number) => {
      for (let b = 0; b < batches; b++) {
        const records = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `r${round}-b${b}-${i}` }));
        await log.appendAsLeader(await keyedBatch(records, { timestamp: BigInt(clock.now) }));
      }
    };
    await write(0, 30);
    await log.roll();
    clock.advance(2 * 3_600_000);
    await write(1, 40);
    const segments = log.segments;
    const active = segments[segments.length - 1]!;
    const young = segments.filter((s) => s !== active && s.baseOffset >= 600n);
    assert.ok(young.length > 2 && active.size > 0);
    const snapshot = async (s: (typeof segments)[number]) => readFile(join(log.dir, `${pad(s.baseOffset)}.log`));
    const youngBytes = await Promise.all(young.map(snapshot));
    const activeBytes = await snapshot(active);

    const info = await manager.cleaner.cleanableInfo(log);
    assert.equal(info.firstUncleanableOffset, young[0]!.baseOffset, 'the first segment inside the lag');
    const stats = await manager.cleaner.clean(log);
    assert.ok(stats);
    assert.equal(stats.endOffset, young[0]!.baseOffset);
    for (const [i, s] of young.entries()) {
      assert.ok(log.segments.includes(s), 'young segments are the same objects');
      assert.deepEqual(await snapshot(s), youngBytes[i], 'and the same bytes');
    }
    assert.deepEqual(await snapshot(active), activeBytes, 'the active segment is untouched');
    const { records } = await readLog(log);
    assert.ok(
      records.filter((r) => r.offset < young[0]!.baseOffset).length <= 20,
      'the old part holds one record per key',
    );

    clock.advance(2 * 3_600_000);
    const later = await manager.cleaner.clean(log);
    assert.ok(later);
    assert.equal(later.endOffset, active.baseOffset, 'everything but the active segment is cleanable now');
    assert.deepEqual(await snapshot(active), activeBytes, 'the active segment is still untouched');
    const after = await readLog(log);
    assert.deepEqual(duplicatesBelow(after.records, active.baseOffset), []);
    assert.equal(tableOf(after.records).get('k0'), 'r1-b39-0');
  });

  it('with compact,delete also applies retention.ms', async () => {
    const config = {
      ...COMPACTED,
      'cleanup.policy': 'compact,delete',
      'retention.ms': '3600000',
      // One batch per segment, so that no cleaned segment mixes old and new records.
      'segment.bytes': '600',
    };
    const manager = await openManager({ both: config });
    const log = await manager.getOrCreateLog('both', 0);
    const write = async (prefix: string, keys: number, batches: number) => {
      for (let b = 0; b < batches; b++) {
        const records = Array.from({ length: keys }, (_, i) => ({ key: `${prefix}${i}`, value: `${prefix}-${b}` }));
        await log.appendAsLeader(await keyedBatch(records, { timestamp: BigInt(clock.now) }));
      }
    };
    await write('old', 20, 30);
    await log.roll();
    clock.advance(2 * 3_600_000);
    await write('new', 20, 30);
    const stats = await manager.cleaner.clean(log);
    assert.ok(stats && stats.recordsRetained < stats.recordsRead, 'compacted');
    let table = tableOf((await readLog(log)).records);
    assert.equal(table.get('old0'), 'old-29');
    await manager.runRetention();
    assert.ok(log.logStartOffset >= 600n, `retention moved the log start to ${log.logStartOffset}`);
    table = tableOf((await readLog(log)).records);
    assert.equal(table.get('old0'), undefined, 'the old keys went with their segments');
    assert.equal(table.get('new0'), 'new-29');
  });

  it('never cleans a log without compact in cleanup.policy', async () => {
    const manager = await openManager({ plain: { 'segment.bytes': '4096', 'file.delete.delay.ms': '0' } });
    const log = await manager.getOrCreateLog('plain', 0);
    for (let b = 0; b < 20; b++) await log.appendAsLeader(await keyedBatch([{ key: 'k', value: `v${b}` }]));
    await log.roll();
    assert.equal(await manager.cleaner.runOnce(), null);
    assert.equal(await manager.cleaner.clean(log), null);
  });
});

describe('choosing what to clean', () => {
  async function fill(log: Log, keys: number, batches: number, tag: string): Promise<void> {
    for (let b = 0; b < batches; b++) {
      const records = Array.from({ length: keys }, (_, i) => ({ key: `k${i}`, value: `${tag}-${b}` }));
      await log.appendAsLeader(await keyedBatch(records, { timestamp: BigInt(clock.now) }));
    }
    await log.roll();
  }

  it('picks the dirtiest log first and skips logs under min.cleanable.dirty.ratio', async () => {
    const config = { ...COMPACTED, 'segment.bytes': '4096' };
    const manager = await openManager({ a: config, b: config });
    const a = await manager.getOrCreateLog('a', 0);
    const b = await manager.getOrCreateLog('b', 0);
    await fill(a, 50, 40, 'a1');
    await fill(b, 50, 40, 'b1');
    await manager.cleaner.clean(a);
    await manager.cleaner.clean(b);
    // a: a little new data (ratio below 0.5); b: a lot (ratio above).
    await fill(a, 50, 1, 'a2');
    await fill(b, 50, 30, 'b2');
    const infoA = await manager.cleaner.cleanableInfo(a);
    const infoB = await manager.cleaner.cleanableInfo(b);
    assert.ok(
      infoA.cleanableRatio < 0.5 && infoB.cleanableRatio > 0.5,
      `${infoA.cleanableRatio} ${infoB.cleanableRatio}`,
    );
    const first = await manager.cleaner.runOnce();
    assert.equal(first?.topic, 'b');
    assert.equal(await manager.cleaner.runOnce(), null, 'a stays below its ratio');
    manager.setTopicConfig('a', { ...config, 'min.cleanable.dirty.ratio': '0.01' });
    assert.equal((await manager.cleaner.runOnce())?.topic, 'a');
  });

  it('max.compaction.lag.ms forces a clean whatever the ratio, and rolls the active segment', async () => {
    const config = { ...COMPACTED, 'segment.bytes': '4096', 'max.compaction.lag.ms': '60000' };
    const manager = await openManager({ lagged: config });
    const log = await manager.getOrCreateLog('lagged', 0);
    await fill(log, 50, 40, 'x');
    await manager.cleaner.clean(log);
    await fill(log, 50, 1, 'y');
    assert.ok((await manager.cleaner.cleanableInfo(log)).cleanableRatio < 0.5);
    assert.equal(await manager.cleaner.runOnce(), null, 'not due yet');
    clock.advance(60_001);
    const info = await manager.cleaner.cleanableInfo(log);
    assert.equal(info.needCompactionNow, true);
    const stats = await manager.cleaner.runOnce();
    assert.equal(stats?.topic, 'lagged');
    assert.equal(tableOf((await readLog(log)).records).get('k0'), 'y-0');

    // A record in the active segment older than the lag makes the next append roll.
    await log.appendAsLeader(await keyedBatch([{ key: 'k0', value: 'z' }], { timestamp: BigInt(clock.now) }));
    const segments = log.numberOfSegments;
    clock.advance(60_001);
    await log.appendAsLeader(await keyedBatch([{ key: 'k0', value: 'w' }], { timestamp: BigInt(clock.now) }));
    assert.equal(log.numberOfSegments, segments + 1);
  });

  it('cleans in several rounds when the offset map fills, up to where each got', async () => {
    const manager = await openManager(
      { big: { ...COMPACTED, 'segment.bytes': '8192' } },
      { cleaner: { dedupeEntries: 600 } },
    );
    const log = await manager.getOrCreateLog('big', 0);
    const workload = await writeWorkload(log, {
      updates: 4000,
      keys: 1000,
      batchSize: 50,
      codecs: [CompressionCodec.None, CompressionCodec.Lz4],
      timestamp: clock.read,
    });
    await log.roll();
    const ends: bigint[] = [];
    for (let round = 0; round < 40; round++) {
      // Forced: once the clean part outweighs what is left, the dirty ratio drops under 0.5.
      const stats = await manager.cleaner.clean(log);
      if (stats === null) break;
      assert.ok(stats.mappedKeys <= 600);
      ends.push(stats.endOffset);
      assert.equal(manager.cleaner.cleanedOffset(log), stats.endOffset);
      assertSameTable(tableOf((await readLog(log)).records), workload.table, `table after round ${round}`);
      if (!stats.mapFull) break;
    }
    assert.ok(ends.length > 3, `${ends.length} rounds`);
    assert.deepEqual(
      ends,
      [...ends].sort((x, y) => (x < y ? -1 : 1)),
      'each round goes further',
    );
    assert.equal(ends.at(-1), 4000n);
    // Each round removed the older records of the keys it mapped, across the whole log.
    const { records } = await readLog(log);
    assert.equal(records.length, 1000, 'one record per key');
  });
});

describe('producers, transactions and keyless records', () => {
  it('keeps control batches byte for byte, keyless records, and an empty batch only for a producer’s last one', async () => {
    const manager = await openManager({ txn: COMPACTED });
    const log = await manager.getOrCreateLog('txn', 0);
    const ts = BigInt(clock.now);
    const append = (b: Buffer) => log.appendAsLeader(b);
    // Idempotent producer 7: two batches whose records are all superseded later.
    const p7a = await append(
      await keyedBatch([{ key: 'a', value: 'p7-1' }], {
        producerId: 7n,
        producerEpoch: 0,
        baseSequence: 0,
        timestamp: ts,
      }),
    );
    const p7b = await append(
      await keyedBatch(
        [
          { key: 'b', value: 'p7-2' },
          { key: 'c', value: 'p7-3' },
        ],
        { producerId: 7n, producerEpoch: 0, baseSequence: 1, timestamp: ts, compression: CompressionCodec.Gzip },
      ),
    );
    // A transaction of producer 9, its COMMIT marker, and one of producer 11 with a tombstone.
    await append(
      await keyedBatch([{ key: 'd', value: 'txn-1' }], {
        producerId: 9n,
        producerEpoch: 0,
        baseSequence: 0,
        isTransactional: true,
        timestamp: ts,
      }),
    );
    await append(
      await keyedBatch([{ key: 'd', value: 'txn-2' }], {
        producerId: 9n,
        producerEpoch: 0,
        baseSequence: 1,
        isTransactional: true,
        timestamp: ts,
      }),
    );
    const marker = await encodeRecordBatch(
      createControlBatch({
        type: ControlRecordType.COMMIT,
        coordinatorEpoch: 3,
        producerId: 9n,
        producerEpoch: 0,
        timestamp: ts,
      }),
    );
    const markerInfo = await append(Buffer.from(marker));
    await append(await keyedBatch([{ key: 'e', value: 'plain' }], { timestamp: ts }));
    await append(
      await keyedBatch([{ key: 'e', value: null }], {
        producerId: 11n,
        producerEpoch: 0,
        baseSequence: 0,
        isTransactional: true,
        timestamp: ts,
      }),
    );
    // Keyless records, then the updates that supersede producer 7's records.
    await append(
      await keyedBatch(
        [
          { key: null, value: 'no-key-1' },
          { key: null, value: 'no-key-2' },
        ],
        { timestamp: ts },
      ),
    );
    await append(
      await keyedBatch(
        [
          { key: 'a', value: 'new-a' },
          { key: 'b', value: 'new-b' },
          { key: 'c', value: 'new-c' },
        ],
        { timestamp: ts },
      ),
    );
    await log.roll();

    const clean = async () => {
      await manager.cleaner.clean(log);
      return readLog(log);
    };
    let { batches, records } = await clean();
    const values = records.map((r) => r.value);
    assert.ok(values.includes('no-key-1') && values.includes('no-key-2'), 'keyless records stay');
    assert.ok(
      values.includes('txn-1') && values.includes('txn-2'),
      'transactional records are not compacted among themselves',
    );
    assert.ok(values.includes('plain'), 'a transactional tombstone does not supersede anything yet');
    assert.ok(!values.includes('p7-1') && !values.includes('p7-2'));
    assert.equal(
      batches.find((b) => b.baseOffset === p7a.baseOffset),
      undefined,
      'producer 7’s first batch is gone',
    );
    const empty = batches.find((b) => b.baseOffset === p7b.baseOffset);
    assert.ok(empty, 'producer 7’s last batch stays, empty');
    assert.equal(empty.records.length, 0);
    assert.equal(empty.lastOffsetDelta, 1);
    assert.equal(empty.producerId, 7n);
    assert.equal(empty.baseSequence, 1);
    assert.equal(empty.attributes & 0x07, 0, 'an empty batch has no codec');
    const fetched = (await log.read(markerInfo.baseOffset, { maxBytes: marker.length })).records;
    assert.deepEqual(
      fetched.subarray(16),
      marker.subarray(16),
      'the marker is stored as it was (bar offset and epoch)',
    );

    // Long after the delete horizon: the transactional tombstone and the marker still stay.
    clock.advance(10 * 60_000);
    ({ batches, records } = await clean());
    assert.ok(records.some((r) => r.key === 'e' && r.value === null));
    assert.ok(records.some((r) => r.value === 'plain'));
    assert.ok(
      batches.some((b) => (b.attributes & 0x20) !== 0),
      'the control batch is still there',
    );

    // A later non-transactional value supersedes the transactional ones; producer 9's last batch stays empty.
    await append(await keyedBatch([{ key: 'd', value: 'plain-d' }], { timestamp: BigInt(clock.now) }));
    await log.roll();
    ({ batches, records } = await clean());
    assert.ok(!records.some((r) => r.value === 'txn-1' || r.value === 'txn-2'));
    assert.equal(batches.filter((b) => b.producerId === 9n && (b.attributes & 0x20) === 0).length, 1);
    assert.equal(tableOf(records).get('d'), 'plain-d');
  });
});

describe('checkpoint and background cleaning', () => {
  it('persists cleaned-up-to offsets in Kafka’s format, forgets deleted logs and lowers on truncation', async () => {
    const manager = await openManager({ cp: COMPACTED });
    const logs = [await manager.getOrCreateLog('cp', 0), await manager.getOrCreateLog('cp', 1)];
    for (const log of logs) {
      for (let b = 0; b < 30; b++) {
        await log.appendAsLeader(await keyedBatch([{ key: `k${b % 5}`, value: 'x'.repeat(2000) }]));
      }
      await log.roll();
      await manager.cleaner.clean(log);
    }
    const read = async () => parseCheckpoint((await readFile(join(dataDir, 'cleaner-offset-checkpoint')))!);
    const text = (await readFile(join(dataDir, 'cleaner-offset-checkpoint'), 'utf8')).split('\n');
    assert.deepEqual(text.slice(0, 2), ['0', '2']);
    assert.deepEqual((await read())?.map((e) => `${e.topic} ${e.partition} ${e.offset}`).sort(), [
      'cp 0 30',
      'cp 1 30',
    ]);
    await logs[1]!.truncateTo(12n);
    assert.equal(manager.cleaner.cleanedOffset(logs[1]!), 12n);
    await manager.deleteLog('cp', 0);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      (await read())?.map((e) => `${e.topic} ${e.partition} ${e.offset}`),
      ['cp 1 12'],
    );
  });

  it('compacts __consumer_offsets and __transaction_state in the background, and stops with the manager', async () => {
    const internal = { ...COMPACTED, 'segment.bytes': '4096' };
    const events: string[] = [];
    const manager = await openManager(
      { __consumer_offsets: internal, __transaction_state: internal },
      {
        clock: Date.now,
        cleaner: { enabled: true, backoffMs: 10, onEvent: (e) => e.kind === 'done' && events.push(e.label) },
      },
    );
    const logs = [
      await manager.getOrCreateLog('__consumer_offsets', 3),
      await manager.getOrCreateLog('__transaction_state', 0),
    ];
    for (const log of logs) {
      for (let b = 0; b < 60; b++) {
        const records = Array.from({ length: 10 }, (_, i) => ({ key: `group-${i}`, value: `offset-${b}` }));
        await log.appendAsLeader(await keyedBatch(records));
      }
    }
    const deadline = Date.now() + 10_000;
    for (const log of logs) {
      for (;;) {
        const { records } = await readLog(log);
        assert.equal(tableOf(records).get('group-0'), 'offset-59');
        if (records.length < 200 && events.includes(log.label)) break;
        assert.ok(Date.now() < deadline, `${log.label}: ${records.length} records left of 600`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await closeManager(manager);
  });
});

function pad(offset: bigint): string {
  return offset.toString().padStart(20, '0');
}
