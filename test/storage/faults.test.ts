import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseLogConfig } from '../../src/storage/config.ts';
import { KafkaStorageError, LogDirOfflineError } from '../../src/storage/errors.ts';
import { FaultyFs } from '../../src/storage/faulty-fs.ts';
import { nodeFs } from '../../src/storage/fs.ts';
import { Log } from '../../src/storage/log.ts';
import { decodeBatches, tempDir, valuesBatch } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let fs: FaultyFs;
const open: Log[] = [];
const segmentPath = () => join(dir, 'orders-0', '00000000000000000000.log');

beforeEach(async () => {
  ({ path: dir, cleanup } = await tempDir());
  fs = new FaultyFs(nodeFs);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((log) => log.close().catch(() => {})));
  await cleanup();
});

async function openLog(overrides: Record<string, string> = {}, withFaults = true): Promise<Log> {
  const log = await Log.open({
    dir: join(dir, 'orders-0'),
    topic: 'orders',
    partition: 0,
    config: parseLogConfig(overrides),
    fs: withFaults ? fs : nodeFs,
  });
  open.push(log);
  return log;
}

async function allValues(log: Log): Promise<string[]> {
  const values: string[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const batches = decodeBatches((await log.read(offset)).records);
    for (const b of batches) values.push(...(b.values as string[]));
    offset = batches.at(-1)!.lastOffset + 1n;
  }
  return values;
}

describe('group commit', () => {
  it('acknowledges concurrent appends in order with far fewer fdatasyncs than appends', async () => {
    const log = await openLog();
    fs.resetCounts();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => log.appendAsLeader(valuesBatch(`p${i}`, 2))),
    );
    assert.deepEqual(
      results.map((r) => r.baseOffset),
      Array.from({ length: 200 }, (_, i) => BigInt(i * 2)),
      'offsets follow the order of the append calls',
    );
    assert.ok(fs.calls.datasync < 20, `${fs.calls.datasync} fdatasyncs for 200 appends`);
    assert.ok(fs.calls.write < 20, `${fs.calls.write} writes for 200 appends`);
    assert.equal(log.highWatermark, 400n);
    const values = await allValues(log);
    assert.equal(values[0], 'p0-0');
    assert.equal(values[399], 'p199-1');
  });

  it('does not acknowledge before fdatasync by default, and never fsyncs per append in page-cache mode', async () => {
    const log = await openLog();
    fs.resetCounts();
    await log.appendAsLeader(valuesBatch('a', 1));
    assert.equal(fs.calls.datasync, 1);

    const cached = await openLogAt('cached-0', { 'flush.messages': '1000' });
    fs.resetCounts();
    for (let i = 0; i < 20; i++) await cached.appendAsLeader(valuesBatch(`c${i}`, 1));
    assert.equal(fs.calls.datasync, 0);
    assert.equal(cached.highWatermark, 20n, 'acknowledged data is readable');
    await cached.flush();
    assert.equal(fs.calls.datasync, 1);
  });

  it('fsyncs in page-cache mode every flush.messages offsets and on the flush.ms timer', async () => {
    const log = await openLogAt('cached-1', { 'flush.messages': '10', 'flush.ms': '50' });
    fs.resetCounts();
    for (let i = 0; i < 5; i++) await log.appendAsLeader(valuesBatch(`c${i}`, 3));
    assert.equal(fs.calls.datasync, 1, 'the append that crossed 10 unflushed offsets synced');
    for (let i = 0; i < 200 && fs.calls.datasync < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fs.calls.datasync, 2, 'the timer flushed the remaining 3 offsets');
    await log.flush();
    assert.equal(fs.calls.datasync, 2, 'nothing was left to flush');
  });
});

