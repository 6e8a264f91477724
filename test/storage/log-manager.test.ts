import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { InvalidConfigError, LogDirOfflineError } from '../../src/storage/errors.ts';
import { FaultyFs } from '../../src/storage/faulty-fs.ts';
import { nodeFs } from '../../src/storage/fs.ts';
import { LogManager, type LogManagerOptions } from '../../src/storage/log-manager.ts';
import { decodeBatches, ManualClock, tempDir, valuesBatch } from './helpers.ts';

let dataDir: string;
let cleanup: () => Promise<void>;
const managers: LogManager[] = [];

beforeEach(async () => {
  ({ path: dataDir, cleanup } = await tempDir());
});

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close().catch(() => {})));
  await cleanup();
});

async function openManager(opts: Partial<LogManagerOptions> = {}): Promise<LogManager> {
  const manager = await LogManager.open({ dataDir, retentionCheckIntervalMs: 0, ...opts });
  managers.push(manager);
  return manager;
}

async function closeManager(manager: LogManager): Promise<void> {
  await manager.close();
  managers.splice(managers.indexOf(manager), 1);
}

describe('LogManager', () => {
  it('reopens 1,000 partitions in parallel with their data, trusting indexes after a clean close', async () => {
    let manager = await openManager();
    const partitions = 1000;
    await Promise.all(
      Array.from({ length: partitions }, async (_, p) => {
        const log = await manager.getOrCreateLog('events', p);
        await log.appendAsLeader(valuesBatch(`p${p}`, (p % 3) + 1));
      }),
    );
    await closeManager(manager);
    assert.ok((await readdir(dataDir)).includes('.clean-shutdown'));

    const started = performance.now();
    manager = await openManager();
    const elapsed = performance.now() - started;
    assert.equal(manager.hadCleanShutdown, true);
    assert.equal(manager.allLogs().length, partitions);
    for (const p of [0, 1, 2, 500, 999]) {
      const log = manager.getLog('events', p)!;
      assert.equal(log.logEndOffset, BigInt((p % 3) + 1));
      assert.equal(decodeBatches((await log.read(0n)).records)[0]!.values[0], `p${p}-0`);
    }
    assert.ok(!(await readdir(dataDir)).includes('.clean-shutdown'), 'marker removed before any write');
    // Informational only (timings are for bench/, not assertions).
    process.stdout.write(`# opened ${partitions} partitions in ${elapsed.toFixed(0)} ms\n`);
  });

  it('knows an unclean stop: no marker, so the tails are recovered', async () => {
    const manager = await openManager();
    const log = await manager.getOrCreateLog('orders', 0);
    await log.appendAsLeader(valuesBatch('a', 2));
    // No close: the process "dies" here.
    managers.length = 0;
    const again = await openManager();
    assert.equal(again.hadCleanShutdown, false);
    assert.equal(again.getLog('orders', 0)!.logEndOffset, 2n);
  });

  it('deletes a partition by renaming it to .deleted and removing it in the background', async () => {
    const manager = await openManager();
    const log = await manager.getOrCreateLog('orders', 3);
    await log.appendAsLeader(valuesBatch('a', 1));
    const pending = log.appendAsLeader(valuesBatch('b', 1));
    assert.equal(await manager.deleteLog('orders', 3), true);
    assert.equal((await pending).baseOffset, 1n, 'an append queued before the delete still completes');
    assert.equal(manager.getLog('orders', 3), undefined);
    await manager.backgroundDeletesSettled();
    assert.deepEqual(await readdir(dataDir), []);
    const fresh = await manager.getOrCreateLog('orders', 3);
    assert.equal(fresh.logEndOffset, 0n);
    assert.equal(await manager.deleteLog('orders', 9), false);
  });

  it('removes deleted partition directories left by a crash when it starts', async () => {
    await mkdir(join(dataDir, 'orders-0.1a2b3c4d.deleted'), { recursive: true });
    await writeFile(join(dataDir, 'orders-0.1a2b3c4d.deleted', '00000000000000000000.log'), 'x');
    await writeFile(join(dataDir, 'topics.json'), '{}');
    const manager = await openManager();
    await manager.backgroundDeletesSettled();
    assert.deepEqual(await readdir(dataDir), ['topics.json']);
    assert.equal(manager.allLogs().length, 0);
  });

  it('applies topic config changes to open logs at runtime and refuses bad values', async () => {
    const manager = await openManager({ topicConfigs: new Map([['orders', { 'segment.bytes': '1000000' }]]) });
    const log = await manager.getOrCreateLog('orders', 0);
    const other = await manager.getOrCreateLog('payments', 0);
    assert.equal(log.config['segment.bytes'], 1000000);
    assert.equal(other.config['segment.bytes'], 1073741824);
    for (let i = 0; i < 5; i++) await log.appendAsLeader(valuesBatch(`a${i}`, 3));
    assert.equal(log.numberOfSegments, 1);
    manager.setTopicConfig('orders', { 'segment.bytes': '200' });
    for (let i = 0; i < 5; i++) await log.appendAsLeader(valuesBatch(`b${i}`, 3));
    assert.ok(log.numberOfSegments > 2);
    assert.throws(() => manager.setTopicConfig('orders', { 'segment.bytes': 'big' }), InvalidConfigError);
    assert.throws(() => manager.setTopicConfig('orders', { 'no.such.key': '1' }), InvalidConfigError);
    assert.equal(log.config['segment.bytes'], 200);
    assert.deepEqual(manager.topicOverrides('orders'), { 'segment.bytes': '200' });
  });

  it('runs retention on its timer', async () => {
    const clock = new ManualClock();
    const manager = await openManager({
      clock: clock.read,
      retentionCheckIntervalMs: 10,
      topicConfigs: new Map([['logs', { 'retention.ms': '1000', 'segment.bytes': '200' }]]),
    });
    const log = await manager.getOrCreateLog('logs', 0);
    for (let i = 0; i < 6; i++) await log.appendAsLeader(valuesBatch(`v${i}`, 3, clock.now));
    const segments = log.numberOfSegments;
    assert.ok(segments > 2);
    clock.advance(5000);
    await log.appendAsLeader(valuesBatch('fresh', 3, clock.now));
    for (let i = 0; i < 300 && log.numberOfSegments > 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(log.numberOfSegments, 1);
    assert.equal(log.logStartOffset, 18n);
  });

  it('takes the whole directory offline when one log fails to fsync, and then writes no clean marker', async () => {
    const fs = new FaultyFs(nodeFs);
    const offline: LogDirOfflineError[] = [];
    const manager = await openManager({ fs, onOffline: (err) => offline.push(err) });
    const a = await manager.getOrCreateLog('a', 0);
    const b = await manager.getOrCreateLog('b', 0);
    fs.inject({ op: 'datasync', path: /\/a-0\//, errno: 'EIO' });
    await assert.rejects(a.appendAsLeader(valuesBatch('x', 1)), LogDirOfflineError);
    assert.equal(offline.length, 1);
    assert.ok(manager.isOffline);
    await assert.rejects(b.appendAsLeader(valuesBatch('y', 1)), LogDirOfflineError);
    await assert.rejects(manager.getOrCreateLog('c', 0), LogDirOfflineError);
    await closeManager(manager);
    assert.ok(!(await readdir(dataDir)).includes('.clean-shutdown'));
    const again = await openManager();
    assert.equal(again.hadCleanShutdown, false);
    assert.equal(again.getLog('b', 0)!.logEndOffset, 0n);
  });
});
