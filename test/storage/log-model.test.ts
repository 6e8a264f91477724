import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseLogConfig } from '../../src/storage/config.ts';
import { OffsetOutOfRangeError } from '../../src/storage/errors.ts';
import { Log } from '../../src/storage/log.ts';
import { buildBatch, decodeBatches, tempDir } from './helpers.ts';

/**
 * Random operations on a real log, checked after every step against a model that is just
 * a list of batches. Small segments and index intervals make rolls and index lookups
 * happen all the time; clean and unclean reopens are among the operations.
 */

interface ModelBatch {
  base: bigint;
  last: bigint;
  values: string[];
  maxTimestamp: number;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function runSeed(seed: number, steps: number): Promise<void> {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const { path, cleanup } = await tempDir();
  const config = parseLogConfig({
    'segment.bytes': String(250 + int(800)),
    'index.interval.bytes': String(int(300)),
    'retention.ms': '-1',
  });
  const dir = join(path, 'model-0');
  const openLog = (clean: boolean) => Log.open({ dir, topic: 'model', partition: 0, config, hadCleanShutdown: clean });
  let log = await openLog(false);
  let batches: ModelBatch[] = [];
  let logStartOffset = 0n;
  let logEndOffset = 0n;
  let counter = 0;
  const t0 = 1_700_000_000_000;
  const history: string[] = [];

  const newBatch = (): { bytes: Buffer; values: string[]; maxTimestamp: number } => {
    const count = 1 + int(4);
    const values = Array.from({ length: count }, () => `v${counter++}`);
    const baseTimestamp = t0 + int(100_000);
    const deltas = values.map(() => int(50));
    const bytes = buildBatch(
      values.map((value, i) => ({ value: value + 'x'.repeat(int(40)), timestampDelta: deltas[i]! })),
      { baseTimestamp },
    );
    return { bytes, values, maxTimestamp: baseTimestamp + Math.max(...deltas) };
  };

  try {
    for (let step = 0; step < steps; step++) {
      const op = int(100);
      if (op < 40) {
        // Concurrent appends: offsets follow call order.
        const n = 1 + int(4);
        const made = Array.from({ length: n }, newBatch);
        history.push(`append x${n}`);
        const infos = await Promise.all(made.map((m) => log.appendAsLeader(m.bytes)));
        for (let i = 0; i < n; i++) {
          const m = made[i]!;
          const base = logEndOffset;
          const last = base + BigInt(m.values.length - 1);
          assert.equal(infos[i]!.baseOffset, base);
          batches.push({ base, last, values: m.values, maxTimestamp: m.maxTimestamp });
          logEndOffset = last + 1n;
        }
      } else if (op < 65) {
        const offset = logStartOffset + BigInt(int(Number(logEndOffset - logStartOffset) + 1));
        const maxBytes = 1 + int(600);
        history.push(`read ${offset} ${maxBytes}`);
        const { records } = await log.read(offset, { maxBytes });
        const got = decodeBatches(records);
        const expected = batches.filter((b) => b.last >= offset);
        if (expected.length === 0) {
          assert.equal(got.length, 0);
        } else {
          assert.ok(got.length >= 1, `read at ${offset} returned nothing`);
          assert.ok(got.length === 1 || records.length <= maxBytes);
          for (let i = 0; i < got.length; i++) {
            assert.equal(got[i]!.baseOffset, expected[i]!.base);
            assert.deepEqual(
              got[i]!.values.map((v) => v!.replace(/x*$/, '')),
              expected[i]!.values,
            );
          }
        }
      } else if (op < 72) {
        const offset = logStartOffset + BigInt(int(Number(logEndOffset - logStartOffset) + 1));
        history.push(`deleteRecordsBefore ${offset}`);
        assert.equal(await log.deleteRecordsBefore(offset), offset > logStartOffset ? offset : logStartOffset);
        if (offset > logStartOffset) logStartOffset = offset;
        batches = batches.filter((b) => b.last >= logStartOffset);
      } else if (op < 78) {
        const ts = t0 + int(110_000);
        history.push(`offsetForTimestamp ${ts}`);
        const found = await log.offsetForTimestamp(BigInt(ts));
        const match = batches.find((b) => b.last >= logStartOffset && b.maxTimestamp >= ts);
        if (match === undefined) assert.equal(found, null);
        else {
          assert.equal(found?.offset, match.base < logStartOffset ? logStartOffset : match.base);
          assert.equal(found?.timestamp, BigInt(match.maxTimestamp));
        }
      } else if (op < 83) {
        history.push('roll');
        await log.roll();
      } else if (op < 88 && batches.length > 0) {
        const offset = logStartOffset + BigInt(int(Number(logEndOffset - logStartOffset) + 1));
        history.push(`truncateTo ${offset}`);
        const firstBase = log.segmentBaseOffsets[0]!;
        await log.truncateTo(offset);
        if (offset < logEndOffset) {
          if (offset <= firstBase) {
            batches = [];
            logStartOffset = offset;
            logEndOffset = offset;
          } else {
            const cut = batches.findIndex((b) => b.last >= offset);
            if (cut >= 0) {
              logEndOffset = batches[cut]!.base;
              batches = batches.slice(0, cut);
            }
            if (logStartOffset > logEndOffset) logStartOffset = logEndOffset;
          }
        }
      } else if (op < 94) {
        history.push('reopen clean');
        await log.close();
        log = await openLog(true);
      } else {
        // A crash: the old instance is dropped without close (its files stay open, as they
        // would in a dead process until the kernel closes them).
        history.push('reopen after crash');
        log = await openLog(false);
      }
      assert.equal(log.logEndOffset, logEndOffset, `log end after ${history.slice(-3).join(', ')}`);
      assert.equal(log.highWatermark, logEndOffset);
      assert.equal(log.logStartOffset, logStartOffset, `log start after ${history.slice(-3).join(', ')}`);
      if (logStartOffset > 0n) await assert.rejects(log.read(logStartOffset - 1n), OffsetOutOfRangeError);
    }
    await log.close();
  } catch (err) {
    (err as Error).message += `\n  seed ${seed}, last operations: ${history.slice(-30).join(' | ')}`;
    throw err;
  } finally {
    await cleanup();
  }
}

describe('Log against a model', () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    it(`random operations, seed ${seed}`, () => runSeed(seed, 250));
  }
});
