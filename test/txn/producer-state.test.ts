/**
 * Producer state in the partition log: sequence checks and de-duplication of idempotent
 * producers, epochs, transactions and the last stable offset, aborted transactions, and
 * all of it surviving a clean restart and a crash (a second open without a close).
 */
import assert from 'node:assert/strict';
import { mkdtemp, open as openFile, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  ControlRecordType,
  createControlBatch,
  createRecordBatch,
  encodeRecordBatchSync,
} from '../../src/protocol/records/index.ts';
import { parseLogConfig } from '../../src/storage/config.ts';
import { Log } from '../../src/storage/log.ts';
import {
  InvalidProducerEpochError,
  InvalidTxnStateError,
  OutOfOrderSequenceError,
} from '../../src/storage/producer-state-errors.ts';

const INT32_MAX = 0x7fffffff;

function batch(
  producerId: bigint,
  producerEpoch: number,
  baseSequence: number,
  count = 1,
  options: { transactional?: boolean; timestamp?: bigint } = {},
): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({
    value: `p${producerId}-e${producerEpoch}-s${baseSequence}-${i}`,
  }));
  return encodeRecordBatchSync(
    createRecordBatch(records, {
      producerId,
      producerEpoch,
      baseSequence,
      isTransactional: options.transactional ?? false,
      timestamp: options.timestamp,
    }),
  );
}

function marker(producerId: bigint, producerEpoch: number, commit: boolean, coordinatorEpoch = 0): Buffer {
  return encodeRecordBatchSync(
    createControlBatch({
      producerId,
      producerEpoch,
      type: commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
      coordinatorEpoch,
    }),
  );
}

