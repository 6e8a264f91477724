import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CompressionCodec } from '../../src/protocol/records/batch-header.ts';
import { KafkaStorageError, LogDirOfflineError } from '../../src/storage/errors.ts';
import { FaultyFs } from '../../src/storage/faulty-fs.ts';
import { nodeFs, type StorageFs } from '../../src/storage/fs.ts';
import type { Log } from '../../src/storage/log.ts';
import { LogManager } from '../../src/storage/log-manager.ts';
import {
  assertSameTable,
  type KeyedRecord,
  keyedBatch,
  readLog,
  tableOf,
  type Workload,
  writeWorkload,
} from './compaction-helpers.ts';
import { tempDir } from './helpers.ts';

const fixture = fileURLToPath(new URL('./fixtures/clean-until-killed.ts', import.meta.url));

let root: string;
let cleanupRoot: () => Promise<void>;
let copies = 0;

before(async () => {
  ({ path: root, cleanup: cleanupRoot } = await tempDir('tributary-compaction-crash-'));
});

after(() => cleanupRoot());

/** A fresh copy of a data directory, as a crashed broker would leave it for the next start. */
async function copyOf(dataDir: string): Promise<string> {
  const copy = join(root, `copy-${copies++}`);
  await cp(dataDir, copy, { recursive: true });
  return copy;
}

function open(dataDir: string, fs: StorageFs = nodeFs, topics: Record<string, Record<string, string>> = {}) {
  return LogManager.open({
    dataDir,
    fs,
    retentionCheckIntervalMs: 0,
    topicConfigs: new Map(Object.entries(topics)),
    cleaner: { enabled: false },
  });
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /\.(cleaned|swap)$/.test(f));
}

/**
 * What a restart must find: valid batches in offset order, the records written at their
 * offsets, the same table, no swap leftovers; and a clean from there ends with one record
 * per key and still the same table.
 */
async function assertRecovered(
  manager: LogManager,
  log: Log,
  written: ReadonlyMap<bigint, KeyedRecord>,
  table: Map<string, string>,
  what: string,
  cleanAgain = true,
): Promise<void> {
  assert.deepEqual(await leftovers(log.dir), [], `${what}: no .cleaned or .swap files after open`);
  const bases = log.segmentBaseOffsets;
  assert.deepEqual(
    bases,
    [...bases].sort((a, b) => (a < b ? -1 : 1)),
    `${what}: segments in order`,
  );
  const { records } = await readLog(log, 4096);
  for (const r of records) {
    const w = written.get(r.offset);
    assert.ok(w && w.key === r.key && w.value === r.value, `${what}: record at offset ${r.offset}`);
  }
  assertSameTable(tableOf(records), table, what);
  if (!cleanAgain) return;
  await manager.cleaner.clean(log);
  const after = (await readLog(log, 4096)).records;
  assertSameTable(tableOf(after), table, `${what}, cleaned again`);
  const keys = after.filter((r) => r.offset < log.segments.at(-1)!.baseOffset).map((r) => r.key);
  assert.equal(new Set(keys).size, keys.length, `${what}: one record per key once cleaned`);
}

