import assert from 'node:assert/strict';
import { readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseLogConfig } from '../../src/storage/config.ts';
import {
  CorruptRecordError,
  OffsetOutOfRangeError,
  RecordBatchTooLargeError,
  UnexpectedAppendOffsetError,
} from '../../src/storage/errors.ts';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, Log, type LogOptions, MAX_TIMESTAMP } from '../../src/storage/log.ts';
import { buildBatch, decodeBatches, ManualClock, tempDir, valuesBatch } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
const open: Log[] = [];

beforeEach(async () => {
  ({ path: dir, cleanup } = await tempDir());
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((log) => log.close().catch(() => {})));
  await cleanup();
});

async function openLog(overrides: Record<string, string> = {}, extra: Partial<LogOptions> = {}): Promise<Log> {
  const log = await Log.open({
    dir: join(dir, 'orders-0'),
    topic: 'orders',
    partition: 0,
    config: parseLogConfig(overrides),
    ...extra,
  });
  open.push(log);
  return log;
}

async function reopen(log: Log, overrides: Record<string, string> = {}, extra: Partial<LogOptions> = {}) {
  await log.close();
  return openLog(overrides, { hadCleanShutdown: true, ...extra });
}

/** Reads everything from `from` to the high watermark and returns every record value. */
async function readAllValues(log: Log, from = log.logStartOffset): Promise<string[]> {
  const values: string[] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, { maxBytes: 4096 });
    const batches = decodeBatches(records);
    assert.ok(batches.length > 0, `read at ${offset} returned nothing`);
    for (const b of batches) {
      for (let i = 0; i < b.values.length; i++) if (b.baseOffset + BigInt(i) >= offset) values.push(b.values[i]!);
      offset = b.lastOffset + 1n;
    }
  }
  return values;
}

