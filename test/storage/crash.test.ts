import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LogManager } from '../../src/storage/log-manager.ts';
import { decodeBatches, tempDir, valuesBatch } from './helpers.ts';

const fixture = fileURLToPath(new URL('./fixtures/append-until-killed.ts', import.meta.url));

let dataDir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ path: dataDir, cleanup } = await tempDir());
});

afterEach(() => cleanup());

interface Ack {
  partition: number;
  baseOffset: bigint;
  lastOffset: bigint;
  value: string;
}

/** Runs the fixture until it has acknowledged `killAfter` appends, then SIGKILLs it. */
async function runAndKill(killAfter: number): Promise<Ack[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acks: Ack[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout! })) {
    const [kind, partition, base, last, value] = line.split(' ');
    if (kind !== 'ack') continue;
    acks.push({ partition: Number(partition), baseOffset: BigInt(base!), lastOffset: BigInt(last!), value: value! });
    if (acks.length === killAfter) child.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', 'the fixture was killed, it did not exit by itself');
  return acks;
}

describe('kill -9 during appends', () => {
  for (const [round, killAfter] of [
    [1, 1500],
    [2, 4000],
  ] as const) {
    it(`keeps every acknowledged batch (round ${round}, killed after ${killAfter} acks)`, async () => {
      const acks = await runAndKill(killAfter);
      assert.ok(acks.length >= killAfter);

      const manager = await LogManager.open({ dataDir, retentionCheckIntervalMs: 0 });
      try {
        assert.equal(manager.hadCleanShutdown, false);
        for (let partition = 0; partition < 4; partition++) {
          const log = manager.getLog('crash', partition)!;
          // Everything that survived, batch by batch: offsets contiguous from 0, CRCs valid.
          const stored = new Map<bigint, { lastOffset: bigint; value: string }>();
          let offset = 0n;
          while (offset < log.highWatermark) {
            const batches = decodeBatches((await log.read(offset, { maxBytes: 65536 })).records);
            for (const b of batches) {
              assert.equal(b.baseOffset, offset, `no gap before ${b.baseOffset} in partition ${partition}`);
              assert.ok(b.crcValid);
              stored.set(b.baseOffset, { lastOffset: b.lastOffset, value: b.values[0]! });
              offset = b.lastOffset + 1n;
            }
          }
          const acked = acks.filter((a) => a.partition === partition);
          assert.ok(acked.length > 0);
          for (const ack of acked) {
            const found = stored.get(ack.baseOffset);
            assert.deepEqual(
              found,
              { lastOffset: ack.lastOffset, value: ack.value },
              `acknowledged batch at ${ack.baseOffset} of partition ${partition}`,
            );
          }
          // And the log takes appends again right after what survived.
          assert.equal((await log.appendAsLeader(valuesBatch('after', 1))).baseOffset, log.logEndOffset - 1n);
          assert.ok(log.segmentBaseOffsets.length > 1, 'the run crossed segment rolls');
        }
      } finally {
        await manager.close();
      }
    });
  }
});
