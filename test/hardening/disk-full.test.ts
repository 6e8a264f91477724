import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker } from '../../src/broker/start-broker.ts';
import { ErrorCode } from '../../src/protocol/generated/error-codes.ts';
import { batchOf, createTopic, produceRaw, readPartition } from '../broker/data-path/helpers.ts';
import { RawClient } from '../helpers/raw-client.ts';

/** A 4 MiB tmpfs the test can fill, or null where this machine does not let us mount one. */
function smallFilesystem(): { dir: string; grow(mib: number): void; remove(): void } | null {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-smallfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    console.warn(
      `\n*** Cannot mount a small tmpfs (${(err as Error).message.split('\n')[0]}): SKIPPING the real full-disk test ***\n`,
    );
    return null;
  }
  return {
    dir,
    grow: (mib) => execFileSync('mount', ['-o', `remount,size=${mib}m`, dir]),
    remove: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a really full disk: produce gets KAFKA_STORAGE_ERROR, nothing unacknowledged is kept, and writes resume once space is back', async (t) => {
  const fs = smallFilesystem();
  if (fs === null) {
    t.skip('mounting a tmpfs is not allowed here');
    return;
  }
  const broker = await startBroker({ dataDir: join(fs.dir, 'data') });
  const client = await RawClient.connect(broker.port);
  // One hook, in order: the file system can only be unmounted once the broker let go of it.
  t.after(async () => {
    client.close();
    await broker.close();
    fs.remove();
  });
  await createTopic(broker, 'fill', { configs: { 'segment.bytes': String(64 * 1024 * 1024) } });

  const value = Buffer.alloc(16 * 1024, 'x');
  const acknowledged: string[] = [];
  let storageErrors = 0;
  for (let i = 0; i < 1_000 && storageErrors < 3; i++) {
    const key = `k${i}`;
    const response = await produceRaw(client, 'fill', 0, await batchOf([{ key: Buffer.from(key), value }]));
    if (response.errorCode === ErrorCode.NONE) acknowledged.push(key);
    else {
      assert.equal(response.errorCode, ErrorCode.KAFKA_STORAGE_ERROR, `unexpected error ${response.errorCode}`);
      storageErrors++;
    }
  }
  assert.ok(storageErrors > 0, 'the disk never filled');
  assert.ok(acknowledged.length > 10, 'too few writes before the disk filled');

  // Exactly the acknowledged records are there, in order: a failed write left nothing behind.
  const stored = await readPartition(client, 'fill');
  assert.deepEqual(
    stored.map((r) => r.key?.toString()),
    acknowledged,
  );

  // With space back, the same partition takes writes again.
  fs.grow(64);
  const response = await produceRaw(client, 'fill', 0, await batchOf([{ key: Buffer.from('after'), value }]));
  assert.equal(response.errorCode, ErrorCode.NONE);
  const after = await readPartition(client, 'fill');
  assert.equal(after.at(-1)?.key?.toString(), 'after');
  assert.equal(after.length, acknowledged.length + 1);
});