describe('the append write', () => {
  it('is synchronous: page-cache appends make no threadpool round trip, synced ones only the fdatasync', async () => {
    const cached = await openLogAt('cached-0', { 'flush.messages': '1000' });
    fs.resetCounts();
    for (let i = 0; i < 10; i++) await cached.appendAsLeader(valuesBatch(`c${i}`, 1));
    assert.deepEqual([fs.calls.write, fs.asyncWrites, fs.calls.datasync], [10, 0, 0]);
    const synced = await openLog();
    fs.resetCounts();
    for (let i = 0; i < 5; i++) await synced.appendAsLeader(valuesBatch(`s${i}`, 1));
    assert.deepEqual([fs.calls.write, fs.asyncWrites, fs.calls.datasync], [5, 0, 5]);
    assert.equal(synced.highWatermark, 5n);
  });

  it('still takes the appends of one event-loop turn in one write', async () => {
    const cached = await openLogAt('cached-0', { 'flush.messages': '1000' });
    fs.resetCounts();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => cached.appendAsLeader(valuesBatch(`c${i}`, 1))),
    );
    assert.deepEqual(
      results.map((r) => r.baseOffset),
      Array.from({ length: 8 }, (_, i) => BigInt(i)),
    );
    assert.equal(fs.calls.write, 1);
    assert.equal(fs.calls.datasync, 0);
  });

  it('FaultyFs fails, tears, shortens, delays and crashes writevSync as it does writev', async () => {
    const path = join(dir, 'file.bin');
    const file = await fs.open(path, 'create');
    fs.resetCounts();
    assert.equal(file.writevSync([Buffer.from('abc'), Buffer.from('def')], 0), 6);
    fs.inject({ op: 'write', errno: 'ENOSPC', tornAfterBytes: 2, short: true });
    assert.equal(file.writevSync([Buffer.from('ghij')], 6), 2, 'a disk filling up part-way: a short count');
    fs.inject({ op: 'write', errno: 'EIO', tornAfterBytes: 1 });
    assert.throws(() => file.writevSync([Buffer.from('ijk')], 8), { code: 'EIO' });
    fs.inject({ op: 'write', path: 'other.bin', errno: 'EIO' });
    fs.inject({ op: 'write', delayMs: 30 });
    const started = performance.now();
    assert.equal(file.writevSync([Buffer.from('!')], 9), 1);
    assert.ok(performance.now() - started >= 25, 'the delay blocks, as a stalled disk would');
    fs.clearFaults();
    fs.crashAfter(0);
    assert.throws(() => file.writevSync([Buffer.from('late')], 10), { code: 'EIO' });
    assert.deepEqual([fs.calls.write, fs.asyncWrites], [5, 0]);
    await file.close();
    assert.equal((await readFile(path)).toString(), 'abcdefghi!');
  });
});

async function openLogAt(name: string, overrides: Record<string, string>): Promise<Log> {
  const [topic, partition] = [name.slice(0, name.lastIndexOf('-')), Number(name.slice(name.lastIndexOf('-') + 1))];
  const log = await Log.open({ dir: join(dir, name), topic, partition, config: parseLogConfig(overrides), fs });
  open.push(log);
  return log;
}

describe('a failed fsync', () => {
  it('rejects the waiting appends, takes the log offline and keeps every acknowledged batch', async () => {
    const offline: LogDirOfflineError[] = [];
    const log = await Log.open({
      dir: join(dir, 'orders-0'),
      topic: 'orders',
      partition: 0,
      fs,
      onOffline: (_log, err) => offline.push(err),
    });
    open.push(log);
    for (let i = 0; i < 5; i++) await log.appendAsLeader(valuesBatch(`acked${i}`, 2));
    fs.inject({ op: 'datasync', path: '.log', errno: 'EIO' });
    const failing = await Promise.allSettled([
      log.appendAsLeader(valuesBatch('lost-a', 1)),
      log.appendAsLeader(valuesBatch('lost-b', 1)),
    ]);
    for (const r of failing) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof LogDirOfflineError, String(r.reason));
      assert.ok(r.reason instanceof KafkaStorageError, 'maps to KAFKA_STORAGE_ERROR');
    }
    assert.ok(log.isOffline);
    assert.equal(offline.length, 1);
    assert.equal(log.highWatermark, 10n, 'the high watermark never covered the unsynced batches');
    await assert.rejects(log.appendAsLeader(valuesBatch('after', 1)), LogDirOfflineError);
    await assert.rejects(log.read(0n), LogDirOfflineError);
    await log.close();
    open.length = 0;

    // A restart recovers: every acknowledged batch is there, appends go on after whatever survived.
    const reopened = await openLog({}, false);
    const values = await allValues(reopened);
    assert.deepEqual(values.slice(0, 10), Array.from({ length: 5 }, (_, i) => [`acked${i}-0`, `acked${i}-1`]).flat());
    const next = await reopened.appendAsLeader(valuesBatch('next', 1));
    assert.equal(next.baseOffset, reopened.logEndOffset - 1n);
  });
});