describe('Log append and read', () => {
  it('assigns consecutive offsets and reads back the same batches', async () => {
    const log = await openLog();
    const a = await log.appendAsLeader(valuesBatch('a', 3), { leaderEpoch: 7 });
    const b = await log.appendAsLeader(valuesBatch('b', 2), { leaderEpoch: 7 });
    assert.deepEqual([a.baseOffset, a.lastOffset, b.baseOffset, b.lastOffset], [0n, 2n, 3n, 4n]);
    assert.equal(a.logAppendTime, -1n);
    assert.equal(log.logEndOffset, 5n);
    assert.equal(log.highWatermark, 5n);

    const { records, highWatermark, logStartOffset } = await log.read(0n);
    const batches = decodeBatches(records);
    assert.deepEqual(
      batches.map((x) => [x.baseOffset, x.partitionLeaderEpoch, x.crcValid]),
      [
        [0n, 7, true],
        [3n, 7, true],
      ],
    );
    assert.deepEqual(
      batches.flatMap((x) => x.values),
      ['a-0', 'a-1', 'a-2', 'b-0', 'b-1'],
    );
    assert.equal(highWatermark, 5n);
    assert.equal(logStartOffset, 0n);
  });

  it('returns the whole batch that contains the requested offset', async () => {
    const log = await openLog();
    await log.appendAsLeader(valuesBatch('a', 5));
    await log.appendAsLeader(valuesBatch('b', 5));
    const { records } = await log.read(7n);
    const batches = decodeBatches(records);
    assert.equal(batches[0]!.baseOffset, 5n, 'starts at the batch holding offset 7, not at 7');
    assert.equal(batches.length, 1);
  });

  it('returns at least one whole batch even when it exceeds maxBytes, and stops at maxBytes otherwise', async () => {
    const log = await openLog();
    const big = valuesBatch('big', 50);
    await log.appendAsLeader(big);
    await log.appendAsLeader(valuesBatch('next', 1));
    const first = await log.read(0n, { maxBytes: 10 });
    assert.equal(first.records.length, big.length);
    assert.equal(decodeBatches(first.records).length, 1);
    const strict = await log.read(0n, { maxBytes: 10, minOneBatch: false });
    assert.equal(strict.records.length, 0);
    const both = await log.read(0n, { maxBytes: big.length + 1000 });
    assert.equal(decodeBatches(both.records).length, 2);
  });

  it('answers at the log end with no records and beyond it with OffsetOutOfRangeError', async () => {
    const log = await openLog();
    await log.appendAsLeader(valuesBatch('a', 2));
    assert.equal((await log.read(2n)).records.length, 0);
    await assert.rejects(log.read(3n), (err: unknown) => {
      assert.ok(err instanceof OffsetOutOfRangeError);
      assert.equal(err.offset, 3n);
      assert.equal(err.logStartOffset, 0n);
      assert.equal(err.logEndOffset, 2n);
      return true;
    });
  });

  it('rolls segments by segment.bytes and reads across them', async () => {
    const log = await openLog({ 'segment.bytes': '1000' });
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      await log.appendAsLeader(valuesBatch(`m${i}`, 3));
      expected.push(`m${i}-0`, `m${i}-1`, `m${i}-2`);
    }
    assert.ok(log.numberOfSegments >= 4, `expected several segments, got ${log.numberOfSegments}`);
    for (const s of log.segments.slice(0, -1)) assert.ok(s.size <= 1000);
    assert.deepEqual(await readAllValues(log), expected);
    // Every segment file is named by the base offset of its first batch.
    const names = (await readdir(join(dir, 'orders-0'))).filter((n) => n.endsWith('.log'));
    assert.deepEqual(
      names.sort(),
      log.segmentBaseOffsets.map((b) => `${b.toString().padStart(20, '0')}.log`),
    );
    // A read from the middle of a later segment starts at the batch holding the offset.
    const { records } = await log.read(100n);
    const first = decodeBatches(records)[0]!;
    assert.ok(first.baseOffset <= 100n && first.lastOffset >= 100n);
  });

  it('rolls by segment.ms using the broker clock', async () => {
    const clock = new ManualClock();
    const log = await openLog({ 'segment.ms': '60000' }, { clock: clock.read });
    await log.appendAsLeader(valuesBatch('a', 1, clock.now));
    clock.advance(30_000);
    await log.appendAsLeader(valuesBatch('b', 1, clock.now));
    assert.equal(log.numberOfSegments, 1);
    clock.advance(31_000);
    await log.appendAsLeader(valuesBatch('c', 1, clock.now));
    assert.equal(log.numberOfSegments, 2);
    assert.deepEqual(log.segmentBaseOffsets, [0n, 2n]);
  });

  it('stamps LogAppendTime topics with the broker time and a valid CRC', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const log = await openLog({ 'message.timestamp.type': 'LogAppendTime' }, { clock: clock.read });
    const info = await log.appendAsLeader(valuesBatch('a', 2, 1_000));
    assert.equal(info.logAppendTime, 1_800_000_000_000n);
    const [batch] = decodeBatches((await log.read(0n)).records);
    assert.equal(batch!.maxTimestamp, 1_800_000_000_000n);
    assert.equal(batch!.attributes & 0x08, 0x08);
    assert.ok(batch!.crcValid);
  });

  it('rejects malformed and oversized batches before touching the log', async () => {
    const log = await openLog({ 'max.message.bytes': '200' });
    const good = valuesBatch('a', 1);
    await assert.rejects(log.appendAsLeader(good.subarray(0, good.length - 3)), CorruptRecordError);
    await assert.rejects(log.appendAsLeader(Buffer.alloc(0)), CorruptRecordError);
    const badMagic = Buffer.from(good);
    badMagic[16] = 1;
    await assert.rejects(log.appendAsLeader(badMagic), CorruptRecordError);
    await assert.rejects(log.appendAsLeader(valuesBatch('x', 30)), RecordBatchTooLargeError);
    assert.equal(log.logEndOffset, 0n);
    assert.equal((await log.appendAsLeader(good)).baseOffset, 0n);
  });

  it('stores several batches of one append and counts their offsets', async () => {
    const log = await openLog();
    const info = await log.appendAsLeader(Buffer.concat([valuesBatch('a', 2), valuesBatch('b', 3)]));
    assert.deepEqual([info.baseOffset, info.lastOffset, info.batchCount], [0n, 4n, 2]);
    const batches = decodeBatches((await log.read(0n)).records);
    assert.deepEqual(
      batches.map((b) => b.baseOffset),
      [0n, 2n],
    );
  });

  it('appends replica batches with their own offsets and refuses ones below the log end', async () => {
    const log = await openLog();
    await log.appendAsFollower(buildBatch([{ value: 'x' }, { value: 'y' }], { baseOffset: 0n }));
    await log.appendAsFollower(buildBatch([{ value: 'z' }], { baseOffset: 10n }));
    assert.equal(log.logEndOffset, 11n);
    await assert.rejects(
      log.appendAsFollower(buildBatch([{ value: 'old' }], { baseOffset: 5n })),
      UnexpectedAppendOffsetError,
    );
    assert.deepEqual(await readAllValues(log), ['x', 'y', 'z']);
  });

  it('refuses a replica batch whose CRC does not match: reads trust what was appended', async () => {
    const log = await openLog();
    const bad = buildBatch([{ value: 'x' }, { value: 'y' }], { baseOffset: 0n });
    bad[bad.length - 2]! ^= 0xff;
    await assert.rejects(log.appendAsFollower(bad), CorruptRecordError);
    assert.equal(log.logEndOffset, 0n);
    await log.appendAsFollower(buildBatch([{ value: 'z' }], { baseOffset: 0n }));
    assert.deepEqual(await readAllValues(log), ['z']);
  });
});