describe('producer state in the log', () => {
  let dir: string;
  const logs: Log[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-pstate-'));
  });
  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  async function open(config: Record<string, string> = {}): Promise<Log> {
    const log = await Log.open({ dir: join(dir, 't-0'), topic: 't', partition: 0, config: parseLogConfig(config) });
    logs.push(log);
    return log;
  }
  const append = (log: Log, records: Buffer, origin: 'client' | 'coordinator' = 'client') =>
    log.appendAsLeader(records, { origin });

  it('answers a resent batch with its first offsets and does not write it again', async () => {
    const log = await open();
    assert.equal((await append(log, batch(7n, 0, 0, 3))).baseOffset, 0n);
    assert.equal((await append(log, batch(7n, 0, 3, 2))).baseOffset, 3n);
    const again = await append(log, batch(7n, 0, 0, 3));
    assert.equal(again.baseOffset, 0n);
    assert.equal(again.lastOffset, 2n);
    assert.equal((await append(log, batch(7n, 0, 3, 2))).baseOffset, 3n);
    assert.equal(log.logEndOffset, 5n);
  });

  it('de-duplicates within one group commit, before the first copy is durable', async () => {
    const log = await open();
    const [a, b] = await Promise.all([append(log, batch(8n, 0, 0, 2)), append(log, batch(8n, 0, 0, 2))]);
    assert.equal(a.baseOffset, 0n);
    assert.equal(b.baseOffset, 0n);
    assert.equal(log.logEndOffset, 2n);
  });

  it('remembers the last five batches of a producer', async () => {
    const log = await open();
    for (let i = 0; i < 6; i++) await append(log, batch(9n, 0, i * 2, 2));
    // Batch 1 (sequence 2) is among the last five; batch 0 (sequence 0) is not, and is out of order.
    assert.equal((await append(log, batch(9n, 0, 2, 2))).baseOffset, 2n);
    await assert.rejects(append(log, batch(9n, 0, 0, 2)), OutOfOrderSequenceError);
    assert.equal(log.logEndOffset, 12n);
  });

  it('refuses a sequence gap and an old epoch; a new epoch starts at sequence 0', async () => {
    const log = await open();
    await append(log, batch(10n, 3, 0, 2));
    await assert.rejects(append(log, batch(10n, 3, 5)), OutOfOrderSequenceError);
    await assert.rejects(append(log, batch(10n, 2, 2)), InvalidProducerEpochError);
    await assert.rejects(append(log, batch(10n, 4, 7)), OutOfOrderSequenceError);
    assert.equal((await append(log, batch(10n, 4, 0))).baseOffset, 2n);
    assert.equal(log.logEndOffset, 3n);
  });

  it('wraps the sequence from 2^31-1 to 0', async () => {
    const log = await open();
    // A producer the log has no state for may start anywhere (Kafka since KIP-360).
    await append(log, batch(11n, 0, INT32_MAX - 1, 2));
    assert.equal(log.producerState.entry(11n)!.batches[0]!.lastSeq, INT32_MAX);
    assert.equal((await append(log, batch(11n, 0, 0, 1))).baseOffset, 2n);
    await assert.rejects(append(log, batch(11n, 0, 2)), OutOfOrderSequenceError);
    // A batch that itself crosses the wrap.
    await append(log, batch(12n, 0, INT32_MAX, 3));
    assert.equal(log.producerState.entry(12n)!.batches[0]!.lastSeq, 1);
    assert.equal((await append(log, batch(12n, 0, INT32_MAX, 3))).baseOffset, 3n);
    await append(log, batch(12n, 0, 2));
  });

  it('keeps de-duplication and sequence checks across a clean restart, a crash and rolled segments', async () => {
    let log = await open({ 'segment.bytes': '300' });
    for (let i = 0; i < 8; i++) await append(log, batch(20n, 1, i * 2, 2));
    assert.ok(log.numberOfSegments > 2, 'segments rolled');
    await log.close();
    log = await open({ 'segment.bytes': '300' });
    assert.equal((await append(log, batch(20n, 1, 14, 2))).baseOffset, 14n);
    await assert.rejects(append(log, batch(20n, 1, 20)), OutOfOrderSequenceError);
    await append(log, batch(20n, 1, 16, 2));
    // A crash: the next open finds no snapshot at the log end and replays the tail.
    const crashed = await open({ 'segment.bytes': '300' });
    assert.equal(crashed.logEndOffset, 18n);
    assert.equal((await append(crashed, batch(20n, 1, 16, 2))).baseOffset, 16n);
    await assert.rejects(append(crashed, batch(20n, 1, 19)), OutOfOrderSequenceError);
    assert.ok((await readdir(join(dir, 't-0'))).some((n) => n.endsWith('.snapshot')));
  });

  it('holds the last stable offset at an open transaction, and indexes aborted ones', async () => {
    const log = await open();
    await append(log, batch(1n, 0, 0, 2)); // 0-1, idempotent only
    await append(log, batch(30n, 0, 0, 2, { transactional: true })); // 2-3
    await append(log, batch(31n, 0, 0, 1, { transactional: true })); // 4
    assert.equal(log.highWatermark, 5n);
    assert.equal(log.lastStableOffset, 2n);
    await assert.rejects(append(log, batch(30n, 0, 2)), InvalidTxnStateError);
    await append(log, marker(30n, 0, false), 'coordinator'); // 5: abort
    assert.equal(log.lastStableOffset, 4n);
    await append(log, batch(31n, 0, 1, 1, { transactional: true })); // 6
    await append(log, marker(31n, 0, true), 'coordinator'); // 7: commit
    assert.equal(log.lastStableOffset, 8n);
    assert.deepEqual(log.abortedTransactions(0n, 8n), [
      { producerId: 30n, firstOffset: 2n, lastOffset: 5n, lastStableOffset: 4n },
    ]);
    assert.deepEqual(log.abortedTransactions(6n, 8n), []);
    // A zombie's marker (older epoch) is fenced; a marker for a producer with nothing open closes nothing.
    await append(log, batch(32n, 2, 0, 1, { transactional: true })); // 8
    await assert.rejects(append(log, marker(32n, 1, false), 'coordinator'), InvalidProducerEpochError);
    await append(log, marker(33n, 0, true), 'coordinator');
    assert.equal(log.lastStableOffset, 8n);
  });

  it('rebuilds open and aborted transactions after a restart and after a crash', async () => {
    let log = await open({ 'segment.bytes': '400' });
    await append(log, batch(40n, 0, 0, 2, { transactional: true })); // 0-1
    await append(log, marker(40n, 0, false), 'coordinator'); // 2
    for (let i = 0; i < 4; i++) await append(log, batch(41n, 0, i * 3, 3)); // 3-14
    await append(log, batch(42n, 0, 0, 1, { transactional: true })); // 15
    await append(log, batch(43n, 0, 0, 1, { transactional: true })); // 16
    await append(log, marker(43n, 0, false), 'coordinator'); // 17
    assert.ok(log.numberOfSegments > 1);
    const expected = [
      { producerId: 40n, firstOffset: 0n, lastOffset: 2n, lastStableOffset: 3n },
      { producerId: 43n, firstOffset: 16n, lastOffset: 17n, lastStableOffset: 15n },
    ];
    assert.deepEqual(log.abortedTransactions(0n, 100n), expected);
    assert.equal(log.lastStableOffset, 15n);
    await log.close();
    log = await open({ 'segment.bytes': '400' });
    assert.deepEqual(log.abortedTransactions(0n, 100n), expected);
    assert.equal(log.lastStableOffset, 15n);
    await append(log, batch(44n, 0, 0, 1, { transactional: true })); // 18
    await append(log, marker(44n, 0, false), 'coordinator'); // 19
    const crashed = await open({ 'segment.bytes': '400' });
    assert.equal(crashed.lastStableOffset, 15n);
    assert.deepEqual(crashed.abortedTransactions(18n, 100n), [
      { producerId: 44n, firstOffset: 18n, lastOffset: 19n, lastStableOffset: 15n },
    ]);
    await append(crashed, marker(42n, 0, true), 'coordinator');
    assert.equal(crashed.lastStableOffset, crashed.highWatermark);
  });

  it('opens a log whose damaged sealed segment stops the replay', async () => {
    let log = await open({ 'segment.bytes': '300' });
    for (let i = 0; i < 8; i++) await append(log, batch(60n, 0, i * 2, 2));
    await log.close();
    const partDir = join(dir, 't-0');
    const names = await readdir(partDir);
    // No snapshot: the whole log is replayed, through the damage in the first segment.
    for (const name of names.filter((n) => n.endsWith('.snapshot'))) await unlink(join(partDir, name));
    const file = await openFile(join(partDir, names.find((n) => n.endsWith('.log'))!), 'r+');
    await file.write(Buffer.alloc(8, 0xff), 0, 8, 8);
    await file.close();
    log = await open({ 'segment.bytes': '300' });
    assert.equal(log.logEndOffset, 16n);
  });

  it('answers aborted-transaction lookups like a scan of every entry, for random interleavings', async () => {
    // mulberry32: a small seeded generator, so a failure replays.
    let seed = 42;
    const random = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) % n;
    };
    let log = await open({ 'segment.bytes': '2000' });
    const producers = Array.from({ length: 6 }, (_, i) => ({ id: BigInt(70 + i), seq: 0, open: false }));
    for (let step = 0; step < 300; step++) {
      const p = producers[random(producers.length)]!;
      if (p.open && random(3) === 0) {
        await append(log, marker(p.id, 0, random(2) === 0), 'coordinator');
        p.open = false;
      } else {
        await append(log, batch(p.id, 0, p.seq, 1, { transactional: true }));
        p.seq++;
        p.open = true;
      }
      if (step === 150) {
        await log.close();
        log = await open({ 'segment.bytes': '2000' });
      }
    }
    const all = log.abortedTransactions(-1n, 2n ** 62n);
    assert.ok(all.length > 10, `only ${all.length} aborted transactions`);
    const end = log.logEndOffset;
    for (let i = 0; i < 200; i++) {
      const from = BigInt(random(Number(end)));
      const to = from + BigInt(random(40));
      const expected = all.filter((t) => t.lastOffset >= from && t.firstOffset < to);
      assert.deepEqual(log.abortedTransactions(from, to), expected, `[${from}, ${to})`);
    }
    const reopened = await open({ 'segment.bytes': '2000' });
    assert.deepEqual(reopened.abortedTransactions(-1n, 2n ** 62n), all);
  });

  it('expires idle producers without an open transaction', async () => {
    const log = await open();
    const old = BigInt(Date.now() - 10_000);
    await append(log, batch(50n, 0, 0, 1, { timestamp: old }));
    await append(log, batch(51n, 0, 0, 1, { timestamp: old, transactional: true }));
    await append(log, batch(52n, 0, 0, 1));
    assert.equal(await log.removeExpiredProducers(Date.now(), 5_000), 1);
    assert.equal(log.producerState.entry(50n), undefined);
    assert.ok(log.producerState.entry(51n));
    assert.ok(log.producerState.entry(52n));
    // Forgotten, so any sequence is accepted again.
    await append(log, batch(50n, 0, 42));
  });
});