describe('a failed write', () => {
  it('ENOSPC rejects the append with a storage error, leaves the file as it was and the log online', async () => {
    const log = await openLog();
    await log.appendAsLeader(valuesBatch('a', 2));
    const sizeBefore = (await stat(segmentPath())).size;
    fs.inject({ op: 'write', path: '.log', errno: 'ENOSPC' });
    await assert.rejects(log.appendAsLeader(valuesBatch('full', 3)), (err: unknown) => {
      assert.ok(err instanceof KafkaStorageError);
      assert.ok(!(err instanceof LogDirOfflineError));
      assert.equal(err.errno, 'ENOSPC');
      assert.match(
        err.message,
        /^Cannot append to "orders-0": write to ".*00000000000000000000\.log" failed \(ENOSPC\)$/,
      );
      return true;
    });
    assert.equal((await stat(segmentPath())).size, sizeBefore);
    assert.equal(log.isOffline, false);
    assert.equal(log.logEndOffset, 2n);
    // Space is back: the next append takes the offset the failed one did not get.
    assert.equal((await log.appendAsLeader(valuesBatch('b', 1))).baseOffset, 2n);
    assert.deepEqual(await allValues(log), ['a-0', 'a-1', 'b-0']);
  });

  it('a torn write (part of the bytes, then an error) is cut back off the file', async () => {
    const log = await openLog();
    await log.appendAsLeader(valuesBatch('a', 2));
    const sizeBefore = (await stat(segmentPath())).size;
    fs.inject({ op: 'write', path: '.log', errno: 'EIO', tornAfterBytes: 30 });
    await assert.rejects(log.appendAsLeader(valuesBatch('torn', 3)), KafkaStorageError);
    assert.equal((await stat(segmentPath())).size, sizeBefore);
    fs.inject({ op: 'write', path: '.log', errno: 'ENOSPC', tornAfterBytes: 50, short: true });
    await assert.rejects(log.appendAsLeader(valuesBatch('short', 3)), (err: unknown) => {
      assert.ok(err instanceof KafkaStorageError);
      assert.equal(err.errno, 'ESHORTWRITE');
      return true;
    });
    assert.equal((await stat(segmentPath())).size, sizeBefore);
    assert.equal((await log.appendAsLeader(valuesBatch('b', 1))).baseOffset, 2n);
    await log.close();
    open.length = 0;
    const reopened = await openLog({}, false);
    assert.equal(reopened.recoveredTruncatedBytes, 0);
    assert.deepEqual(await allValues(reopened), ['a-0', 'a-1', 'b-0']);
  });

  it('takes the log offline when the torn bytes cannot be cut off either', async () => {
    const log = await openLog();
    await log.appendAsLeader(valuesBatch('a', 1));
    fs.inject({ op: 'write', path: '.log', errno: 'EIO', tornAfterBytes: 30 });
    fs.inject({ op: 'truncate', path: '.log', errno: 'EIO' });
    await assert.rejects(log.appendAsLeader(valuesBatch('torn', 3)), LogDirOfflineError);
    assert.ok(log.isOffline);
    await log.close();
    open.length = 0;
    const reopened = await openLog({}, false);
    assert.equal(reopened.recoveredTruncatedBytes, 30);
    assert.deepEqual(await allValues(reopened), ['a-0']);
  });

  it('a failed roll rejects the append and leaves the old segment active', async () => {
    const log = await openLog({ 'segment.bytes': '200' });
    await log.appendAsLeader(valuesBatch('a', 3));
    await log.appendAsLeader(valuesBatch('b', 3));
    fs.inject({ op: 'open', path: /0{14}\d{6}\.log$/, errno: 'ENOSPC' });
    await assert.rejects(log.appendAsLeader(valuesBatch('c', 3)), KafkaStorageError);
    assert.equal(log.isOffline, false);
    assert.equal(log.numberOfSegments, 1);
    const next = await log.appendAsLeader(valuesBatch('d', 3));
    assert.equal(next.baseOffset, 6n);
    assert.equal(log.numberOfSegments, 2);
    assert.deepEqual(log.segmentBaseOffsets, [0n, 6n]);
  });
});