describe('Log reopen and recovery', () => {
  it('finds offsets through the indexes after a clean reopen, with appends continuing at the end', async () => {
    let log = await openLog({ 'segment.bytes': '4000', 'index.interval.bytes': '100' });
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) {
      await log.appendAsLeader(valuesBatch(`v${i}`, 2));
      expected.push(`v${i}-0`, `v${i}-1`);
    }
    const bases = log.segmentBaseOffsets;
    log = await reopen(log, { 'segment.bytes': '4000', 'index.interval.bytes': '100' });
    assert.deepEqual(log.segmentBaseOffsets, bases);
    assert.equal(log.logEndOffset, 120n);
    assert.equal(log.recoveredTruncatedBytes, 0);
    for (const offset of [0n, 1n, 37n, 64n, 99n, 119n]) {
      const [batch] = decodeBatches((await log.read(offset, { maxBytes: 1 })).records);
      assert.ok(batch!.baseOffset <= offset && batch!.lastOffset >= offset, `batch for ${offset}`);
      assert.equal(batch!.values[Number(offset - batch!.baseOffset)], expected[Number(offset)]);
    }
    // Indexes were trusted, not rebuilt.
    assert.deepEqual(
      log.segments.map((s) => s.indexRebuilds),
      log.segments.map(() => 0),
    );
    assert.equal((await log.appendAsLeader(valuesBatch('after', 1))).baseOffset, 120n);
  });

  it('cuts a torn tail (half a batch) on reopen after a crash and continues at the right offset', async () => {
    let log = await openLog();
    for (let i = 0; i < 5; i++) await log.appendAsLeader(valuesBatch(`ok${i}`, 2));
    const segmentPath = join(dir, 'orders-0', '00000000000000000000.log');
    const goodSize = (await stat(segmentPath)).size;
    await log.close();
    open.length = 0;
    // Half of another batch, as if the process died in the middle of a write.
    const torn = valuesBatch('torn', 4);
    torn.writeBigInt64BE(10n, 0);
    await writeFile(segmentPath, torn.subarray(0, 40), { flag: 'a' });
    log = await openLog({}, { hadCleanShutdown: false });
    assert.equal(log.recoveredTruncatedBytes, 40);
    assert.equal((await stat(segmentPath)).size, goodSize);
    assert.equal(log.logEndOffset, 10n);
    assert.equal((await log.appendAsLeader(valuesBatch('next', 1))).baseOffset, 10n);
    assert.deepEqual((await readAllValues(log)).slice(-3), ['ok4-0', 'ok4-1', 'next-0']);
  });

  it('cuts a tail of garbage and a batch whose CRC does not match', async () => {
    let log = await openLog();
    for (let i = 0; i < 3; i++) await log.appendAsLeader(valuesBatch(`ok${i}`, 1));
    await log.close();
    open.length = 0;
    const segmentPath = join(dir, 'orders-0', '00000000000000000000.log');
    const goodSize = (await stat(segmentPath)).size;
    const flipped = valuesBatch('flip', 2);
    flipped.writeBigInt64BE(3n, 0);
    flipped[flipped.length - 2]! ^= 0xff;
    await writeFile(segmentPath, Buffer.concat([flipped, Buffer.from('garbage garbage garbage')]), { flag: 'a' });
    log = await openLog();
    assert.equal(log.logEndOffset, 3n);
    assert.equal((await stat(segmentPath)).size, goodSize);
    assert.deepEqual(await readAllValues(log), ['ok0-0', 'ok1-0', 'ok2-0']);
  });

  it('recovers after an unclean stop even with a clean-looking tail, rebuilding indexes', async () => {
    let log = await openLog({ 'index.interval.bytes': '50' });
    for (let i = 0; i < 20; i++) await log.appendAsLeader(valuesBatch(`x${i}`, 1));
    // Not closed: simulate a crash by dropping the object and opening again without the clean flag.
    open.length = 0;
    log = await openLog({ 'index.interval.bytes': '50' }, { hadCleanShutdown: false });
    assert.equal(log.logEndOffset, 20n);
    assert.equal(log.segments.at(-1)!.indexRebuilds, 1);
    assert.equal(decodeBatches((await log.read(13n)).records)[0]!.baseOffset, 13n);
  });

  it('rebuilds a deleted or corrupt index of a sealed segment on first use', async () => {
    const config = { 'segment.bytes': '2000', 'index.interval.bytes': '100' };
    let log = await openLog(config);
    for (let i = 0; i < 60; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    assert.ok(log.numberOfSegments >= 3);
    const [first, second] = log.segmentBaseOffsets;
    log = await reopen(log, config);
    const name = (b: bigint, ext: string) => join(dir, 'orders-0', `${b.toString().padStart(20, '0')}${ext}`);
    await log.close();
    open.length = 0;
    await unlink(name(first!, '.index'));
    // Entries pointing past the segment end: fails the sanity check.
    await writeFile(name(second!, '.index'), Buffer.from([0, 0, 0, 5, 0x7f, 0, 0, 0]));
    await truncate(name(second!, '.timeindex'), 5);
    log = await openLog(config, { hadCleanShutdown: true });
    const offsets = [1n, 20n, second! + 3n];
    for (const offset of offsets) {
      const [batch] = decodeBatches((await log.read(offset)).records);
      assert.ok(batch!.baseOffset <= offset && batch!.lastOffset >= offset);
    }
    assert.deepEqual(
      log.segments.slice(0, 2).map((s) => s.indexRebuilds),
      [1, 1],
    );
    assert.ok((await stat(name(first!, '.index'))).size > 0, 'the rebuilt index is written back');
    assert.equal((await stat(name(second!, '.timeindex'))).size % 12, 0);
  });

  it('removes leftovers of interrupted deletions and orphan index files on open', async () => {
    let log = await openLog();
    await log.appendAsLeader(valuesBatch('a', 1));
    await log.close();
    open.length = 0;
    const partDir = join(dir, 'orders-0');
    await writeFile(join(partDir, '00000000000000000500.log.deleted'), 'x');
    await writeFile(join(partDir, '00000000000000000900.index'), 'y');
    await writeFile(join(partDir, 'log-start-offset.tmp'), 'z');
    log = await openLog({}, { hadCleanShutdown: true });
    assert.deepEqual((await readdir(partDir)).sort(), [
      '00000000000000000000.index',
      '00000000000000000000.log',
      '00000000000000000000.timeindex',
      // The producer-state snapshot the close wrote at the log end offset.
      '00000000000000000001.snapshot',
    ]);
  });
});