describe('a crash at any step of a clean', () => {
  // Segments A..E (rolled by hand), cleaned with segment.bytes 4096: A, B and C make one
  // cleaned segment, D would overflow it. B and C lose all their records (superseded in E),
  // so the swap also replaces them with empty swaps. D and E make a second segment.
  const config = { 'cleanup.policy': 'compact', 'segment.bytes': '4096', 'file.delete.delay.ms': '0' };
  const big = (tag: string) => `${tag}-${'v'.repeat(1500)}`;
  const segments: KeyedRecord[][] = [
    [
      { key: 'x0', value: big('x0') },
      { key: 'x1', value: big('x1') },
    ],
    [
      { key: 'y0', value: 'y0-old' },
      { key: 'w', value: 'w-old' },
    ],
    [{ key: 'y1', value: 'y1-old' }],
    [{ key: 'z0', value: big('z0') }],
    [
      { key: 'y0', value: 'y0-new' },
      { key: 'y1', value: 'y1-new' },
      { key: 'w', value: null },
    ],
  ];
  let template: string;
  const written = new Map<bigint, KeyedRecord>();
  const table = new Map<string, string>();

  before(async () => {
    template = join(root, 'steps-template');
    const manager = await open(template, nodeFs, { steps: config });
    const log = await manager.getOrCreateLog('steps', 0);
    for (const records of segments) {
      const codec = records.length > 2 ? CompressionCodec.Gzip : CompressionCodec.None;
      const info = await log.appendAsLeader(await keyedBatch(records, { compression: codec }));
      for (const [i, r] of records.entries()) written.set(info.baseOffset + BigInt(i), r);
      await log.roll();
    }
    for (const records of segments) {
      for (const r of records) {
        if (r.value === null) table.delete(r.key!);
        else table.set(r.key!, r.value);
      }
    }
    await manager.close();
  });

  it('cleans the scenario as planned', async () => {
    const dir = await copyOf(template);
    const manager = await open(dir, nodeFs, { steps: config });
    const log = manager.getLog('steps', 0)!;
    const stats = await manager.cleaner.clean(log);
    assert.ok(stats);
    assert.equal(stats.segmentsBefore, 5);
    assert.equal(stats.segmentsAfter, 2);
    assert.deepEqual(log.segmentBaseOffsets, [0n, 5n, 9n]);
    await assertRecovered(manager, log, written, table, 'no crash');
    await manager.close();
  });

  it('leaves valid segments, the records at their offsets and the same table, whichever call the crash hits', async () => {
    // Count the calls that change the disk in one clean.
    const dry = new FaultyFs(nodeFs);
    let manager = await open(await copyOf(template), dry, { steps: config });
    dry.resetCounts();
    await manager.cleaner.clean(manager.getLog('steps', 0)!);
    const { open: o, write, datasync, truncate, rename, unlink, syncDir } = dry.calls;
    const steps = o + write + datasync + truncate + rename + unlink + syncDir;
    await manager.close();
    assert.ok(steps > 40, `${steps} steps`);

    let rolledBack = 0;
    let rolledForward = 0;
    for (let k = 0; k < steps; k++) {
      const dir = await copyOf(template);
      const fs = new FaultyFs(nodeFs);
      manager = await open(dir, fs, { steps: config });
      fs.crashAfter(k);
      await manager.cleaner.clean(manager.getLog('steps', 0)!).catch(() => {});
      await manager.close().catch(() => {});
      const left = await leftovers(join(dir, 'steps-0'));
      if (left.some((f) => f.endsWith('.swap')) && !left.some((f) => f.endsWith('.cleaned'))) rolledForward++;
      else if (left.length > 0) rolledBack++;

      const restarted = await open(dir, nodeFs, { steps: config });
      await assertRecovered(
        restarted,
        restarted.getLog('steps', 0)!,
        written,
        table,
        `crash after ${k} of ${steps} calls`,
        k % 4 === 0,
      );
      await restarted.close();
    }
    process.stdout.write(`# ${steps} crash points: ${rolledForward} swaps finished at open, ${rolledBack} undone\n`);
    assert.ok(rolledForward >= 4 && rolledBack >= 4);
  });

  it('a failed write, fsync or rename before the commit point changes nothing and the log stays online', async () => {
    const dir = await copyOf(template);
    const fs = new FaultyFs(nodeFs);
    const manager = await open(dir, fs, { steps: config });
    const log = manager.getLog('steps', 0)!;
    for (const fault of [
      { op: 'write', path: /\.log\.cleaned$/, errno: 'ENOSPC' },
      { op: 'datasync', path: /\.log\.cleaned$/, errno: 'EIO' },
      { op: 'rename', path: /00000000000000000000\.log\.cleaned$/, errno: 'EIO' },
    ] as const) {
      fs.inject(fault);
      await assert.rejects(manager.cleaner.clean(log), KafkaStorageError, `${fault.op} fails the round`);
      assert.equal(log.isOffline, false, `${fault.op}: still online`);
      assert.deepEqual(await leftovers(log.dir), [], `${fault.op}: nothing left behind`);
      assertSameTable(tableOf((await readLog(log)).records), table, `after a failed ${fault.op}`);
    }
    await assertRecovered(manager, log, written, table, 'the next round');
    await manager.close();
  });

  it('a failure after the commit point takes the log offline, and the restart finishes the swap', async () => {
    for (const fault of [
      { op: 'syncDir', errno: 'EIO' },
      { op: 'rename', path: /00000000000000000002\.log$/, errno: 'EIO' },
      { op: 'rename', path: /00000000000000000000\.log\.swap$/, errno: 'EIO' },
    ] as const) {
      const dir = await copyOf(template);
      const fs = new FaultyFs(nodeFs);
      const manager = await open(dir, fs, { steps: config });
      const log = manager.getLog('steps', 0)!;
      fs.inject(fault);
      await assert.rejects(manager.cleaner.clean(log), LogDirOfflineError);
      assert.equal(log.isOffline, true);
      assert.ok(
        (await leftovers(log.dir)).some((f) => f.endsWith('.swap')),
        'the committed swap is on disk',
      );
      await manager.close().catch(() => {});
      const restarted = await open(dir, nodeFs, { steps: config });
      await assertRecovered(restarted, restarted.getLog('steps', 0)!, written, table, `after a failed ${fault.op}`);
      await restarted.close();
    }
  });
});

