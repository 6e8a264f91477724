import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CompressionCodec } from '../../src/protocol/records/batch-header.ts';
import { decodeRecordBatches } from '../../src/protocol/records/record-batch.ts';
import { FaultyFs } from '../../src/storage/faulty-fs.ts';
import { nodeFs } from '../../src/storage/fs.ts';
import type { Log } from '../../src/storage/log.ts';
import { LogManager } from '../../src/storage/log-manager.ts';
import { assertSameTable, keyedBatch, readLog, tableOf, type Workload, writeWorkload } from './compaction-helpers.ts';
import { tempDir } from './helpers.ts';

let dataDir: string;
let cleanup: () => Promise<void>;
const managers: LogManager[] = [];

beforeEach(async () => {
  ({ path: dataDir, cleanup } = await tempDir('tributary-compaction-concurrency-'));
});

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close().catch(() => {})));
  await cleanup();
});

async function openManager(
  topics: Record<string, Record<string, string>>,
  fs = nodeFs,
  events?: (kind: string) => void,
): Promise<LogManager> {
  const manager = await LogManager.open({
    dataDir,
    fs,
    retentionCheckIntervalMs: 0,
    topicConfigs: new Map(Object.entries(topics)),
    cleaner: { enabled: false, onEvent: (e) => events?.(e.kind) },
  });
  managers.push(manager);
  return manager;
}

