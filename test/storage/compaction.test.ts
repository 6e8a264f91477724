import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DecodeError } from '../../src/protocol/errors.ts';
import { CompressionCodec } from '../../src/protocol/records/batch-header.ts';
import { ControlRecordType, createControlBatch } from '../../src/protocol/records/control-record.ts';
import { decodeRecordBatches, encodeRecordBatch } from '../../src/protocol/records/record-batch.ts';
import { filterBatch } from '../../src/storage/cleaner/batch-filter.ts';
import { parseCheckpoint } from '../../src/storage/cleaner/checkpoint.ts';
import { OffsetMap } from '../../src/storage/cleaner/offset-map.ts';
import { TransactionTracker } from '../../src/storage/cleaner/transactions.ts';
import type { Log } from '../../src/storage/log.ts';
import { LogManager, type LogManagerOptions } from '../../src/storage/log-manager.ts';
import {
  ALL_CODECS,
  assertSameTable,
  type KeyedRecord,
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

describe('transactions, idempotent producers and keyless records', () => {
  it('removes aborted records, compacts committed ones, keeps producers’ last batches, and markers until their transaction is gone', async () => {
    const manager = await openManager({ txn: COMPACTED });
    const log = await manager.getOrCreateLog('txn', 0);
    const data = async (records: KeyedRecord[], producer?: { id: bigint; seq: number; txn?: boolean }) => {
      const batch = await keyedBatch(records, {
        timestamp: BigInt(clock.now),
        ...(producer && {
          producerId: producer.id,
          producerEpoch: 0,
          baseSequence: producer.seq,
          isTransactional: producer.txn ?? false,
        }),
      });
      return log.appendAsLeader(batch);
    };
    const markers = new Map<bigint, Buffer>();
    const marker = async (
      producerId: bigint,
      type: typeof ControlRecordType.ABORT | typeof ControlRecordType.COMMIT,
    ) => {
      const bytes = await encodeRecordBatch(
        createControlBatch({ type, coordinatorEpoch: 3, producerId, producerEpoch: 0, timestamp: BigInt(clock.now) }),
      );
      const info = await log.appendAsLeader(Buffer.from(bytes), { origin: 'coordinator' });
      markers.set(info.baseOffset, bytes);
      return info.baseOffset;
    };
    await data([{ key: 'e', value: 'plain-e' }]); // 0
    await data([{ key: 'd', value: 'txn-1' }], { id: 9n, seq: 0, txn: true }); // 1
    await data([{ key: 'd', value: 'txn-2' }], { id: 9n, seq: 1, txn: true }); // 2
    const commit9 = await marker(9n, ControlRecordType.COMMIT); // 3
    await data([{ key: 'e', value: 'aborted-e' }], { id: 11n, seq: 0, txn: true }); // 4
    await data([{ key: 'f', value: 'aborted-f' }], { id: 11n, seq: 1, txn: true }); // 5
    const abort11 = await marker(11n, ControlRecordType.ABORT); // 6
    await data([{ key: 'a', value: 'p7-1' }], { id: 7n, seq: 0 }); // 7
    const p7Last = await data(
      [
        { key: 'b', value: 'p7-2' },
        { key: 'c', value: 'p7-3' },
      ],
      { id: 7n, seq: 1 },
    ); // 8-9
    await data([
      { key: null, value: 'no-key-1' },
      { key: null, value: 'no-key-2' },
    ]); // 10-11
    await data([
      { key: 'a', value: 'new-a' },
      { key: 'b', value: 'new-b' },
      { key: 'c', value: 'new-c' },
    ]); // 12-14
    await log.roll();
    assert.equal(log.abortedTransactions(0n, log.logEndOffset)[0]?.producerId, 11n, 'the abort is in the txn index');

    const clean = async () => {
      await manager.cleaner.clean(log);
      const contents = await readLog(log);
      const values = contents.records.map((r) => r.value);
      assert.ok(values.includes('no-key-1') && values.includes('no-key-2'), 'keyless records stay');
      assert.ok(!values.includes('aborted-e') && !values.includes('aborted-f'), 'aborted records are gone');
      assert.equal(tableOf(contents.records).get('e'), 'plain-e', 'an aborted value never superseded anything');
      const control = contents.batches.filter((b) => (b.attributes & 0x20) !== 0);
      for (const b of control) {
        assert.equal(b.records.length, 1);
        const original = (await decodeRecordBatches(markers.get(b.baseOffset)!))[0]!;
        assert.equal(b.producerId, original.producerId);
        assert.equal(b.producerEpoch, original.producerEpoch);
        assert.deepEqual(b.records[0]!.key, original.records[0]!.key, 'the control record is intact');
        assert.deepEqual(b.records[0]!.value, original.records[0]!.value);
        assert.equal(b.baseTimestamp + b.records[0]!.timestampDelta, original.baseTimestamp, 'and its timestamp');
      }
      return { ...contents, control: control.map((b) => b.baseOffset) };
    };

    // Round 1: producer 7's first batch goes, its last stays empty; the committed txn-1 is
    // superseded by txn-2; producer 11's aborted batches go, its last stays empty; both
    // markers stay (batches of their transactions were still there).
    let { batches, records, control } = await clean();
    assert.ok(!records.some((r) => r.value === 'txn-1' || r.value === 'p7-1' || r.value === 'p7-2'));
    assert.equal(tableOf(records).get('d'), 'txn-2');
    const empty = (offset: bigint) => batches.find((b) => b.baseOffset === offset);
    assert.equal(empty(7n), undefined, 'producer 7’s first batch is gone');
    assert.equal(empty(p7Last.baseOffset)?.records.length, 0, 'producer 7’s last batch stays, empty');
    assert.equal(empty(p7Last.baseOffset)?.lastOffsetDelta, 1);
    assert.equal(empty(p7Last.baseOffset)?.baseSequence, 1);
    assert.equal(empty(p7Last.baseOffset)!.attributes & 0x07, 0, 'an empty batch has no codec');
    assert.equal(empty(4n), undefined);
    assert.equal(empty(5n)?.records.length, 0, 'producer 11’s last (aborted) batch stays, empty');
    assert.deepEqual(control, [commit9, abort11]);
    const raw = (await log.read(commit9, { maxBytes: 1 })).records;
    assert.deepEqual(raw.subarray(16), markers.get(commit9)!.subarray(16), 'a marker is stored as it was');

    // Both producers write again, and d gets a plain value.
    await data([{ key: 'g', value: 'committed-g' }], { id: 11n, seq: 2, txn: true }); // 15
    await marker(11n, ControlRecordType.COMMIT); // 16
    await data([{ key: 'd', value: 'plain-d' }]); // 17
    await data([{ key: 'h', value: 'p9-h' }], { id: 9n, seq: 2, txn: true }); // 18
    await marker(9n, ControlRecordType.COMMIT); // 19
    await log.roll();
    // Round 2 removes the last batches of the two old transactions; round 3 finds the
    // markers without any, and gives them a delete horizon.
    ({ batches, control } = await clean());
    assert.ok(!batches.some((b) => b.baseOffset === 2n || b.baseOffset === 5n));
    ({ batches, control } = await clean());
    const horizonOf = (offset: bigint) => batches.find((b) => b.baseOffset === offset)!;
    assert.ok((horizonOf(commit9).attributes & 0x40) !== 0 && (horizonOf(abort11).attributes & 0x40) !== 0);
    assert.equal(control.length, 4);

    // After delete.retention.ms they go; the markers of the later transactions stay.
    clock.advance(60_001);
    const stats = await manager.cleaner.runOnce();
    assert.equal(stats?.markersRemoved, 2, 'the passed horizon makes the log due');
    ({ control, records } = await clean());
    assert.deepEqual(control, [16n, 19n]);
    assert.deepEqual(log.abortedTransactions(0n, log.logEndOffset), [], 'the abort left the txn index with its marker');
    const expected = new Map(Object.entries({ e: 'plain-e', a: 'new-a', b: 'new-b', c: 'new-c' }));
    for (const [k, v] of Object.entries({ d: 'plain-d', g: 'committed-g', h: 'p9-h' })) expected.set(k, v);
    assertSameTable(tableOf(records), expected, 'table');

    // Producer state rebuilt from the cleaned log alone (no snapshot) is still right.
    await closeManager(manager);
    const dir = join(dataDir, 'txn-0');
    for (const f of await readdir(dir)) if (f.endsWith('.snapshot')) await rm(join(dir, f));
    const reopened = await openManager({ txn: COMPACTED });
    const again = reopened.getLog('txn', 0)!;
    assert.equal(again.lastStableOffset, again.highWatermark, 'no transaction left open');
    assert.equal(again.producerState.entry(7n)?.batches.at(-1)?.lastSeq, 2);
    assert.equal(again.producerState.entry(9n)?.batches.at(-1)?.lastSeq, 2);
    assert.equal(again.producerState.entry(11n)?.batches.at(-1)?.lastSeq, 2);
    assertSameTable(tableOf((await readLog(again)).records), expected, 'table after a restart');
  });

  it('never cleans past the last stable offset: an open transaction holds the cleaner back', async () => {
    const manager = await openManager({ open: { ...COMPACTED, 'segment.bytes': '4096' } });
    const log = await manager.getOrCreateLog('open', 0);
    for (let b = 0; b < 10; b++) await log.appendAsLeader(await keyedBatch([{ key: 'k', value: `v${b}` }]));
    await log.roll();
    const txnStart = log.logEndOffset;
    await log.appendAsLeader(
      await keyedBatch([{ key: 'k', value: 'in-txn' }], {
        producerId: 5n,
        producerEpoch: 0,
        baseSequence: 0,
        isTransactional: true,
      }),
    );
    await log.roll();
    for (let b = 0; b < 10; b++) await log.appendAsLeader(await keyedBatch([{ key: 'k', value: `w${b}` }]));
    await log.roll();
    assert.equal(log.lastStableOffset, txnStart);
    const info = await manager.cleaner.cleanableInfo(log);
    assert.equal(info.firstUncleanableOffset, txnStart);
    await manager.cleaner.clean(log);
    const { records } = await readLog(log);
    assert.deepEqual(
      records.map((r) => r.value),
      ['v9', 'in-txn', ...Array.from({ length: 10 }, (_, i) => `w${i}`)],
    );
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

describe('the batch filter', () => {
  it('checks the CRC of an empty batch it keeps, as of every batch it writes: reads trust cleaned segments', async () => {
    const empty = await encodeRecordBatch({
      baseOffset: 40n,
      partitionLeaderEpoch: 0,
      attributes: 0,
      lastOffsetDelta: 2,
      baseTimestamp: 1_700_000_000_000n,
      maxTimestamp: 1_700_000_000_000n,
      producerId: 7n,
      producerEpoch: 0,
      baseSequence: 5,
      records: [],
    });
    const ctx = {
      map: new OffsetMap(16),
      nowMs: 1_700_000_000_000,
      deleteRetentionMs: 0,
      transactions: new TransactionTracker([]),
      keepEmpty: () => true,
    };
    assert.equal((await filterBatch(empty, ctx)).bytes, empty, 'a sound empty batch is kept as it is');
    const flipped = Buffer.from(empty);
    flipped.writeInt16BE(flipped.readInt16BE(57) ^ 1, 57);
    await assert.rejects(filterBatch(flipped, ctx), DecodeError);
  });
});