describe('kill -9 of a process that is cleaning a big log', () => {
  let template: string;
  let workload: Workload;
  const config = {
    'cleanup.policy': 'compact',
    'segment.bytes': '4096',
    'file.delete.delay.ms': '0',
    'delete.retention.ms': '1000',
    'flush.messages': '1000000',
  };

  before(async () => {
    template = join(root, 'kill-template');
    const manager = await open(template, nodeFs, { big: config });
    const log = await manager.getOrCreateLog('big', 0);
    workload = await writeWorkload(log, {
      updates: 50_000,
      keys: 2000,
      batchSize: 100,
      codecs: [CompressionCodec.None, CompressionCodec.Lz4, CompressionCodec.Zstd],
      timestamp: Date.now,
    });
    await log.roll();
    await manager.close();
  });

  /** Runs the fixture on `dir` and SIGKILLs it `delayMs` after the `eventIndex`-th progress line matching `kind`. */
  async function runAndKill(dir: string, kind: RegExp, eventIndex: number, delayMs: number): Promise<string[]> {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    const seen: string[] = [];
    let killing = false;
    for await (const line of createInterface({ input: child.stdout! })) {
      seen.push(line);
      const progress = seen.filter((l) => kind.test(l)).length;
      if (!killing && (progress >= eventIndex || line.startsWith('round 2'))) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    }
    assert.equal(await exited, 'SIGKILL', `the fixture was killed (it printed ${seen.slice(-3).join(' | ')})`);
    return seen;
  }

  it('leaves valid segments and the same table after a kill at random points, and cleaning resumes', async () => {
    const seed = Date.now() % 100_000;
    let state = seed;
    const random = () => {
      state = (state * 48271) % 2147483647;
      return state / 2147483647;
    };
    process.stdout.write(`# kill points seeded with ${seed}\n`);
    for (let round = 0; round < 3; round++) {
      const dir = await copyOf(template);
      // Any progress line, or (every other kill) a few ms into a swap, whose renames the fixture slows down.
      const kind = round % 2 === 0 ? /^(map-built|segment-written|segment-swapped)/ : /^segment-written/;
      const eventIndex = 1 + Math.floor(random() * (round % 2 === 0 ? 30 : 12));
      const delayMs = round % 2 === 0 ? Math.floor(random() * 12) : 4 + Math.floor(random() * 10);
      const seen = await runAndKill(dir, kind, eventIndex, delayMs);
      const left = await leftovers(join(dir, 'big-0'));
      process.stdout.write(
        `# kill ${round}: ${delayMs} ms after ${kind.source} line ${eventIndex} (last: ${seen.at(-1)}), ` +
          `left ${left.join(', ') || 'no swap files'}\n`,
      );
      const manager = await open(dir, nodeFs, { big: config });
      await assertRecovered(manager, manager.getLog('big', 0)!, workload.written, workload.table, `kill ${round}`);
      await manager.close();
    }
  });
});