/** Checks one fetch at `offset`: whole CRC-valid batches, the first holding or following `offset`, records as written. */
async function checkedRead(log: Log, offset: bigint, maxBytes: number, workload: Workload): Promise<void> {
  const batches = await decodeRecordBatches((await log.read(offset, { maxBytes })).records, {
    allowPartialTail: false,
  });
  let previous = offset - 1n;
  for (const batch of batches) {
    assert.ok(batch.baseOffset + BigInt(batch.lastOffsetDelta) > previous, `batches in order from ${offset}`);
    for (const r of batch.records) {
      const at = batch.baseOffset + BigInt(r.offsetDelta);
      const written = workload.written.get(at)!;
      assert.equal(r.key?.toString() ?? null, written.key, `key at ${at}`);
      assert.equal(r.value?.toString() ?? null, written.value, `value at ${at}`);
    }
    previous = batch.baseOffset + BigInt(batch.lastOffsetDelta);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

describe('reads and appends while the cleaner runs', () => {
  const config = {
    'cleanup.policy': 'compact',
    'segment.bytes': '4096',
    'file.delete.delay.ms': '0',
    'flush.messages': '1000000',
  };

  it('fetches see valid batches with the records written at their offsets, and full scans the exact table', async () => {
    let swaps = 0;
    const fs = new FaultyFs(nodeFs);
    // Small segments: the cleaned table takes many segments, so there are many swaps to race.
    const manager = await openManager({ reads: { ...config, 'segment.bytes': '1024' } }, fs, (kind) => {
      if (kind === 'segment-swapped') swaps++;
    });
    const log = await manager.getOrCreateLog('reads', 0);
    const workload = await writeWorkload(log, {
      updates: 6000,
      keys: 300,
      batchSize: 50,
      codecs: [CompressionCodec.None, CompressionCodec.Snappy],
      timestamp: Date.now,
    });
    await log.roll();
    // A read of the first segment held up across its swap (its first file read is slow).
    fs.inject({ op: 'read', path: '00000000000000000000.log', delayMs: 150 });
    const heldRead = checkedRead(log, 0n, 4096, workload);

    let cleaning = true;
    const cleaned = manager.cleaner.clean(log).finally(() => {
      cleaning = false;
    });
    let fetches = 0;
    let scans = 0;
    const fetchers = Array.from({ length: 3 }, async () => {
      while (cleaning) {
        const offset = BigInt(Math.floor(Math.random() * 6000));
        await checkedRead(log, offset, 512 + Math.floor(Math.random() * 4096), workload);
        fetches++;
      }
    });
    const scanner = (async () => {
      while (cleaning) {
        assertSameTable(tableOf((await readLog(log, 2048)).records), workload.table, `scan ${scans}`);
        scans++;
      }
    })();
    const stats = await cleaned;
    await Promise.all([heldRead, ...fetchers, scanner]);
    assert.ok(stats && stats.segmentsAfter > 3, 'several swaps');
    assert.ok(swaps > 3 && fetches > 10 && scans > 0, `${swaps} swaps, ${fetches} fetches, ${scans} scans`);
    assertSameTable(tableOf((await readLog(log)).records), workload.table, 'after cleaning');
  });

  it('a fetch in a compaction gap that races a swap continues in the merged segment, not after it', async () => {
    // X = [k1 @0, k2 @1] and Z = [k2 @2, k3 @3], cleaned apart: X keeps only offset 0, so
    // offset 1 is a gap at X's end. Then a second clean merges X, Z and W into one segment
    // based at 0. A fetch at offset 1, in flight on X during that swap, finds nothing in X
    // and must go on in the merged segment (offset 2), not in the one after it.
    const fs = new FaultyFs(nodeFs);
    const manager = await openManager({ gap: { ...config, 'segment.bytes': '200' } }, fs);
    const log = await manager.getOrCreateLog('gap', 0);
    const put = async (key: string, value: string) => log.appendAsLeader(await keyedBatch([{ key, value }]));
    await put('k1', 'x1');
    await put('k2', 'x2-old');
    await log.roll();
    await put('k2', 'x2-new');
    await put('k3', 'z');
    await log.roll();
    await manager.cleaner.clean(log);
    assert.deepEqual(log.segmentBaseOffsets, [0n, 2n, 4n]);
    manager.setTopicConfig('gap', { ...config, 'segment.bytes': '4096' });
    await put('k9', 'w');
    await log.roll();

    // (X's file descriptor was opened under its .cleaned name.)
    fs.inject({ op: 'read', path: /00000000000000000000\.log/, delayMs: 300 });
    const fetch = log.read(1n, { maxBytes: 4096 });
    await new Promise((r) => setTimeout(r, 20));
    await manager.cleaner.clean(log);
    assert.deepEqual(log.segmentBaseOffsets, [0n, 5n], 'X, Z and W were merged while the fetch waited');
    const batches = await decodeRecordBatches((await fetch).records);
    assert.equal(batches[0]?.baseOffset, 2n, 'the fetch resumes at the next offset that exists');
    assert.equal(batches[0]?.records[0]?.value?.toString(), 'x2-new');
  });

  it('measures: cleaning 100k records, and append latency and event-loop delay meanwhile (printed, not asserted)', async () => {
    const manager = await openManager({ table: { ...config, 'segment.bytes': '65536' } });
    const table = await manager.getOrCreateLog('table', 0);
    await writeWorkload(table, {
      updates: 100_000,
      keys: 1000,
      batchSize: 100,
      codecs: [CompressionCodec.None],
      timestamp: Date.now,
    });
    await table.roll();
    // From here on both partitions acknowledge appends after fdatasync (the default).
    const durable = { 'cleanup.policy': 'compact', 'segment.bytes': '65536', 'file.delete.delay.ms': '0' };
    manager.setTopicConfig('table', durable);
    manager.setTopicConfig('live', durable);
    const live = await manager.getOrCreateLog('live', 0);
    const batch = () => keyedBatch([{ key: 'k', value: 'v'.repeat(100) }]);

    /** Appends one batch at a time (acks after fdatasync) to `log` until `until` settles. */
    const appendLoop = async (log: Log, until: Promise<unknown>) => {
      let done = false;
      void until.finally(() => {
        done = true;
      });
      const latencies: number[] = [];
      while (!done) {
        const b = await batch();
        const started = performance.now();
        await log.appendAsLeader(b);
        latencies.push(performance.now() - started);
      }
      return latencies.sort((a, b) => a - b);
    };
    const describe = (name: string, l: number[]) =>
      `${name}: ${l.length} appends, p50 ${percentile(l, 50).toFixed(2)} ms, p99 ${percentile(l, 99).toFixed(2)} ms, ` +
      `max ${l.at(-1)!.toFixed(2)} ms`;

    const idleDelay = monitorEventLoopDelay({ resolution: 1 });
    idleDelay.enable();
    const [baseline, baselineTable] = await Promise.all([
      appendLoop(live, new Promise((r) => setTimeout(r, 1000))),
      appendLoop(table, new Promise((r) => setTimeout(r, 1000))),
    ]);
    idleDelay.disable();
    await table.roll();

    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const cleaning = manager.cleaner.clean(table);
    const [other, same, stats] = await Promise.all([appendLoop(live, cleaning), appendLoop(table, cleaning), cleaning]);
    loopDelay.disable();
    assert.ok(stats && stats.recordsRead >= 100_000);
    process.stdout.write(
      `# cleaned ${stats.recordsRead} records (${stats.bytesRead} bytes, ${stats.segmentsBefore} segments) into ` +
        `${stats.recordsRetained} records (${stats.bytesWritten} bytes, ${stats.segmentsAfter} segments) ` +
        `in ${stats.durationMs.toFixed(0)} ms with ${stats.steps} yields\n` +
        `# ${describe('appends to another partition, no cleaning', baseline)}\n` +
        `# ${describe('appends to the cleaned partition, no cleaning', baselineTable)}\n` +
        `# ${describe('appends to another partition while cleaning', other)}\n` +
        `# ${describe('appends to the cleaned partition while cleaning', same)}\n` +
        `# event-loop delay, idle: p50 ${(idleDelay.percentile(50) / 1e6).toFixed(2)} ms, ` +
        `p99 ${(idleDelay.percentile(99) / 1e6).toFixed(2)} ms, max ${(idleDelay.max / 1e6).toFixed(2)} ms\n` +
        `# event-loop delay while cleaning: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(2)} ms, ` +
        `p99 ${(loopDelay.percentile(99) / 1e6).toFixed(2)} ms, max ${(loopDelay.max / 1e6).toFixed(2)} ms\n`,
    );
  });
});