describe('Log retention and DeleteRecords', () => {
  it('deletes whole segments older than retention.ms, rolling the active one when all expired', async () => {
    const clock = new ManualClock();
    const config = { 'segment.bytes': '600', 'retention.ms': '3600000' };
    const log = await openLog(config, { clock: clock.read });
    for (let i = 0; i < 6; i++) await log.appendAsLeader(valuesBatch(`old${i}`, 3, clock.now - 7_200_000));
    const oldSegments = log.numberOfSegments;
    for (let i = 0; i < 3; i++) await log.appendAsLeader(valuesBatch(`new${i}`, 3, clock.now));
    const deleted = await log.deleteOldSegments();
    assert.ok(deleted >= oldSegments - 1, `deleted ${deleted} of ${oldSegments} old segments`);
    for (const value of await readAllValues(log)) assert.ok(!value.startsWith('old') || value.startsWith('old5'));
    assert.equal(log.logStartOffset, log.segmentBaseOffsets[0]);
    const remaining = (await readdir(join(dir, 'orders-0'))).filter((n) => n.endsWith('.log'));
    assert.equal(remaining.length, log.numberOfSegments);

    // Everything expires: the active segment is rolled so it can be deleted too.
    clock.advance(10 * 3_600_000);
    await log.deleteOldSegments();
    assert.equal(log.numberOfSegments, 1);
    assert.equal(log.segments[0]!.size, 0);
    assert.equal(log.logStartOffset, log.logEndOffset);
    assert.equal((await log.appendAsLeader(valuesBatch('later', 1, clock.now))).baseOffset, 27n);
  });

  it('deletes the oldest segments beyond retention.bytes, never the active one', async () => {
    const log = await openLog({ 'segment.bytes': '500', 'retention.bytes': '1000' });
    for (let i = 0; i < 30; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    const before = log.size;
    await log.deleteOldSegments();
    assert.ok(log.size <= 1000 + 500, `size ${log.size} after retention (was ${before})`);
    assert.ok(log.size >= 1000 - 500);
    assert.ok(log.numberOfSegments >= 1);
    assert.equal(log.logStartOffset, log.segmentBaseOffsets[0]);
    await assert.rejects(log.read(0n), OffsetOutOfRangeError);
    const values = await readAllValues(log);
    assert.equal(values.at(-1), 'v29-1');
  });

  it('keeps everything with the default retention', async () => {
    const log = await openLog({ 'segment.bytes': '300' });
    for (let i = 0; i < 10; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 1));
    assert.equal(await log.deleteOldSegments(), 0);
  });

  it('deleteRecordsBefore raises logStartOffset, drops whole segments below it, and survives reopen', async () => {
    const config = { 'segment.bytes': '400' };
    let log = await openLog(config);
    for (let i = 0; i < 20; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    const segmentsBefore = log.numberOfSegments;
    const low = await log.deleteRecordsBefore(25n);
    assert.equal(low, 25n);
    assert.equal(log.logStartOffset, 25n);
    assert.ok(log.numberOfSegments < segmentsBefore);
    assert.ok(log.segmentBaseOffsets[0]! <= 25n);
    await assert.rejects(log.read(24n), OffsetOutOfRangeError);
    // Reading at 25 returns the batch holding it (starting at 24), as Kafka does.
    const [first] = decodeBatches((await log.read(25n)).records);
    assert.equal(first!.baseOffset, 24n);
    // Going backwards is a no-op; past the high watermark is out of range.
    assert.equal(await log.deleteRecordsBefore(10n), 25n);
    await assert.rejects(log.deleteRecordsBefore(41n), OffsetOutOfRangeError);

    log = await reopen(log, config);
    assert.equal(log.logStartOffset, 25n);
    assert.equal(await log.deleteRecordsBefore(-1n), 40n);
    assert.equal(log.logStartOffset, 40n);
    assert.equal((await log.read(40n)).records.length, 0);
  });
});

describe('Log offsets by timestamp', () => {
  it('finds the first batch at or after a timestamp through the time index, across segments', async () => {
    const t0 = 1_700_000_000_000;
    let log = await openLog({ 'segment.bytes': '800', 'index.interval.bytes': '150' });
    for (let i = 0; i < 30; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2, t0 + i * 1000));
    const check = async (l: Log) => {
      assert.deepEqual(await l.offsetForTimestamp(BigInt(t0)), {
        offset: 0n,
        timestamp: BigInt(t0 + 1),
        leaderEpoch: 0,
      });
      const mid = await l.offsetForTimestamp(BigInt(t0 + 12_500));
      assert.equal(mid!.offset, 26n, 'batch 13 is the first with a timestamp >= t0+12.5s');
      assert.equal(mid!.timestamp, BigInt(t0 + 13_001));
      assert.equal((await l.offsetForTimestamp(BigInt(t0 + 13_001)))!.offset, 26n);
      assert.equal((await l.offsetForTimestamp(BigInt(t0 + 13_002)))!.offset, 28n);
      assert.equal(await l.offsetForTimestamp(BigInt(t0 + 60_000)), null);
      assert.equal((await l.offsetForTimestamp(EARLIEST_TIMESTAMP))!.offset, 0n);
      assert.equal((await l.offsetForTimestamp(LATEST_TIMESTAMP))!.offset, 60n);
      assert.deepEqual(await l.offsetForTimestamp(MAX_TIMESTAMP), {
        offset: 58n,
        timestamp: BigInt(t0 + 29_001),
        leaderEpoch: 0,
      });
    };
    assert.ok(log.numberOfSegments > 2);
    await check(log);
    log = await reopen(log, { 'segment.bytes': '800', 'index.interval.bytes': '150' });
    await check(log);
  });

  it('handles timestamps that go backwards and respects logStartOffset', async () => {
    const log = await openLog({ 'index.interval.bytes': '0' });
    const stamps = [5000, 3000, 9000, 4000, 9500];
    for (const [i, ts] of stamps.entries()) await log.appendAsLeader(valuesBatch(`b${i}`, 1, ts));
    assert.equal((await log.offsetForTimestamp(3500n))!.offset, 0n);
    assert.equal((await log.offsetForTimestamp(6000n))!.offset, 2n);
    assert.equal((await log.offsetForTimestamp(9200n))!.offset, 4n);
    await log.deleteRecordsBefore(1n);
    assert.equal((await log.offsetForTimestamp(3500n))!.offset, 2n);
    assert.equal((await log.offsetForTimestamp(0n))!.offset, 1n);
  });
});

