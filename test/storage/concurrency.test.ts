import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseLogConfig } from '../../src/storage/config.ts';
import { FaultyFs } from '../../src/storage/faulty-fs.ts';
import { nodeFs } from '../../src/storage/fs.ts';
import { Log } from '../../src/storage/log.ts';
import { decodeBatches, tempDir, valuesBatch } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let fs: FaultyFs;

beforeEach(async () => {
  ({ path: dir, cleanup } = await tempDir());
  fs = new FaultyFs(nodeFs);
});

afterEach(() => cleanup());

function openLog(overrides: Record<string, string>, hadCleanShutdown = false): Promise<Log> {
  return Log.open({
    dir: join(dir, 'orders-0'),
    topic: 'orders',
    partition: 0,
    config: parseLogConfig(overrides),
    fs,
    hadCleanShutdown,
  });
}

describe('concurrent reads', () => {
  it('a read in flight finishes on a segment that DeleteRecords removes meanwhile', async () => {
    const config = { 'segment.bytes': '400' };
    let log = await openLog(config);
    for (let i = 0; i < 20; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 2));
    await log.close();
    // Reopened, the sealed segments open their files and indexes only when first read.
    log = await openLog(config, true);
    fs.inject({ op: 'readFile', path: '00000000000000000000.index', delayMs: 100 });
    const reading = log.read(0n);
    const lowWatermark = await log.deleteRecordsBefore(30n);
    assert.equal(lowWatermark, 30n);
    assert.ok(log.segmentBaseOffsets[0]! > 0n, 'the first segment is gone from the log');
    const { records } = await reading;
    assert.deepEqual(decodeBatches(records)[0]!.values, ['v0-0', 'v0-1']);
    // Once the read let go, the renamed files are removed.
    await new Promise((r) => setTimeout(r, 50));
    const leftovers = (await readdir(join(dir, 'orders-0'))).filter((n) => n.startsWith('00000000000000000000.'));
    assert.deepEqual(leftovers, []);
    await log.close();
  });

  it('readers racing appends only ever see whole, CRC-valid batches in offset order', async () => {
    const log = await openLog({ 'segment.bytes': '3000', 'index.interval.bytes': '200' });
    let writing = true;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 40; i++) await log.appendAsLeader(valuesBatch(`w${w}-${i}`, 1 + (i % 4)));
    });
    const readers = Array.from({ length: 4 }, async (_, r) => {
      let reads = 0;
      while (writing) {
        const isolation = r % 2 === 0 ? 'high-watermark' : 'log-end';
        const end = isolation === 'high-watermark' ? log.highWatermark : log.logEndOffset;
        const offset = BigInt(Math.floor(Math.random() * Number(end + 1n)));
        const { records } = await log.read(offset, { maxBytes: 700, isolation });
        let expected: bigint | null = null;
        for (const batch of decodeBatches(records)) {
          assert.ok(batch.crcValid);
          if (expected === null) assert.ok(batch.baseOffset <= offset && batch.lastOffset >= offset);
          else assert.equal(batch.baseOffset, expected);
          expected = batch.lastOffset + 1n;
        }
        reads++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return reads;
    });
    await Promise.all(writers);
    writing = false;
    const reads = await Promise.all(readers);
    assert.ok(reads.every((n) => n > 0));
    assert.ok(log.numberOfSegments > 3);
    await log.close();
  });

  it('appends that arrive during a slow fdatasync share the next one', async () => {
    const log = await openLog({});
    await log.appendAsLeader(valuesBatch('first', 1));
    fs.resetCounts();
    fs.inject({ op: 'datasync', delayMs: 60 });
    const first = log.appendAsLeader(valuesBatch('slow', 1));
    await new Promise((r) => setTimeout(r, 10));
    const during = Array.from({ length: 10 }, (_, i) => log.appendAsLeader(valuesBatch(`d${i}`, 1)));
    await Promise.all([first, ...during]);
    assert.equal(fs.calls.datasync, 2, 'one for the slow append, one shared by the ten that waited');
    assert.equal(fs.calls.write, 2);
    await log.close();
  });
});