describe('Log truncation', () => {
  it('truncates to an offset across segments and appends continue there', async () => {
    const log = await openLog({ 'segment.bytes': '500' });
    for (let i = 0; i < 20; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    const segments = log.numberOfSegments;
    await log.truncateTo(13n);
    assert.equal(log.logEndOffset, 12n, 'the batch holding 13 (12–13) goes as a whole');
    assert.equal(log.highWatermark, 12n);
    assert.ok(log.numberOfSegments < segments);
    assert.equal((await log.appendAsLeader(valuesBatch('new', 1))).baseOffset, 12n);
    const values = await readAllValues(log);
    assert.deepEqual(values.slice(-3), ['v5-0', 'v5-1', 'new-0']);
    await log.truncateFullyAndStartAt(100n);
    assert.deepEqual([log.logStartOffset, log.logEndOffset, log.numberOfSegments], [100n, 100n, 1]);
    assert.equal((await log.appendAsLeader(valuesBatch('x', 1))).baseOffset, 100n);
  });
});

describe('Log read verification', () => {
  const crcChecks = (log: Log) => log.segments.reduce((n, s) => n + s.readCrcChecks, 0);
  const logFile = (base: bigint) => join(dir, 'orders-0', `${base.toString().padStart(20, '0')}.log`);

  /** Flips a bit near the end of batch `index` (counted from 0) of a closed segment file. */
  async function corruptBatch(path: string, index: number): Promise<void> {
    const bytes = await readFile(path);
    let pos = 0;
    for (let i = 0; i < index; i++) pos += bytes.readInt32BE(pos + 8) + 12;
    bytes[pos + bytes.readInt32BE(pos + 8) + 12 - 2]! ^= 0x10;
    await writeFile(path, bytes);
  }

  it('checks each CRC once: never for batches this process appended, once for those it found on disk', async () => {
    const config = { 'segment.bytes': '1000' };
    let log = await openLog(config);
    for (let i = 0; i < 40; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    assert.ok(log.numberOfSegments >= 3);
    const values = await readAllValues(log);
    assert.equal(values.length, 80);
    assert.equal(crcChecks(log), 0, 'appended batches were checked by the produce path');
    log = await reopen(log, config);
    assert.deepEqual(await readAllValues(log), values);
    assert.equal(crcChecks(log), 40, 'every batch found on disk, once');
    assert.deepEqual(await readAllValues(log), values);
    assert.equal(crcChecks(log), 40, 'and not again');
    await log.appendAsLeader(valuesBatch('new', 1));
    assert.deepEqual(await readAllValues(log, 80n), ['new-0']);
    assert.equal(crcChecks(log), 40);
  });

  it('readers spread over a segment found on disk check each batch once between them', async () => {
    let log = await openLog();
    for (let i = 0; i < 40; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    log = await reopen(log, {});
    assert.equal(log.numberOfSegments, 1);
    // Four consumers, each reading its quarter of the offsets, again and again.
    const quarter = async (q: number) => {
      let offset = BigInt(q * 20);
      while (offset < BigInt(q * 20 + 20)) {
        const batches = decodeBatches((await log.read(offset, { maxBytes: 300 })).records);
        offset = batches.at(-1)!.lastOffset + 1n;
      }
    };
    for (let round = 0; round < 3; round++) await Promise.all([0, 1, 2, 3].map(quarter));
    assert.equal(crcChecks(log), 40, 'each of the 40 batches once, not once per read');
  });

  it('catches a batch corrupted while the broker was down on first read and on every read after, in the active segment too', async () => {
    const config = { 'segment.bytes': '1000' };
    let log = await openLog(config);
    for (let i = 0; i < 40; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    const [first, , ...rest] = log.segmentBaseOffsets;
    const active = rest.at(-1)!;
    await log.close();
    open.length = 0;
    // A clean shutdown: the active segment's tail is trusted on open, its CRCs are not checked there.
    await corruptBatch(logFile(first!), 1);
    await corruptBatch(logFile(active), 1);
    log = await openLog(config, { hadCleanShutdown: true });
    for (const base of [first!, active]) {
      const before = decodeBatches((await log.read(base)).records);
      assert.deepEqual(
        before.map((b) => b.baseOffset),
        [base],
        'the batch before the corrupt one is served alone',
      );
      for (let i = 0; i < 3; i++) await assert.rejects(log.read(base + 2n), CorruptRecordError);
    }
  });

  it('a truncation pulls the unchecked range back to the cut: checked below it, trusted after it', async () => {
    let log = await openLog();
    for (let i = 0; i < 10; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 1));
    await log.close();
    open.length = 0;
    await corruptBatch(logFile(0n), 4);
    log = await openLog({}, { hadCleanShutdown: true });
    await log.truncateTo(7n);
    assert.equal(log.logEndOffset, 7n);
    for (let i = 0; i < 3; i++) await log.appendAsLeader(valuesBatch(`w${i}`, 1));
    // Below the cut nothing changed: the corrupt batch is still caught.
    await assert.rejects(log.read(4n), CorruptRecordError);
    const checks = crcChecks(log);
    // After it, every byte was appended by this process (over bytes that were unchecked before).
    const after = decodeBatches((await log.read(7n)).records);
    assert.deepEqual(
      after.flatMap((b) => b.values),
      ['w0-0', 'w1-0', 'w2-0'],
    );
    assert.equal(crcChecks(log), checks);
    assert.deepEqual(decodeBatches((await log.read(5n)).records)[0]!.values, ['v5-0']);
  });
});
